"""The per-test hang limits as files the test processes read (``$BUGFOUNDRY_LIMITS``).

One file per budget scale (a retry alone doubles every limit), written on first use in the
environment's scratch directory, where a sandboxed run can read it, and removed when the
validator closes. The limits themselves are ``grading.hang_limits`` (pure).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from pathlib import Path

from engine.environments.base import Environment
from engine.models import Baseline, Hang
from engine.validation.grading import ValidationConfig, hang_limits

NOT_RETRIED = "not retried"  # in the detail of a per-test hang (one test far past its time)


def hang_detail(hung: Hang, done: int) -> str:
    """The verdict's detail for a run the per-test watch stopped."""
    if hung.cpu is not None:
        ran = (f"{hung.nodeid} used {hung.cpu:.2f} s of CPU in {hung.seconds:.1f} s "
               f"(baseline {hung.baseline:.2g} s, per-test CPU limit {hung.limit:.2f} s)")
    else:
        ran = (f"{hung.nodeid} ran {hung.seconds:.1f} s (baseline {hung.baseline:.2g} s, "
               f"per-test limit {hung.limit:.1f} s)")
    return (f"{ran}; {done} tests had already failed; "
            f"{NOT_RETRIED}: a test this far past its own time hangs")


class LimitFiles:
    """The limits file for the current budget scale; None when the watch is off."""

    def __init__(self, baseline: Baseline, config: ValidationConfig, workers: int,
                 env: Environment) -> None:
        self.baseline, self.config, self.workers, self.env = baseline, config, workers, env
        self._files: dict[float, Path] = {}
        self._lock = threading.Lock()

    def current(self) -> Path | None:
        """Load counts workers per core (tests slow down when more share a core)."""
        scale = self.config.scale
        with self._lock:
            path = self._files.get(scale)
            if path is None:
                limits = hang_limits(self.baseline, self.config,
                                     self.workers / (os.cpu_count() or 1))
                if not limits.tests:
                    return None
                fd, name = tempfile.mkstemp(prefix="bf-limits-", suffix=".json",
                                            dir=self.env.scratch_dir)
                os.close(fd)
                limits.write(name)
                path = self._files[scale] = Path(name)
        return path

    def remove(self) -> None:
        with self._lock:
            for path in self._files.values():
                with contextlib.suppress(OSError):
                    path.unlink()
            self._files.clear()
