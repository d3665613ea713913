#!/usr/bin/env bash
# The whole test suite: set up, lint, type-check, then unit + integration tests on real repos.
# Extra arguments go to pytest (e.g. ./test.sh -m "not integration").
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/bootstrap.sh dev,ray  # the Ray tests run here (CI too); ./run.sh needs no Ray
.venv/bin/ruff check engine tui tests bench
.venv/bin/mypy  # engine/ and tui/, configured in pyproject.toml [tool.mypy]
.venv/bin/python -m pytest -ra --durations=30 "$@"  # the 30 slowest: where CI time goes
