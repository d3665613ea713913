#!/usr/bin/env bash
# Build a local Python base image for the Docker backend when no image registry is reachable:
# a Debian bookworm root file system (debootstrap, minbase + python3, python3-venv, git)
# imported with `docker import`. The root file system tarball is cached, so a machine whose
# Docker data was wiped re-imports it in seconds instead of bootstrapping again.
#
#   bash scripts/docker-base.sh [IMAGE]      (default: bugfoundry-base:bookworm)
#
# Mirror: $DEBOOTSTRAP_MIRROR, else the first Debian URI in this machine's apt sources,
# else debootstrap's own default. Cache: $BUGFOUNDRY_BASE_CACHE or ~/.cache/bugfoundry-tests.
set -euo pipefail
image="${1:-bugfoundry-base:bookworm}"
cache="${BUGFOUNDRY_BASE_CACHE:-$HOME/.cache/bugfoundry-tests}"
tarball="$cache/docker-base-bookworm.tar"

if docker image inspect "$image" >/dev/null 2>&1; then
  echo "base image $image is present" >&2
  exit 0
fi
mkdir -p "$cache"
if [ ! -s "$tarball" ]; then
  command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap >/dev/null
  mirror="${DEBOOTSTRAP_MIRROR:-}"
  if [ -z "$mirror" ]; then
    mirror="$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
      awk '/^URIs:/ {for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) {print $i; exit}}')"
  fi
  if [ -z "$mirror" ]; then
    mirror="$(awk '$1 == "deb" && $3 == "bookworm" {print $2; exit}' /etc/apt/sources.list \
      2>/dev/null || true)"
  fi
  root="$(mktemp -d "${TMPDIR:-/tmp}/bf-rootfs.XXXXXX")"
  trap 'rm -rf "$root"' EXIT
  echo "bootstrapping a Debian bookworm root file system (a few minutes) ..." >&2
  # shellcheck disable=SC2086
  if ! debootstrap --variant=minbase --include=python3,python3-venv,git bookworm "$root" \
      $mirror >"$cache/debootstrap.log" 2>&1; then
    echo "debootstrap failed; see $cache/debootstrap.log" >&2
    tail -n 5 "$cache/debootstrap.log" >&2
    exit 1
  fi
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -c . >"$tarball.part"
  mv "$tarball.part" "$tarball"
fi
echo "importing $tarball as $image ..." >&2
docker import --change 'ENV LANG=C.UTF-8' --change 'CMD ["/bin/bash"]' "$tarball" "$image" >/dev/null
echo "base image $image is ready" >&2
