#!/usr/bin/env bash
# The main job: set up, then forge and validate the embedded sample repo into ./.bugfoundry.
# Extra arguments go to `bugfoundry forge` (e.g. ./run.sh --max 100 --workers 4).
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/bootstrap.sh
bf=.venv/bin/bugfoundry
$bf repo add data/sample.bundle --name sample
$bf forge sample --strategy procedural "$@"
$bf status
