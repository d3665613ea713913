"""The leakage check: what a problem statement gives away about its own answer.

A statement that quotes a changed line of the diff, names a failing test or mentions pytest
hands the agent the answer (SWE-bench Verified's annotators flag the same). Used on written
statements and, in the review screen, on the ones taken from a fix's commit message.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from engine.diffs import PatchError, parse_patch

MIN_LEAK_CHARS = 12  # shorter changed lines ("return x", "else:") are too common to count


def _norm(text: str) -> str:
    return " ".join(text.split())


def changed_code_lines(patch: str) -> list[str]:
    """The added and removed lines of a diff, stripped, long enough to be a real quote."""
    out: list[str] = []
    try:
        files = parse_patch(patch)
    except PatchError:
        return out
    for fp in files:
        for _start, body in fp.hunks:
            for line in body:
                if line[:1] in "+-" and len(_norm(line[1:])) >= MIN_LEAK_CHARS:
                    out.append(_norm(line[1:]))
    return list(dict.fromkeys(out))


def find_leaks(text: str, patch: str, fail_to_pass: Sequence[str] = ()) -> list[str]:
    """What the statement gives away: quoted changed lines, failing test names, pytest."""
    flat = _norm(text)
    leaks = [f"quotes `{line}`" for line in changed_code_lines(patch) if line in flat]
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
