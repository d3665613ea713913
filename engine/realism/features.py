"""Cheap, explainable features of one instance: its diff, its edit kind and how its tests fail.

Each feature is something a curator can check by eye in the review screen, and each has a
published reference for real bugs (realism.md §1.4 and §2). They are intrinsic to the instance
(nothing depends on other instances), so they are computed once and cached in the store under
``FEATURE_VERSION``; coupling to real bugs depends on the others and is computed at scoring.
"""

from __future__ import annotations

import difflib
import re
import textwrap
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engine.diffs import FilePatch, PatchError, apply_file_patch, parse_patch
from engine.instances import FeatureInput
from engine.realism.naturalness import NgramModel, tokens
from engine.realism.sstub import EditKind, classify_blocks, classify_sources

FEATURE_VERSION = 2  # 2: no naturalness from a model that holds (nearly) no other file
# Fewer tokens than this outside the bug's file (a one-module project, maybe with its .pyi
# stub) make a trigram that says nothing: the delta was 0 for everything, or the stub's noise.
MIN_MODEL_TOKENS = 2000

# Exception classes by what they say about a bug (realism.md §2.2).
ASSERTION = frozenset({"AssertionError", "Failed", "DID NOT RAISE"})
TYPE_ATTRIBUTE = frozenset({"TypeError", "AttributeError"})
STRUCTURAL = frozenset({"NameError", "UnboundLocalError", "ImportError", "ModuleNotFoundError",
                        "SyntaxError", "IndentationError", "TabError"})
FAILURE_KINDS = ("assertion", "mixed", "domain", "type_attribute", "structural",
                 "structural_at_edit", "unknown")

_E_LINE = re.compile(r"^E\s+(?:(?P<exc>[A-Za-z_][\w.]*)(?::|$)|(?P<assert>assert\b))")
_FRAME = re.compile(r"^(?P<file>[^\s:][^:]*\.py):(?P<line>\d+):")


@dataclass
class Features:
    """One instance's features (JSON-able; stored per instance and ``FEATURE_VERSION``)."""

    files: int = 0
    hunks: int = 0
    lines_added: int = 0
    lines_removed: int = 0
    changed_tokens: int = 0
    edit_kind: str = "unparsable"
    edit_detail: str = ""
    direction: str = "replace"  # what the fix does: add | replace | remove
    failure_kind: str = "unknown"
    exceptions: dict[str, int] = field(default_factory=dict)  # class -> F2P tests ending so
    crash_at_edit: bool = False  # some F2P traceback ends inside a hunk of the bug
    n_f2p: int = 0
    f2p_files: int = 0
    buggy_entropy: float | None = None  # bits/token of the bug's lines (repo trigram)
    original_entropy: float | None = None
    naturalness_delta: float | None = None  # buggy minus original
    version: int = FEATURE_VERSION

    @property
    def lines_changed(self) -> int:
        return self.lines_added + self.lines_removed

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Features:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


# ---------------------------------------------------------------------- the diff
@dataclass
class _Side:
    """Per file: the lines each side of the bug diff holds, and where the bug's lines are."""

    removed: list[str] = field(default_factory=list)  # original lines (the fix restores)
    added: list[str] = field(default_factory=list)  # buggy lines
    bug_lines: set[int] = field(default_factory=set)  # new-side lines of the hunks (context too)


def _sides(fp: FilePatch) -> _Side:
    side = _Side()
    for start, body in fp.hunks:
        new_no = first = start if any(b[:1] in (" ", "-") for b in body) else start + 1
        for b in body:
            tag, text = b[:1], b[1:].rstrip("\n")
            if tag in (" ", "+"):
                new_no += 1
            if tag == "+":
                side.added.append(text)
            elif tag == "-":
                side.removed.append(text)
        # A crash "in the diff" lands in a hunk: a deleted assignment fails a line or two on.
        side.bug_lines.update(range(first, new_no + 1))
    return side


def _token_edit(buggy: list[str], original: list[str]) -> tuple[int, set[str]]:
    """(tokens changed, opcode tags) of the fix turning the buggy lines into the original."""
    tb = [t for line in buggy for t in tokens(line)]
    to = [t for line in original for t in tokens(line)]
    changed = 0
    tags: set[str] = set()
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, tb, to, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        tags.add(tag)
        changed += max(i2 - i1, j2 - j1)
    return changed, tags


def direction_of(tags: set[str]) -> str:
    """What the fix does to tokens: only inserts (add), only deletes (remove), or both."""
    if tags == {"insert"}:
        return "add"
    if tags == {"delete"}:
        return "remove"
    return "replace"


def _fragment(body: list[str], keep: str) -> str:
    return textwrap.dedent("".join(b[1:] for b in body if b[:1] in (" ", keep)))


def _parse_fragment(text: str) -> list | None:
    import ast

    try:
        return ast.parse(text).body
    except (SyntaxError, ValueError):
        return None


def _file_kind(fp: FilePatch, original: str | None) -> EditKind:
    """Edit kind of the fix for one file: on the whole file when we have it, else the hunks."""
    if original is not None:
        try:
            buggy = apply_file_patch(original, fp)
        except PatchError:
            buggy = None
        if buggy is not None:
            return classify_sources(buggy, original)
    kinds = []
    for _start, body in fp.hunks:
        a = _parse_fragment(_fragment(body, "+"))
        b = _parse_fragment(_fragment(body, "-"))
        if a is None or b is None:  # context cut mid-statement: try the changed lines alone
            a = _parse_fragment(_fragment([x for x in body if x[:1] == "+"], "+"))
            b = _parse_fragment(_fragment([x for x in body if x[:1] == "-"], "-"))
        kinds.append(EditKind("unparsable") if a is None or b is None else classify_blocks(a, b))
    return _combine(kinds)


