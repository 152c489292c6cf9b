.PHONY: demo test bootstrap bench lint report-shots

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

# The report's layout, seen: screenshots of the demo, a failing register run and a
# failing monitor run (headless Chromium) in out/report-shots/*.png; look at them.
report-shots: bootstrap
	.venv/bin/python -m harness.screenshots out/report-shots
