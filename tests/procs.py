"""Find processes a test started, by a unique marker in their command line or environment
(pids printed inside a sandbox are those of its pid namespace, not the host's)."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path


def new_marker() -> str:
    return f"bfmark{uuid.uuid4().hex[:12]}"


def marked(marker: str) -> list[int]:
    """Live (non-zombie) processes whose argv or environment contains ``marker``."""
    found = []
    needle = marker.encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            state = (entry / "stat").read_text().rsplit(")", 1)[-1].split()[0]
            if state == "Z":
                continue
            if needle in (entry / "cmdline").read_bytes() or needle in (
                    entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def wait_gone(marker: str, seconds: float = 5.0) -> list[int]:
    """Wait up to ``seconds`` for every marked process to die; the ones still alive."""
    deadline = time.monotonic() + seconds
    alive = marked(marker)
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = marked(marker)
    return alive
