#!/usr/bin/env bash
# Make a Docker engine and a local base image available (CI, or a fresh root machine):
# install docker.io when dockerd is missing, start dockerd when no daemon answers, then build
# (or re-import from its cached tarball) the local base image with scripts/docker-base.sh.
# Idempotent and quick when everything is already there. Needs root for the first two steps.
#
# Prints the PID of a dockerd it started on stdout (nothing when one was already running), so
# the caller can stop it afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v dockerd >/dev/null 2>&1; then
  echo "installing docker.io ..." >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
fi
if ! docker info >/dev/null 2>&1; then
  echo "starting dockerd ..." >&2
  log="${TMPDIR:-/tmp}/bugfoundry-dockerd.log"
  setsid dockerd >"$log" 2>&1 < /dev/null &
  pid=$!
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  if ! docker info >/dev/null 2>&1; then
    echo "dockerd did not come up; its log says:" >&2
    tail -n 5 "$log" >&2
    exit 1
  fi
  echo "$pid"
fi
bash scripts/docker-base.sh "${BUGFOUNDRY_DOCKER_BASE:-bugfoundry-base:bookworm}" >&2
