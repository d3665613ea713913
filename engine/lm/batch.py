"""Asking many prompts at once: cache first, then up to ``concurrency`` requests in flight.

Answers are written to the store's cache by the calling thread the moment each arrives (the
store belongs to one thread), so a crash or Ctrl-C after paying for an answer never pays for it
again. When the budget runs out, requests not yet sent are cancelled and the batch ends
cleanly with what it has.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace

from engine.lm.client import BudgetSpent, Completion, LMClient, LMError, Messages, cache_key
from engine.logs import Log
from engine.store import Store


@dataclass(frozen=True)
class Ask:
    """One prompt to answer; ``purpose`` names what it is for (lm_modify, statement, ...)."""

    messages: Messages
    purpose: str


@dataclass
class BatchStats:
    asked: int = 0
    cached: int = 0  # answered from the store, free
    requested: int = 0  # answered over HTTP this time
    failed: dict[str, int] = field(default_factory=dict)  # LMError reason -> count
    cost: float = 0.0  # USD spent by this batch
    budget_stopped: bool = False
    not_sent: int = 0  # prompts never sent because the budget ran out


def ask_all(client: LMClient, store: Store, asks: Sequence[Ask], *, log: Log | None = None,
            stats: BatchStats | None = None) -> list[Completion | LMError]:
    """One answer (or the error that prevented it) per ``asks`` entry, in order."""
    st = stats if stats is not None else BatchStats()
    keys = [cache_key(client.settings, a.messages) for a in asks]
    st.asked += len(asks)
    cached = store.lm_cached(sorted(set(keys)))
    out: list[Completion | LMError | None] = [None] * len(asks)
    todo: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        if key in cached:
            out[i] = replace(Completion.from_json(cached[key]), cached=True)
            st.cached += 1
        else:
            todo.setdefault(key, []).append(i)
    if todo:
        _ask_http(client, store, asks, todo, out, st, log)
    unsent = LMError("budget_spent" if st.budget_stopped else "not_sent")
    return [o if o is not None else unsent for o in out]


def _ask_http(client: LMClient, store: Store, asks: Sequence[Ask], todo: Mapping[str, list[int]],
              out: list[Completion | LMError | None], st: BatchStats, log: Log | None) -> None:
    workers = max(1, client.settings.concurrency)
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bf-lm")
    pending: dict[Future[Completion], str] = {}
    queue = list(todo)
    try:
        while queue or pending:
            while queue and len(pending) < workers and not st.budget_stopped:
                key = queue.pop(0)
                pending[pool.submit(client.complete, asks[todo[key][0]].messages)] = key
            if not pending:
                break
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                key = pending.pop(fut)
                result = _result(fut)
                if isinstance(result, Completion):
                    store.save_lm_response(key, client.settings.model,
                                           asks[todo[key][0]].purpose, result.to_json())
                    st.requested += 1
                    st.cost += result.cost
                elif isinstance(result, BudgetSpent):
                    st.budget_stopped = True
                else:
                    st.failed[result.reason] = st.failed.get(result.reason, 0) + 1
                for i in todo[key]:
                    out[i] = result
            if client.budget.exhausted and not st.budget_stopped:
                st.budget_stopped = True
                if log:
                    log(f"LM budget spent (${client.budget.spent:.4f} of "
                        f"${client.budget.limit:.4f}): no further requests")
        st.not_sent += len(queue)
    except BaseException:  # Ctrl-C: answers already stored stay; do not wait for the rest
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _result(fut: Future[Completion]) -> Completion | LMError:
    try:
        return fut.result()
    except LMError as exc:
        return exc
