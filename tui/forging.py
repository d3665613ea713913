"""Forge from the TUI: the engine's ``forge`` in a thread worker, followed live.

The worker gets its own DuckDB cursor on the app's database (connections are not shared
across threads) and reports through messages, so the job's state is only touched on the UI
thread. Every verdict is committed by the engine as it arrives, so cancelling (``x``) stops
after the current candidate and keeps everything validated so far; rerunning the same forge
resumes.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import ProgressBar, Static

if TYPE_CHECKING:  # engine.forge is imported when a forge starts, not with the app
    from engine.forge import ForgeOptions
    from engine.summary import ForgeSummary


@dataclass(frozen=True)
class ForgeRequest:
    """What the forge screen asks for (the CLI's ``forge`` arguments)."""

    repo: str
    strategies: tuple[str, ...]
    options: ForgeOptions | None = None  # None: the engine's defaults (the model comes later)


@dataclass
class ForgeJob:
    """A forge's progress as the UI sees it; mutated on the UI thread only."""

    request: ForgeRequest
    started: float
    stop: threading.Event = field(default_factory=threading.Event)
    phase: str = "starting"
    total: int = 0  # candidates selected for this run
    already_done: int = 0  # judged by an earlier run (resume)
    validated: int = 0  # judged by this run
    kept: int = 0
    drops: Counter[str] = field(default_factory=Counter)
    log: list[str] = field(default_factory=list)
    summary: ForgeSummary | None = None
    error: str | None = None
    finished: bool = False
    thread_started: threading.Event = field(default_factory=threading.Event)
    thread_done: threading.Event = field(default_factory=threading.Event)

    @property
    def done(self) -> int:
        return self.already_done + self.validated

    @property
    def yield_rate(self) -> float | None:
        return self.kept / self.validated if self.validated else None

    def eta(self, now: float) -> float | None:
        """Seconds left at this run's pace (after the first verdict)."""
        if not self.validated or self.finished:
            return None
        pace = (now - self.started) / self.validated
        return pace * max(self.total - self.done, 0)

    def line(self, now: float, compact: bool = False) -> str:
        """One status line: where it is, the live yield, and what is left.

        ``compact`` is the browse screen's bar (it shares the row with the bar itself).
        """
        r = self.request
        head = f"forge {r.repo}" if compact else f"forge {r.repo} ({', '.join(r.strategies)})"
        if self.error:
            return f"{head}: failed: {self.error.splitlines()[0]}"
        rate = f" ({self.yield_rate:.0%})" if self.yield_rate is not None else ""
        if compact:
            counts = f"{self.done}/{self.total} · kept {self.kept}{rate}"
        else:
            before = f" ({self.already_done} before this run)" if self.already_done else ""
            counts = (f"{self.done}/{self.total} judged{before} · kept {self.kept} of "
                      f"{self.validated} this run{rate.replace('(', '(yield ')}")
        if self.finished:
            how = "cancelled" if self.summary and self.summary.interrupted else "done"
            nothing = self.summary.nothing_forged() if self.summary else ""
            if nothing:  # a forge that kept nothing says why, never just "done"
                return f"{head}: nothing forged: {nothing}"
            return f"{head} {how}: {counts}"
        if not self.total:
            return f"{head}: {self.phase}"
        eta = self.eta(now)
        tail = f" · ETA {eta:.0f}s" if eta is not None else ""
        if self.stop.is_set():
            tail += " · stopping after this candidate"
        elif compact:
            tail += " · x cancels"
        return f"{head}: {counts}{tail}"


class ForgeEvent(Message):
    """Posted by the forge thread: ``kind`` is log, total, verdict or done."""

    def __init__(self, job: ForgeJob, kind: str, **data: Any) -> None:
        super().__init__()
        self.job = job
        self.kind = kind
        self.data = data


def apply_event(job: ForgeJob, event: ForgeEvent) -> None:
    """Fold one event from the thread into the job (on the UI thread)."""
    d = event.data
    if event.kind == "log":
        job.phase = d["line"].strip()
        job.log.append(d["line"])
    elif event.kind == "total":
        job.total, job.already_done = d["total"], d["already_done"]
    elif event.kind == "verdict":
        job.validated += 1
        if d["kept"]:
            job.kept += 1
        else:
            job.drops[d["reason"]] += 1
        job.log.append(d["line"])
    elif event.kind == "done":
        job.finished = True
        job.summary = d.get("summary")
        job.error = d.get("error")
        if job.error:
            job.log.append(f"error: {job.error}")
        elif job.summary is not None and job.summary.nothing_forged():
            job.log.append(f"nothing forged: {job.summary.nothing_forged()}")


def run_forge(app: Any, job: ForgeJob) -> None:
    """The worker thread's body: the engine's forge on a private cursor."""
    from engine.errors import BugfoundryError
    from engine.forge import ForgeHooks, ForgeOptions, forge, lm_settings_for
    from engine.lm.client import load_settings

    def post(kind: str, **data: Any) -> None:
        app.post_message(ForgeEvent(job, kind, **data))

    def on_verdict(cand: Any, verdict: Any) -> None:
        what = f"{cand.strategy}/{cand.modifier} {cand.file}::{cand.entity}"
        post("verdict", kept=verdict.kept, reason=verdict.reason,
             line=f"{verdict.reason:15} {what} ({verdict.duration:.2f}s)")

    r = job.request
    job.thread_started.set()
    try:
        store = app.store.reader()
    except Exception as exc:  # noqa: BLE001 - the store is already closed: nothing to do
        job.thread_done.set()
        post("done", error=f"{type(exc).__name__}: {exc}")
        return
    try:
        # LM strategies read their model and endpoint from the environment or config.toml.
        lm = lm_settings_for(r.strategies, lambda: load_settings(app.workspace.home))
        options = replace(r.options or ForgeOptions(), lm=lm)
        hooks = ForgeHooks(
            log=lambda line: post("log", line=line),
            on_total=lambda total, done: post("total", total=total, already_done=done),
            on_verdict=on_verdict, should_stop=job.stop.is_set)
        summary = forge(app.workspace, store, r.repo,
                        list(r.strategies), options, hooks)
        post("done", summary=summary)
    except BugfoundryError as exc:
        post("done", error=str(exc))
    except Exception as exc:  # noqa: BLE001 - the UI must say what happened, not die
        post("done", error=f"{type(exc).__name__}: {exc}")
    finally:
        store.close()
        job.thread_done.set()


class ForgeBar(Horizontal):
    """A one-line progress bar and live yield under the browse table (hidden when idle)."""

    def compose(self) -> ComposeResult:
        yield ProgressBar(show_eta=False, id="forge-progress")
        yield Static(id="forge-line")

    def on_mount(self) -> None:
        self.display = False

    def follow(self, job: ForgeJob | None) -> None:
        self.display = job is not None
        if job is None:
            return
        bar = self.query_one(ProgressBar)
        bar.update(total=job.total or None, progress=job.done)
        style = "red" if job.error else ("green" if job.finished else "")
        now = self.app.clock()  # type: ignore[attr-defined]
        self.query_one("#forge-line", Static).update(
            Text(job.line(now, compact=True), style=style))

