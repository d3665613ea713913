"""LM strategies: a model plants a subtle bug in a function (modify) or re-implements a
blanked function from its file (rewrite); only answers that pass ``engine.lm.parsing`` and
compile become candidates, which then face the same validation as procedural ones.

Like SWE-smith, only functions with some logic are asked about (complexity >= 3); unlike it,
only functions the baseline's tests execute, and every rejected answer is logged with why.
"""

from __future__ import annotations

import ast
import hashlib
import random
import re
import textwrap
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import libcst as cst

from engine.diffs import changed_lines, make_patch
from engine.entities import FUNCTION_KINDS, Entity, iter_source_files, parse_file, read_source
from engine.lm.batch import Ask, BatchStats, ask_all
from engine.lm.client import Completion, LMClient, LMError, cache_key
from engine.lm.parsing import Rejected, accept_function, splice_function, stub_function
from engine.lm.prompts import modify_messages, rewrite_messages, sample_bug_kinds
from engine.logs import Log
from engine.models import Candidate
from engine.store import LMCall, Store
from engine.strategies.procedural import is_arid

STRATEGIES = ("lm_modify", "lm_rewrite")
MIN_COMPLEXITY = 3
MAX_FUNCTION_LINES = 150
MAX_FILE_CHARS = 60_000  # rewrite shows the whole file; beyond this it is not worth the tokens
DEFAULT_LIMIT = 30  # functions asked about per strategy and run when --max is not given



@dataclass(frozen=True)
class Target:
    """One function to ask about, with what the prompt and the splice need."""

    entity: Entity
    file_source: str
    function_source: str


@dataclass
class LMForgeStats:
    """What the LM strategies did in one run, for the forge summary."""

    targets: int = 0
    candidates: int = 0
    rejected: dict[str, int] = field(default_factory=dict)  # parsing reason -> count
    batch: BatchStats = field(default_factory=BatchStats)

    def to_dict(self) -> dict[str, Any]:
        b = self.batch
        return {"targets": self.targets, "candidates": self.candidates,
                "rejected": dict(sorted(self.rejected.items())), "cached": b.cached,
                "requested": b.requested, "failed": dict(b.failed), "cost": round(b.cost, 6),
                "budget_stopped": b.budget_stopped, "not_sent": b.not_sent}


def _rng(*parts: object) -> random.Random:
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def find_targets(repo_root: Path, *, covered_lines: Mapping[str, set[int]] | None,
                 seed: int, strategy: str, limit: int) -> list[Target]:
    """Functions worth asking about, in a seeded order: executed by some test (when a map
    exists), not arid, complexity >= 3, at most ``MAX_FUNCTION_LINES`` long."""
    found: list[Target] = []
    for rel in iter_source_files(repo_root):
        source = read_source(repo_root / rel)
        if source is None or (strategy == "lm_rewrite" and len(source) > MAX_FILE_CHARS):
            continue
        try:
            parsed = parse_file(rel, source)
        except (cst.ParserSyntaxError, RecursionError):
            continue
        lines = source.splitlines(keepends=True)
        covered = covered_lines.get(rel, set()) if covered_lines is not None else None
        for item in parsed.entities:
            e = item.entity
            if e.kind not in FUNCTION_KINDS or e.complexity < MIN_COMPLEXITY:
                continue
            if e.end_line - e.start_line + 1 > MAX_FUNCTION_LINES or is_arid(item):
                continue
            text = "".join(lines[e.start_line - 1: e.end_line])
            first_body = e.start_line + _body_start(text)
            if covered is not None and not covered & set(range(first_body, e.end_line + 1)):
                continue
            found.append(Target(e, source, text))
    _rng(seed, strategy).shuffle(found)
    return found[:limit]


def _ask(strategy: str, t: Target, seed: int) -> tuple[Ask, list[str]] | None:
    e = t.entity
    if strategy == "lm_modify":
        kinds = sample_bug_kinds(_rng(seed, e.file, e.qualname, "kinds"))
        return Ask(modify_messages(e.file, e.qualname, textwrap.dedent(t.function_source), kinds),
                   strategy), kinds
    try:
        stubbed = stub_function(t.file_source, e.start_line, e.end_line)
    except (ValueError, SyntaxError, StopIteration):
        return None
    return Ask(rewrite_messages(e.file, e.qualname, stubbed), strategy), []


