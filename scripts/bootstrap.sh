#!/usr/bin/env bash
# Create or refresh ./.venv with bugfoundry and its dev tools; cheap when nothing changed.
# An argument names the extras (default: dev). ./test.sh asks for dev,ray so CI runs the Ray
# tests; ./run.sh takes the default and never needs Ray. scripts/pins.txt pins what is installed.
set -euo pipefail
cd "$(dirname "$0")/.."

pick_python() {
  for py in "${PYTHON:-}" python3.12 python3.11 python3 python; do
    [ -n "$py" ] || continue
    if command -v "$py" >/dev/null 2>&1 &&
       "$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      echo "$py"; return 0
    fi
  done
  echo "bugfoundry needs Python >= 3.11 (set PYTHON=/path/to/python3.11)" >&2
  return 1
}

extras="${1:-dev}"
case "$extras" in
  *[!a-z,]*|"") echo "bootstrap.sh: extras are names separated by commas, got '$extras'" >&2; exit 2 ;;
esac
pins=scripts/pins.txt
# The stamp holds what is installed: a digest of the project and its pins, then the extras.
# A venv with more extras than asked is fine (./run.sh after ./test.sh does not reinstall).
stamp=".venv/.bugfoundry-installed"
digest="$(cat pyproject.toml "$pins" | sha256sum | cut -c1-16)"
[ -f "$stamp" ] && read -r had_digest had_extras < "$stamp" || true
all="$(echo "${had_extras:-},$extras" | tr ',' '\n' | grep -v '^$' | sort -u | paste -sd, -)"
if [ ! -x .venv/bin/python ] || [ "${had_digest:-}" != "$digest" ] ||
   [ "$all" != "${had_extras:-}" ]; then
  py="$(pick_python)"
  [ -x .venv/bin/python ] || "$py" -m venv .venv
  echo "installing bugfoundry[$all] into .venv ..." >&2
  log=.venv/bootstrap.log
  check='import engine, duckdb, libcst, textual'
  case ",$all," in *,ray,*) check="$check, ray" ;; esac
  if ! .venv/bin/python -m pip install -c "$pins" -e ".[$all]" >"$log" 2>&1 ||
     ! .venv/bin/python -c "$check"; then
    echo "installing bugfoundry failed; the installer said:" >&2
    grep -v 'is ignored' "$log" | tail -n 15 >&2
    exit 1
  fi
  echo "$digest $all" > "$stamp"
fi
