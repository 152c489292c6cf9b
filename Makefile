.PHONY: demo test bootstrap bench lint report-shots fuzz

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

# Coverage-guided fuzzing of the sans-I/O layers (atheris): each target in its own
# process, FUZZ_RUNS inputs each; inputs found and crashes go to out/fuzz/TARGET/.
FUZZ_RUNS ?= 100000
FUZZ_TARGETS ?= framer core txn condition records log_file cluster_records raft
fuzz: bootstrap
	@mkdir -p out/fuzz; for t in $(FUZZ_TARGETS); do \
	  echo "== fuzz $$t"; \
	  nice -n 10 .venv/bin/python -m tests.fuzz.run $$t -runs=$(FUZZ_RUNS) > out/fuzz/$$t.log 2>&1; rc=$$?; \
	  grep -E "DONE|stat::|Uncaught|Error" out/fuzz/$$t.log | tail -8; \
	  [ $$rc -eq 0 ] || { echo "fuzz $$t: crash, see out/fuzz/$$t.log"; exit 1; }; \
	done
