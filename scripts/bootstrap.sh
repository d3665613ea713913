#!/usr/bin/env bash
# Create or refresh ./.venv with bugfoundry and its dev tools; cheap when nothing changed.
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

stamp=".venv/.bugfoundry-installed"
want="$(cat pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  py="$(pick_python)"
  [ -x .venv/bin/python ] || "$py" -m venv .venv
  echo "installing bugfoundry into .venv ..." >&2
  log=.venv/bootstrap.log
  if ! .venv/bin/python -m pip install -e '.[dev]' >"$log" 2>&1 ||
     ! .venv/bin/python -c 'import engine, duckdb, libcst, textual'; then
    echo "installing bugfoundry failed; the installer said:" >&2
    grep -v 'is ignored' "$log" | tail -n 15 >&2
    exit 1
  fi
  echo "$want" > "$stamp"
fi