def _combine(kinds: list[EditKind]) -> EditKind:
    real = [k for k in kinds if k.kind != "cosmetic"]
    if not real:
        return kinds[0] if kinds else EditKind("cosmetic")
    if len(real) == 1:
        return real[0]
    if any(k.kind == "unparsable" for k in real):
        return EditKind("unparsable")
    return EditKind("multi_stmt", f"{len(real)} places", sum(max(k.statements, 1) for k in real))


# ---------------------------------------------------------------------- the failures
def exception_of(text: str) -> tuple[str, tuple[str, int] | None]:
    """The exception class a pytest failure text ends in, and the crash frame (file, line)."""
    exc = ""
    frame: tuple[str, int] | None = None
    for line in text.splitlines():
        m = _FRAME.match(line)
        if m:
            frame = (m.group("file").replace("\\", "/"), int(m.group("line")))
        e = _E_LINE.match(line)
        if e and not exc:
            exc = "AssertionError" if e.group("assert") else e.group("exc").rsplit(".", 1)[-1]
        if "DID NOT RAISE" in line and not exc:
            exc = "DID NOT RAISE"
    if not exc and re.search(r"\bassert\b", text):
        exc = "AssertionError"
    return exc, frame


def failure_kind(failures: dict[str, str], bug_lines: dict[str, set[int]]
                 ) -> tuple[str, dict[str, int], bool]:
    """(kind, exception counts, crash at an edited line) over the F2P tests' failure texts."""
    counts: Counter[str] = Counter()
    at_edit = structural_at_edit = False
    for text in failures.values():
        exc, frame = exception_of(text)
        counts[exc or "unknown"] += 1
        hit = frame is not None and any(
            frame[0].endswith(f) and frame[1] in lines for f, lines in bug_lines.items())
        at_edit |= hit
        structural_at_edit |= hit and exc in STRUCTURAL
    known = {e: n for e, n in counts.items() if e != "unknown"}
    if not known:
        kind = "unknown"
    elif structural_at_edit:
        kind = "structural_at_edit"
    elif any(e in STRUCTURAL for e in known):
        kind = "structural"
    elif all(e in ASSERTION for e in known):
        kind = "assertion"
    elif any(e in ASSERTION for e in known):
        kind = "mixed"
    elif any(e in TYPE_ATTRIBUTE for e in known):
        kind = "type_attribute"
    else:
        kind = "domain"
    return kind, dict(sorted(counts.items())), at_edit


# ---------------------------------------------------------------------- one instance
def compute(rec: FeatureInput, read: Callable[[str], str | None] | None = None,
            model: NgramModel | None = None) -> Features:
    """Features of one bug (its ``patch``, ``fail_to_pass`` and ``failures``).

    ``read(rel)`` returns a file of the repo at the base commit (None when unknown): with it
    the edit kind is found on whole files; without it, on the hunks alone.
    """
    f = Features()
    try:
        files = parse_patch(rec.patch or "")
    except PatchError:
        files = []
    f.files = len(files)
    f.hunks = sum(len(fp.hunks) for fp in files)
    kinds: list[EditKind] = []
    bug_lines: dict[str, set[int]] = {}
    all_added: list[str] = []
    all_removed: list[str] = []
    tags: set[str] = set()
    for fp in files:
        side = _sides(fp)
        bug_lines[fp.path] = side.bug_lines
        f.lines_added += len(side.added)
        f.lines_removed += len(side.removed)
        changed, t = _token_edit(side.added, side.removed)
        f.changed_tokens += changed
        tags |= t
        all_added += side.added
        all_removed += side.removed
        kinds.append(_file_kind(fp, read(fp.old) if read and fp.old else None))
    kind = _combine(kinds) if kinds else EditKind("unparsable")
    f.edit_kind, f.edit_detail = kind.kind, kind.detail
    f.direction = direction_of(tags)
    failures = rec.failures or {}
    f.failure_kind, f.exceptions, f.crash_at_edit = failure_kind(failures, bug_lines)
    f2p = list(rec.fail_to_pass or [])
    f.n_f2p = len(f2p)
    f.f2p_files = len({t.split("::", 1)[0] for t in f2p})
    target = (files[0].old or files[0].path) if files else ""
    if model is not None and files and model.tokens_outside(target) >= MIN_MODEL_TOKENS:
        hb, ho, d = model.delta(all_added, all_removed, exclude_file=target)
        f.buggy_entropy = None if hb is None else round(hb, 4)
        f.original_entropy = None if ho is None else round(ho, 4)
        f.naturalness_delta = None if d is None else round(d, 4)
    return f


def repo_reader(root: Path | None) -> Callable[[str], str | None] | None:
    """A cached reader of the repo's files at the pinned commit (None: no checkout)."""
    if root is None or not root.is_dir():
        return None
    from engine.entities import read_source

    cache: dict[str, str | None] = {}

    def read(rel: str) -> str | None:
        if rel not in cache:
            path = (root / rel).resolve()
            cache[rel] = read_source(path) if path.is_relative_to(root.resolve()) else None
        return cache[rel]

    return read


def repo_model(root: Path | None) -> NgramModel | None:
    """The repo's trigram model over its library source (None: no checkout to train on)."""
    if root is None or not root.is_dir():
        return None
    from engine.entities import iter_source_files, read_source

    files = {rel: text for rel in iter_source_files(root)
             if (text := read_source(root / rel)) is not None}
    return NgramModel(files) if files else None


def compute_many(recs: Iterable[FeatureInput], root: Path | None) -> dict[str, Features]:
    """Features for many instances of one repo: one model, one file cache."""
    read = repo_reader(root)
    model = repo_model(root)
    return {r.instance_id: compute(r, read, model) for r in recs}
