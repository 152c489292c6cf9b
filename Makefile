.PHONY: demo test bootstrap bench lint

demo: bootstrap
	.venv/bin/crucible demo

test:
	ci/test.sh

bootstrap:
	ci/bootstrap.sh

bench: bootstrap
	.venv/bin/python -m bench

lint: bootstrap
	.venv/bin/ruff check .
