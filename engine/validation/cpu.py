"""Where a validator's CPU goes: forked test children, fresh test processes, confirming runs,
fork servers, the engine itself (for ``bench/validate.py``'s split of the hot way's CPU).

CPU is ``getrusage`` of this process and its reaped children, so a phase measured around a
call is exact only while nothing else runs (one worker); with more workers the phases overlap
and the split is indicative. A forked child is reaped by its server, not by us: its CPU comes
from the server's reply and is added by name. A server's own CPU (start-up, collection, the
forks) reaches us when it is reaped, at ``close``.
"""

from __future__ import annotations

import resource
import threading
from collections.abc import Iterator
from contextlib import contextmanager


def process_cpu() -> float:
    """CPU seconds of this process and every child it has reaped (user + system)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


class CpuSplit:
    """CPU seconds per phase name (thread-safe sums; a name starting with ``_`` is internal
    bookkeeping, left out of ``snapshot``)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        # phase -> test -> times run: the tests a phase ran, for its floor (bench/validate.py)
        self.tests: dict[str, dict[str, int]] = {}
        self._lock = threading.Lock()

    def ran(self, phase: str, tests: dict[str, int]) -> None:
        with self._lock:
            into = self.tests.setdefault(phase, {})
            for name, times in tests.items():
                into[name] = into.get(name, 0) + times

    def add(self, phase: str, seconds: float, count: int = 1) -> None:
        with self._lock:
            self.seconds[phase] = self.seconds.get(phase, 0.0) + seconds
            self.counts[phase] = self.counts.get(phase, 0) + count

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Charge the CPU spent inside the block (and by children reaped in it) to ``name``."""
        start = process_cpu()
        try:
            yield
        finally:
            self.add(name, process_cpu() - start)

    def snapshot(self) -> dict[str, dict[str, float]]:
        with self._lock:
            return {k: {"cpu": round(v, 4), "runs": self.counts.get(k, 0)}
                    for k, v in sorted(self.seconds.items()) if not k.startswith("_")}
