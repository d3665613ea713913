"""The real downstream clients, each installed from PyPI (pinned) into a venv of its own.

Built once per machine with uv (bugfoundry's own dependency) under the tests' cache, so a
rerun installs nothing; the harness tests run them as a user would, in subprocesses.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from engine.environments.venv import find_uv

CACHE = Path(os.environ.get("BUGFOUNDRY_TEST_CACHE", Path.home() / ".cache" / "bugfoundry-tests"))
# swesmith 0.0.9 imports modules that only swebench 4.x has: it shares swebench 4's venv.
CLIENTS: dict[str, list[str]] = {
    "swebench5": ["swebench==5.0.2", "datasets==5.2.0"],
    "swebench4": ["swebench==4.1.0", "swesmith[validate]==0.0.9", "datasets==5.2.0"],
    "mini": ["mini-swe-agent==2.4.6", "datasets==5.2.0"],
}


def client(name: str) -> Path:
    """The venv's ``bin`` directory for client ``name``, installed on first use."""
    pins = CLIENTS[name]
    key = hashlib.sha256(" ".join(pins).encode()).hexdigest()[:10]
    root = CACHE / "clients" / f"{name}-{key}"
    stamp = root / ".installed"
    if stamp.is_file():
        return root / "bin"
    uv = find_uv()
    assert uv, "uv is a bugfoundry dependency and must be installed"
    shutil.rmtree(root, ignore_errors=True)
    env = {**os.environ, "UV_CACHE_DIR": str(CACHE / "uv")}
    subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(root)], check=True,
                   env=env)
    res = subprocess.run([uv, "pip", "install", "-q", "--python", str(root / "bin" / "python"),
                          *pins], env=env, capture_output=True, text=True)
    assert res.returncode == 0, f"installing {pins} failed: {res.stderr[-2000:]}"
    stamp.write_text(" ".join(pins) + "\n")
    return root / "bin"
