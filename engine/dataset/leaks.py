"""The leakage check: what a problem statement gives away about its own answer.

A statement that quotes a changed line of the diff, names a failing test or mentions pytest
hands the agent the answer (SWE-bench Verified's annotators flag the same). So does one that
describes the fix's mechanism, as a fix's commit message often does ("the growth factor was
written as `x ** periods_per_year * years`"): a code span of the statement that is part of a
changed line (and of no unchanged one), or code spans naming both what the diff removes and
what it adds (`<` ... `<=`). Used on written statements, on export, and in the review screen
on the ones taken from a fix's commit message.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from engine.diffs import PatchError, parse_patch

MIN_LEAK_CHARS = 12  # shorter changed lines ("return x", "else:") are too common to count


def _norm(text: str) -> str:
    return " ".join(text.split())


def _lines(patch: str) -> dict[str, list[str]]:
    """The diff's lines by tag: ``-`` removed, ``+`` added, `` `` unchanged context."""
    out: dict[str, list[str]] = {"-": [], "+": [], " ": []}
    try:
        files = parse_patch(patch)
    except PatchError:
        return out
    for fp in files:
        for _start, body in fp.hunks:
            for line in body:
                if line[:1] in out and line[1:].strip():
                    out[line[:1]].append(_norm(line[1:]))
    return out


def changed_code_lines(patch: str) -> list[str]:
    """The added and removed lines of a diff, stripped, long enough to be a real quote."""
    lines = _lines(patch)
    return list(dict.fromkeys(ln for ln in lines["-"] + lines["+"]
                              if len(ln) >= MIN_LEAK_CHARS))


_SPAN = re.compile(r"`([^`\n]+)`")
_FENCE = re.compile(r"```[\w-]*\n(.*?)```", re.S)
_TOKEN = re.compile(r"[A-Za-z_]\w*|\d+(?:\.\d+)?|\*\*|//|==|!=|<=|>=|<<|>>|->|[-+*/%<>&|^~]")
MIN_SPAN_CHARS = 5  # `x + 1` and shorter spans name code, they do not spell out a change


def _squash(text: str) -> str:
    return "".join(text.split())


def code_spans(text: str) -> list[str]:
    """The inline code spans of a Markdown text (fenced blocks left out: those are the
    reproduction, checked line by line against the diff)."""
    return _SPAN.findall(_FENCE.sub("", text))


def mechanism_leaks(text: str, patch: str) -> list[str]:
    """Code spans of ``text`` that spell out the change (see the module's docstring)."""
    lines = _lines(patch)
    changed = [_squash(ln) for ln in lines["-"] + lines["+"]]
    context = [_squash(ln) for ln in lines[" "]]
    out = []
    spans = code_spans(text)
    for span in spans:
        flat = _squash(span)
        if (len(flat) >= MIN_SPAN_CHARS and not flat.isidentifier()
                and any(flat in ln for ln in changed) and not any(flat in ln for ln in context)):
            out.append(f"spells out the changed code `{span}`")
    removed = {t for ln in lines["-"] for t in _TOKEN.findall(ln)}
    added = {t for ln in lines["+"] for t in _TOKEN.findall(ln)}
    named = {_squash(s) for s in spans}
    gone, new = sorted(named & (removed - added)), sorted(named & (added - removed))
    if gone and new:
        out.append(f"names the change: `{gone[0]}` / `{new[0]}`")
    return out


def find_leaks(text: str, patch: str, fail_to_pass: Sequence[str] = ()) -> list[str]:
    """What the statement gives away: quoted changed lines, failing test names, pytest."""
    flat = _norm(text)
    leaks = [f"quotes `{line}`" for line in changed_code_lines(patch) if line in flat]
    quoted = "".join(leaks)
    leaks += [m for m in mechanism_leaks(text, patch) if _squash(m.split("`")[1]) not in
              _squash(quoted)]
    for nodeid in fail_to_pass:
        name = test_function_name(nodeid)
        if name.startswith("test") and re.search(rf"\b{re.escape(name)}\b", text):
            leaks.append(f"names the failing test {name}")
    if re.search(r"\bpytest\b", text, re.I):
        leaks.append("mentions pytest")
    return leaks


def test_function_name(nodeid: str) -> str:
    """``tests/t.py::TestX::test_y[1-2]`` -> ``test_y``."""
    return nodeid.split("::")[-1].split("[", 1)[0]