def _body_start(function_source: str) -> int:
    """Offset of the first body line within the function (decorators and signature run at
    import time, so only body lines prove that a test calls the function)."""
    try:
        node = ast.parse(textwrap.dedent(function_source)).body[0]
    except (SyntaxError, IndexError):
        return 1
    body = getattr(node, "body", None)
    return body[0].lineno - 1 if body else 1


def model_slug(model: str) -> str:
    """The model as a modifier name: ``org/Model-7B:q4`` -> ``model-7b-q4``."""
    tail = model.rpartition("/")[2].lower()
    return re.sub(r"[^a-z0-9.]+", "-", tail).strip("-") or "model"


def generate(repo: str, repo_root: Path, strategy: str, client: LMClient, store: Store, *,
             seed: int = 0, limit: int = DEFAULT_LIMIT,
             covered_lines: Mapping[str, set[int]] | None = None,
             stats: LMForgeStats | None = None, log: Log | None = None) -> list[Candidate]:
    """Ask the model about up to ``limit`` functions; return the answers that make candidates.

    Every answer is logged in the store's LM call log (ok, rejected with a reason, or failed).
    """
    st = stats if stats is not None else LMForgeStats()
    targets = find_targets(Path(repo_root), covered_lines=covered_lines, seed=seed,
                           strategy=strategy, limit=limit)
    planned = [(t, *a) for t in targets if (a := _ask(strategy, t, seed)) is not None]
    st.targets += len(planned)
    if log:
        log(f"{strategy}: asking {client.settings.model} about {len(planned)} functions ...")
    answers = ask_all(client, store, [a for _, a, _ in planned], log=log, stats=st.batch)
    out: list[Candidate] = []
    calls: list[LMCall] = []
    for (t, ask, kinds), answer in zip(planned, answers, strict=True):
        cand, call = _candidate(repo, strategy, t, ask, kinds, answer, client, seed)
        calls.append(call)
        if cand is not None:
            out.append(cand)
        elif call.status == "rejected":
            st.rejected[call.reason] = st.rejected.get(call.reason, 0) + 1
    store.log_lm_calls(calls)
    st.candidates += len(out)
    return out


def _candidate(repo: str, strategy: str, t: Target, ask: Ask, kinds: Sequence[str],
               answer: Completion | LMError, client: LMClient, seed: int
               ) -> tuple[Candidate | None, LMCall]:
    e = t.entity
    key = cache_key(client.settings, ask.messages)
    call = LMCall(repo, strategy, e.file, e.qualname, key, status="error",
                  model=client.settings.model)
    if isinstance(answer, LMError):
        return None, replace(call, reason=answer.reason, detail=answer.detail)
    call = answer.charge(call)
    try:
        new_fn = accept_function(answer.text, textwrap.dedent(t.function_source),
                                 file_source=t.file_source)
        new_source = splice_function(t.file_source, e.start_line, e.end_line, new_fn.source)
        _compile(new_source, e.file)
    except Rejected as rej:
        return None, replace(call, status="rejected", reason=rej.reason, detail=rej.detail)
    patch = make_patch(e.file, t.file_source, new_source)
    explanation = ("a language model rewrote this function to carry a subtle bug"
                   if strategy == "lm_modify" else
                   "a language model re-implemented this function from its signature, "
                   "docstring and file, and got it wrong")
    cand = Candidate(
        repo=repo, strategy=strategy, modifier=model_slug(client.settings.model), patch=patch,
        file=e.file, entity=e.qualname, changed_lines=changed_lines(t.file_source, new_source),
        seed=seed,
        meta={"kind": e.kind, "complexity": e.complexity,
              "entity_lines": [e.start_line, e.end_line], "explanation": explanation,
              "bug_kinds": list(kinds), "prompt_key": key,
              "lm": {**answer.usage(), "cost": round(answer.cost, 6)}})
    return cand, replace(call, status="ok", candidate_id=cand.candidate_id)


def _compile(source: str, rel: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            compile(source, rel, "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as exc:
            raise Rejected("does_not_parse", f"the file no longer compiles: {exc}") from None
