#!/usr/bin/env bash
# The whole CI test run: set-up, lint, then every test (TLC models, differential suites,
# harness campaigns).  Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
ci/bootstrap.sh
.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
