"""Problem statements: the issue text an agent reads, written per validated instance.

Three sources: a model (GitHub-issue style, from the diff, the failing output and a few failing
tests' source), and two offline fallbacks: templates after SWE-smith's static kinds, and a text
built from the failing tests (their code as the reproduction, their error as the symptom). A
leakage check flags any statement that quotes a changed line of the diff or names a failing
test: such a text hands the agent the answer.
"""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from engine.dataset.leaks import find_leaks, test_function_name
from engine.instances import Instance
from engine.lm.batch import Ask, BatchStats, ask_all
from engine.lm.client import Completion, LMClient, LMError, cache_key
from engine.lm.prompts import statement_messages
from engine.logs import Log
from engine.store import LMCall, Statement, Store

MODES = ("lm", "tests", "template")
MAX_FAILURE_CHARS = 4000
MAX_TESTS = 3



def test_source(repo_root: Path, nodeid: str) -> str | None:
    """The source of the test function a node id names, read from the repo copy."""
    parts = nodeid.split("::")
    path = Path(repo_root) / parts[0]
    try:
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source)
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return None
    scope: list[ast.stmt] = tree.body
    node: ast.AST | None = None
    for name in [*parts[1:-1], test_function_name(nodeid)]:
        node = next((n for n in scope if isinstance(
            n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and n.name == name), None)
        if node is None:
            return None
        scope = getattr(node, "body", [])
    return ast.get_source_segment(source, node) if node is not None else None


def _error_line(failure: str) -> str:
    """The exception a failure ended with (``TypeError: ...``, ``AssertionError: assert ...``)."""
    lines = [ln.strip() for ln in failure.splitlines() if ln.strip()]
    for ln in reversed(lines):
        if ln.startswith("E "):
            return ln[1:].strip()
    for ln in reversed(lines):
        if re.match(r"^[\w.]+(Error|Exception|Warning|Exit|Interrupt)\b", ln):
            return ln
    return lines[-1] if lines else "an unexpected result"


def _exception_name(error: str) -> str:
    m = re.match(r"^([\w.]+(?:Error|Exception))\b", error)
    return m.group(1) if m else ""


def _module_of(file: str) -> str:
    mod = file[:-3] if file.endswith(".py") else file
    mod = mod.removesuffix("/__init__")
    for prefix in ("src/", "lib/"):
        mod = mod.removeprefix(prefix)
    return mod.replace("/", ".")


def _display_name(entity: str) -> str:
    """What a user would call it: ``Bucket.__init__`` -> ``Bucket``, ``a.b.c`` -> ``c``."""
    head, _, name = entity.rpartition(".")
    if name.startswith("__") and name.endswith("__") and head:
        return head.rpartition(".")[2]
    return name or entity


def template_statement(rec: Instance) -> str:
    """SWE-smith-style static text: names the function and the symptom, nothing more."""
    entity, module = rec.entity or "this function", _module_of(rec.file or "")
    failures = rec.failures or {}
    error = _error_line(next(iter(failures.values()), "")) if failures else ""
    exc = _exception_name(error)
    name = _display_name(entity)
    if exc and exc != "AssertionError":
        title = f"`{name}` raises {exc} on valid input"
        body = (f"Calling `{entity}` from `{module}` now fails with `{exc}` for inputs it used "
                "to handle. I expected it to return a result as before.")
    else:
        title = f"`{name}` returns incorrect results"
        body = (f"`{entity}` in `{module}` gives results that differ from what its "
                "documentation and earlier releases lead me to expect. Code that relies on it "
                "now behaves incorrectly.")
    return f"{title}\n\n{body}\n"


def tests_statement(rec: Instance, repo_root: Path) -> str:
    """An issue built from the first failing test: its code is the reproduction, its final
    error the observed behaviour. Test names, fixtures' names and pytest stay out."""
    failures = rec.failures or {}
    f2p = list(rec.fail_to_pass or [])
    nodeid = next((n for n in f2p if n in failures), f2p[0] if f2p else "")
    error = _error_line(failures.get(nodeid, ""))
    src = test_source(repo_root, nodeid) if nodeid else None
    entity = rec.entity or "the library"
    title = f"Unexpected behaviour around `{_display_name(entity)}`"
    body = [title, ""]
    if src:
        code = _strip_test_def(src)
        body += ["This snippet used to work:", "", "```python", code.rstrip(), "```", ""]
    body += ["It now fails with:", "", "```", error, "```", "",
             "I expected it to run without error, as it did before."]
    return "\n".join(body) + "\n"


def _strip_test_def(src: str) -> str:
    """The test's body without its ``def test_...`` line, so its name does not leak."""
    try:
        node = ast.parse(textwrap.dedent(src)).body[0]
    except (SyntaxError, IndexError):
        return src
    lines = textwrap.dedent(src).splitlines()
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
        start = node.body[0].lineno - 1
        if ast.get_docstring(node) is not None:
            start = node.body[0].end_lineno or start
        body = "\n".join(lines[start:])
        return textwrap.dedent(body) if body.strip() else src
    return src


def _clean_answer(text: str) -> str:
    """The model's issue text without a fence wrapped around the whole answer."""
    t = text.strip()
    m = re.fullmatch(r"```[\w-]*\n(.*)\n```", t, re.S)
    return (m.group(1) if m else t).strip() + "\n"


@dataclass
class StatementsReport:
    written: dict[str, int] = field(default_factory=dict)  # kind -> count
    skipped_existing: int = 0
    failed: dict[str, int] = field(default_factory=dict)  # LM error reason -> count
    leaking: int = 0
    cost: float = 0.0
    batch: BatchStats = field(default_factory=BatchStats)

    def to_dict(self) -> dict[str, Any]:
        return {"written": self.written, "skipped_existing": self.skipped_existing,
                "failed": self.failed, "leaking": self.leaking, "cost": round(self.cost, 6),
                "cached": self.batch.cached, "requested": self.batch.requested,
                "budget_stopped": self.batch.budget_stopped}


def write_statements(store: Store, repo: str, repo_root: Path, mode: str, *,
                     client: LMClient | None = None, redo: bool = False,
                     limit: int | None = None, log: Log | None = None) -> StatementsReport:
    """Write a statement for each validated instance of ``repo`` that has none (or all, with
    ``redo``). ``mode`` is ``lm`` (needs ``client``), ``tests`` or ``template``. A model's
    statement replaces an offline one (the fallback a forge writes, ``fill_missing``)."""
    report = StatementsReport()
    ids = store.instance_ids(repo)
    if not redo:
        have = {i: st for i, st in store.latest_statements(ids).items()
                if mode != "lm" or st.kind == "lm"}
        report.skipped_existing = len(have)
        ids = [i for i in ids if i not in have]
    ids = ids[:limit] if limit is not None else ids
    recs = [r for i in ids if (r := store.get_instance(i)) is not None]
    if mode == "lm":
        assert client is not None, "lm statements need a client"
        _write_lm(store, repo, repo_root, recs, client, report, log)
        return report
    for rec in recs:
        text = tests_statement(rec, repo_root) if mode == "tests" else template_statement(rec)
        _save(store, rec, Statement(rec.instance_id, mode, text), report)
    return report


def _save(store: Store, rec: Instance, st: Statement, report: StatementsReport) -> None:
    leaks = tuple(find_leaks(st.text, rec.patch, rec.fail_to_pass or ()))
    st = Statement(st.instance_id, st.kind, st.text, st.model, st.prompt_tokens,
                   st.completion_tokens, st.cost, leaks)
    store.save_statement(st)
    report.written[st.kind] = report.written.get(st.kind, 0) + 1
    report.leaking += int(bool(leaks))


def _failure_text(rec: Instance) -> str:
    failures = rec.failures or {}
    parts = []
    for nodeid in list(rec.fail_to_pass or [])[:MAX_TESTS]:
        tail = "\n".join((failures.get(nodeid) or "").splitlines()[-30:])
        parts.append(tail)
    return "\n\n".join(parts)[-MAX_FAILURE_CHARS:]


def _write_lm(store: Store, repo: str, repo_root: Path, recs: list[Instance],
              client: LMClient, report: StatementsReport, log: Log | None) -> None:
    asks = []
    for rec in recs:
        tests = [(test_function_name(n), src) for n in list(rec.fail_to_pass)[:MAX_TESTS]
                 if (src := test_source(repo_root, n))]
        asks.append(Ask(statement_messages(repo, rec.patch, _failure_text(rec), tests),
                        "statement"))
    if log:
        log(f"statements: asking {client.settings.model} for {len(asks)} issue texts ...")
    answers = ask_all(client, store, asks, log=log, stats=report.batch)
    calls = []
    for rec, ask, answer in zip(recs, asks, answers, strict=True):
        key = cache_key(client.settings, ask.messages)
        call = LMCall(repo, "statement", rec.file or "", rec.entity or "", key,
                      status="error", model=client.settings.model)
        if isinstance(answer, LMError):
            report.failed[answer.reason] = report.failed.get(answer.reason, 0) + 1
            calls.append(replace(call, reason=answer.reason, detail=answer.detail))
            continue
        text = _clean_answer(answer.text)
        call = answer.charge(call)
        report.cost += call.cost
        _save(store, rec, _lm_statement(rec.instance_id, text, answer), report)
        calls.append(replace(call, status="ok", candidate_id=rec.candidate_id or ""))
    store.log_lm_calls(calls)


def _lm_statement(instance_id: str, text: str, answer: Completion) -> Statement:
    return Statement(instance_id, "lm", text, answer.model, answer.prompt_tokens,
                     answer.completion_tokens, round(answer.cost, 6))


# ------------------------------------------------------------------ statements on export
OFFLINE = ("offline:tests", "offline:template")


@dataclass(frozen=True)
class Chosen:
    """The statement an exported row carries and where it came from: ``lm``,
    ``offline:tests``/``offline:template`` (written without a model, from the failing tests),
    ``pr_mirror:<the fix's issue or commit message>``, ``imported``, ``given``, or ``none``
    (empty, only with ``--no-statements``). ``replaced`` holds the leaks of a statement this
    one replaced."""

    text: str
    source: str
    replaced: tuple[str, ...] = ()


def source_of(rec: Instance) -> str:
    """Where ``rec.problem_statement`` came from (see :class:`Chosen`)."""
    if not (rec.problem_statement or "").strip():
        return "none"
    if rec.statement is not None:
        return "lm" if rec.statement.kind == "lm" else f"offline:{rec.statement.kind}"
    meta = rec.meta or {}
    if meta.get("statement_source"):
        return f"pr_mirror:{meta['statement_source']}"
    return "imported" if meta.get("imported_from") else "given"


def offline_statement(rec: Instance, repo_root: Path | None) -> Chosen:
    """A statement written without a model: from the failing tests (their code and error;
    never the diff) when it gives nothing away, else the template."""
    if repo_root is not None:
        text = tests_statement(rec, repo_root)
        if not find_leaks(text, rec.patch, rec.fail_to_pass or ()):
            return Chosen(text, "offline:tests")
    return Chosen(template_statement(rec), "offline:template")


def statement_for_export(rec: Instance, repo_root: Path | None, fill: bool = True) -> Chosen:
    """The row's statement: the stored one unless it is empty or gives the fix away (then,
    with ``fill``, an offline one in its place)."""
    source = source_of(rec)
    text = rec.problem_statement or ""
    if not fill:
        return Chosen(text, source)
    if source == "none":
        return offline_statement(rec, repo_root)
    leaks = tuple(find_leaks(text, rec.patch, rec.fail_to_pass or ()))
    if leaks:
        return replace(offline_statement(rec, repo_root), replaced=leaks)
    return Chosen(text, source)


def keep_exported(store: Store, exported: list[tuple[Instance, Chosen]]) -> int:
    """Store the offline statements written in place of a missing or leaking one (by an
    export, or ``fill_missing``) as ``statements`` stores its own (kind ``tests``/``template``,
    leaks checked), so the review, ``show`` and the next export read the same text instead of
    an empty one or a fresh one. A stored statement that held (the export kept it) is never
    touched. Returns how many were stored."""
    report = StatementsReport()
    for rec, chosen in exported:
        if chosen.source in OFFLINE and chosen.text != (rec.problem_statement or ""):
            kind = chosen.source.split(":", 1)[1]
            _save(store, rec, Statement(rec.instance_id, kind, chosen.text), report)
    return sum(report.written.values())


def fill_missing(store: Store, repo: str, repo_root: Path, log: Log | None = None) -> int:
    """After a forge: an offline statement for each of ``repo``'s instances without any
    (a PR mirror's issue text is kept), so nothing reaches the review or an export without
    one. Returns how many were written."""
    recs = store.instances(store.instance_ids(repo))
    n = keep_exported(store, [(rec, offline_statement(rec, repo_root))
                              for rec in recs.values() if source_of(rec) == "none"])
    if n and log:
        log(f"statements: wrote {n} offline statements (from the failing tests, never the "
            "diff; `bugfoundry statements --mode lm` writes a model's)")
    return n
