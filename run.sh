#!/usr/bin/env bash
# The main job: set up, forge and validate the embedded sample repo into ./.bugfoundry,
# then (on a terminal) open the TUI on the result.
# Extra arguments go to `bugfoundry forge` (e.g. ./run.sh --max 100 --workers 4).
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/bootstrap.sh
bf=.venv/bin/bugfoundry
$bf repo add data/sample.bundle --name sample
$bf forge sample --strategy procedural,pr_mirror,combine "$@"
$bf status
# On a terminal, end in the curation workbench showing what was just forged.
if [ -t 0 ] && [ -t 1 ]; then exec $bf tui; fi
