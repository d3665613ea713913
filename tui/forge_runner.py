"""Forge from the TUI: the engine's ``forge`` in a thread worker, followed live.

The worker gets its own DuckDB cursor on the app's database (connections are not shared
across threads) and reports through typed messages (``ForgeLogged``, ``ForgeCounted``,
``ForgeJudged``, ``ForgeFinished``, ``ForgeFailed``), so the job's state is only touched on the
UI thread. The forge itself is injectable (``ForgeFn``): tests drive the screen with a
stand-in. Every verdict is committed by the engine as it arrives, so cancelling (``x``) stops
after the current candidate and keeps everything validated so far; rerunning the same forge
resumes.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import ProgressBar, Static

from tui.services import workbench

if TYPE_CHECKING:  # engine.forge.run is imported when a forge starts, not with the app
    from engine.forge.run import ForgeHooks, ForgeOptions
    from engine.forge.summary import ForgeSummary
    from engine.models import Candidate, Verdict
    from engine.store import Store
    from engine.workspace import Workspace

    # The engine's ``forge`` entry, injectable so tests drive the screen with a stand-in.
    ForgeFn = Callable[[Workspace, Store, str, Sequence[str], ForgeOptions | None,
                        ForgeHooks | None], ForgeSummary]


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


class ForgeMessage(Message):
    """Posted by the forge thread to the app; ``apply`` folds it into the job (UI thread)."""

    def __init__(self, job: ForgeJob) -> None:
        super().__init__()
        self.job = job

    def apply(self) -> None:
        raise NotImplementedError


class ForgeLogged(ForgeMessage):
    """A line of the engine's log: the job's phase until the candidates are counted."""

    def __init__(self, job: ForgeJob, line: str) -> None:
        super().__init__(job)
        self.line = line

    def apply(self) -> None:
        self.job.phase = self.line.strip()
        self.job.log.append(self.line)


class ForgeCounted(ForgeMessage):
    """The candidates selected for this run, and how many an earlier run judged."""

    def __init__(self, job: ForgeJob, total: int, already_done: int) -> None:
        super().__init__(job)
        self.total, self.already_done = total, already_done

    def apply(self) -> None:
        self.job.total, self.job.already_done = self.total, self.already_done


class ForgeJudged(ForgeMessage):
    """One candidate's verdict (``kept``: a new instance is in the store)."""

    def __init__(self, job: ForgeJob, kept: bool, reason: str, line: str) -> None:
        super().__init__(job)
        self.kept, self.reason, self.line = kept, reason, line

    def apply(self) -> None:
        self.job.validated += 1
        if self.kept:
            self.job.kept += 1
        else:
            self.job.drops[self.reason] += 1
        self.job.log.append(self.line)


class ForgeFinished(ForgeMessage):
    """The forge returned (done, cancelled, or nothing forged: the summary says which)."""

    def __init__(self, job: ForgeJob, summary: ForgeSummary) -> None:
        super().__init__(job)
        self.summary = summary

    def apply(self) -> None:
        self.job.finished = True
        self.job.summary = self.summary
        if self.summary.nothing_forged():
            self.job.log.append(f"nothing forged: {self.summary.nothing_forged()}")


class ForgeFailed(ForgeMessage):
    """The forge raised: the error, one line first."""

    def __init__(self, job: ForgeJob, error: str) -> None:
        super().__init__(job)
        self.error = error

    def apply(self) -> None:
        self.job.finished = True
        self.job.error = self.error
        self.job.log.append(f"error: {self.error}")


def run_forge(job: ForgeJob, forge: ForgeFn | None, store: Store, ws: Workspace,
              post: Callable[[Message], object]) -> None:
    """The worker thread's body: ``forge`` (None: the engine's) on a private cursor, every
    step posted."""
    from engine.errors import BugfoundryError
    from engine.forge.run import ForgeHooks, ForgeOptions, lm_settings_for
    from engine.forge.run import forge as engine_forge
    from engine.lm.client import load_settings

    def log(line: str) -> None:
        post(ForgeLogged(job, line))

    def on_total(total: int, already_done: int) -> None:
        post(ForgeCounted(job, total, already_done))

    def on_verdict(cand: Candidate, verdict: Verdict) -> None:
        what = f"{cand.strategy}/{cand.modifier} {cand.file}::{cand.entity}"
        post(ForgeJudged(job, verdict.kept, verdict.reason,
                         f"{verdict.reason:15} {what} ({verdict.duration:.2f}s)"))

    r = job.request
    job.thread_started.set()
    try:
        reader = store.reader()
    except Exception as exc:  # noqa: BLE001 - the store is already closed: nothing to do
        job.thread_done.set()
        post(ForgeFailed(job, f"{type(exc).__name__}: {exc}"))
        return
    try:
        # LM strategies read their model and endpoint from the environment or config.toml.
        lm = lm_settings_for(r.strategies, lambda: load_settings(ws.home))
        options = replace(r.options or ForgeOptions(), lm=lm)
        hooks = ForgeHooks(
            log=log, on_total=on_total, on_verdict=on_verdict, should_stop=job.stop.is_set)
        summary = (forge or engine_forge)(ws, reader, r.repo, list(r.strategies), options, hooks)
        repo = reader.get_repo(r.repo)
        if forge is None and repo is not None and Path(repo.path).is_dir():
            from engine.dataset.statements import fill_missing

            fill_missing(reader, repo.name, Path(repo.path), log=log)  # none left empty
        post(ForgeFinished(job, summary))
    except BugfoundryError as exc:
        post(ForgeFailed(job, str(exc)))
    except Exception as exc:  # noqa: BLE001 - the UI must say what happened, not die
        post(ForgeFailed(job, f"{type(exc).__name__}: {exc}"))
    finally:
        reader.close()
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
        now = workbench(self.app).clock()
        self.query_one("#forge-line", Static).update(
            Text(job.line(now, compact=True), style=style))

