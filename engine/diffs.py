"""Pure helpers for the unified diffs that every candidate carries.

Diffs are built in memory with ``difflib`` (no git calls) but in the exact shape ``git apply``
expects, so a candidate can be applied to a clean checkout of the pinned commit.
"""

from __future__ import annotations

import difflib
from typing import Literal

Opcode = tuple[Literal["replace", "delete", "insert", "equal"], int, int, int, int]

_NO_NEWLINE = "\\ No newline at end of file\n"


def split_lines(text: str) -> list[str]:
    """Split on ``\\n`` only, keeping line ends.

    ``str.splitlines`` also splits on form feeds and other separators that git treats as part of
    a line, which would produce hunks that do not apply.
    """
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def _range(start: int, stop: int) -> str:
    """Hunk range as "start,length"; an empty range names the line before it."""
    length = stop - start
    if length == 1:
        return str(start + 1)
    return f"{start if length == 0 else start + 1},{length}"


class _Matcher(difflib.SequenceMatcher[str]):
    """Line matcher that pins the common head and tail as unchanged.

    Mutations touch a few lines of large files; matching only the middle keeps the matcher
    (quadratic without autojunk) cheap, and pinning the head/tail keeps an ambiguous change
    (a line inserted into a run of equal lines) from sliding to the window's edge.
    ``autojunk`` is off: with it, blank lines of files over 200 lines count as junk and hunks
    grow.
    """

    def __init__(self, a: list[str], b: list[str]) -> None:
        limit = min(len(a), len(b))
        head = 0
        while head < limit and a[head] == b[head]:
            head += 1
        tail = 0
        while tail < limit - head and a[-1 - tail] == b[-1 - tail]:
            tail += 1
        self._head, self._tail, self._sizes = head, tail, (len(a), len(b))
        super().__init__(None, a[head : len(a) - tail], b[head : len(b) - tail], autojunk=False)

    def get_opcodes(self) -> list[Opcode]:
        h, t = self._head, self._tail
        na, nb = self._sizes
        codes: list[Opcode] = [("equal", 0, h, 0, h)]
        codes += [
            (tag, i1 + h, i2 + h, j1 + h, j2 + h) for tag, i1, i2, j1, j2 in super().get_opcodes()
        ]
        codes.append(("equal", na - t, na, nb - t, nb))
        merged: list[Opcode] = []
        for code in codes:
            if code[1] == code[2] and code[3] == code[4]:
                continue  # empty
            if merged and code[0] == "equal" and merged[-1][0] == "equal":
                merged[-1] = ("equal", merged[-1][1], code[2], merged[-1][3], code[4])
            else:
                merged.append(code)
        return merged


def make_patch(rel_path: str, old: str, new: str, context: int = 3) -> str:
    """Return a git-style unified diff turning ``old`` into ``new``; "" when they are equal.

    ``rel_path`` is the repo-relative posix path; the result applies with ``git apply``.
    """
    if old == new:
        return ""
    a, b = split_lines(old), split_lines(new)
    out = [f"diff --git a/{rel_path} b/{rel_path}\n", f"--- a/{rel_path}\n", f"+++ b/{rel_path}\n"]
    for group in _Matcher(a, b).get_grouped_opcodes(context):
        i1, i2, j1, j2 = group[0][1], group[-1][2], group[0][3], group[-1][4]
        out.append(f"@@ -{_range(i1, i2)} +{_range(j1, j2)} @@\n")
        for tag, x1, x2, y1, y2 in group:
            if tag == "equal":
                out.extend(_body(" ", a[x1:x2]))
                continue
            out.extend(_body("-", a[x1:x2]))
            out.extend(_body("+", b[y1:y2]))
    return "".join(out)


def _body(prefix: str, lines: list[str]) -> list[str]:
    """Prefix hunk lines; a last line without newline gets git's "No newline" marker."""
    out = []
    for line in lines:
        if line.endswith("\n"):
            out.append(prefix + line)
        else:
            out.append(prefix + line + "\n" + _NO_NEWLINE)
    return out


def changed_lines(old: str, new: str) -> tuple[int, ...]:
    """1-based line numbers of ``old`` that the change replaces or deletes, sorted.

    A pure insertion reports the line it is inserted before (or the last line at EOF), so every
    non-empty change touches at least one original line.
    """
    a = split_lines(old)
    touched: set[int] = set()
    for tag, i1, i2, _j1, _j2 in _Matcher(a, split_lines(new)).get_opcodes():
        if tag == "equal":
            continue
        if i1 == i2:
            touched.add(min(i1 + 1, max(len(a), 1)))
        else:
            touched.update(range(i1 + 1, i2 + 1))
    return tuple(sorted(touched))
