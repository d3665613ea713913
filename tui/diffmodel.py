"""A unified diff as rows for the review screen, and where a traceback frame lands in it.

Pure (no Textual, no Rich) so the row layouts and the frame-to-hunk mapping are tested on
their own. The patch is the bug-introducing diff, so a failing test's traceback runs through
the *new* side: frames are matched against new-side line numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from itertools import zip_longest

HUNK_RE = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
# pytest frames: "path/to/file.py:94: in func" (short) or "path/to/file.py:94: Error" (long).
FRAME_RE = re.compile(r"^(?P<file>[^\s:]+\.py):(?P<line>\d+): ")


@dataclass(frozen=True)
class DiffLine:
    """One line of the patch. ``kind``: header, hunk, add, del, ctx or other."""

    kind: str
    text: str  # the raw line, prefix included
    file: str | None  # the new-side path of the file this line belongs to
    old_no: int | None = None
    new_no: int | None = None
    hunk: int | None = None  # index of the hunk the line belongs to

    @property
    def code(self) -> str:
        """The source text without the +/-/space prefix (diff lines only)."""
        return self.text[1:] if self.kind in ("add", "del", "ctx") else self.text


@dataclass(frozen=True)
class Hunk:
    """A hunk's file and its new-side range (``new_len`` 0 for a pure deletion)."""

    index: int
    file: str | None
    new_start: int
    new_len: int


@dataclass(frozen=True)
class SideRow:
    """One side-by-side row: a full-width ``header`` line, or a left/right pair."""

    header: DiffLine | None = None
    left: DiffLine | None = None
    right: DiffLine | None = None


@dataclass(frozen=True)
class Frame:
    """A traceback frame that passes through a file the diff changes."""

    file: str
    line: int
    in_hunk: bool  # the line lies within a hunk's new-side range (else: same file elsewhere)


@dataclass
class ParsedDiff:
    """The patch's lines, its hunks, and both row layouts."""

    lines: list[DiffLine]
    hunks: list[Hunk]

    @property
    def files(self) -> set[str]:
        return {h.file for h in self.hunks if h.file}

    def emphasis(self) -> dict[DiffLine, list[tuple[int, int]]]:
        """The characters (``code`` offsets) that differ between a removed line and the added
        line it pairs with: what a curator must spot when the edit is one operator."""
        out: dict[DiffLine, list[tuple[int, int]]] = {}
        for row in self.side_rows():
            if row.left is None or row.right is None or row.left.kind != "del":
                continue
            old, new = row.left.code, row.right.code
            matcher = SequenceMatcher(None, old, new, autojunk=False)
            if matcher.ratio() < 0.5:  # a different line, not an edit of it
                continue
            for tag, i1, i2, j1, j2 in matcher.get_opcodes():
                if tag != "equal":
                    if i2 > i1:
                        out.setdefault(row.left, []).append((i1, i2))
                    if j2 > j1:
                        out.setdefault(row.right, []).append((j1, j2))
        return out

    def side_rows(self) -> list[SideRow]:
        """Pair each run of removed lines with the run of added lines that follows it."""
        rows: list[SideRow] = []
        dels: list[DiffLine] = []
        adds: list[DiffLine] = []

        def flush() -> None:
            rows.extend(SideRow(left=a, right=b) for a, b in zip_longest(dels, adds))
            dels.clear()
            adds.clear()

        for line in self.lines:
            if line.kind == "del":
                if adds:
                    flush()
                dels.append(line)
            elif line.kind == "add":
                adds.append(line)
            else:
                flush()
                if line.kind == "ctx":
                    rows.append(SideRow(left=line, right=line))
                else:
                    rows.append(SideRow(header=line))
        flush()
        return rows

    def frame(self, file: str, line: int) -> Frame | None:
        """Classify a traceback location: None when its file is not in the diff."""
        hunks = [h for h in self.hunks if h.file == file]
        if not hunks:
            return None
        inside = any(h.new_start <= line < h.new_start + max(h.new_len, 1) for h in hunks)
        return Frame(file, line, inside)

    def target_row(self, frame: Frame, side: bool = False) -> int | None:
        """The row to scroll to for ``frame``: its own line when shown, else its nearest hunk."""
        rows = self.side_rows() if side else None

        def line_at(i: int) -> DiffLine | None:
            if rows is None:
                return self.lines[i]
            r = rows[i]
            return r.header or r.right or r.left

        count = len(rows) if rows is not None else len(self.lines)
        for i in range(count):
            ln = line_at(i)
            if ln is not None and ln.file == frame.file and ln.new_no == frame.line:
                return i  # removed lines have no new-side number: never matched
        hunks = [h for h in self.hunks if h.file == frame.file]
        if not hunks:
            return None
        nearest = min(hunks, key=lambda h: _distance(h, frame.line)).index
        for i in range(count):
            ln = line_at(i)
            if ln is not None and ln.kind == "hunk" and ln.hunk == nearest:
                return i
        return None


def _distance(h: Hunk, line: int) -> int:
    end = h.new_start + max(h.new_len, 1) - 1
    return 0 if h.new_start <= line <= end else min(abs(line - h.new_start), abs(line - end))


def parse_patch(patch: str) -> ParsedDiff:
    """Split a unified diff into typed lines with old/new line numbers and hunk ranges."""
    lines: list[DiffLine] = []
    hunks: list[Hunk] = []
    file: str | None = None
    old = new = 0
    in_hunk = False
    for raw in patch.splitlines():
        if raw.startswith("diff --git "):
            in_hunk = False
            parts = raw.split(" b/", 1)
            file = parts[1] if len(parts) == 2 else None
            lines.append(DiffLine("header", raw, file))
        elif not in_hunk and raw.startswith("+++ "):
            path = raw[4:].strip()
            file = path[2:] if path.startswith("b/") else (file if path == "/dev/null" else path)
            lines.append(DiffLine("header", raw, file))
        elif not in_hunk and raw.startswith("--- "):
            lines.append(DiffLine("header", raw, file))
        elif m := HUNK_RE.match(raw):
            in_hunk = True
            old, new = int(m.group(1)), int(m.group(3))
            new_len = int(m.group(4)) if m.group(4) is not None else 1
            hunks.append(Hunk(len(hunks), file, new, new_len))
            lines.append(DiffLine("hunk", raw, file, hunk=len(hunks) - 1))
        elif in_hunk and raw.startswith("+"):
            lines.append(DiffLine("add", raw, file, None, new, len(hunks) - 1))
            new += 1
        elif in_hunk and raw.startswith("-"):
            lines.append(DiffLine("del", raw, file, old, None, len(hunks) - 1))
            old += 1
        elif in_hunk and (raw.startswith(" ") or raw == ""):
            lines.append(DiffLine("ctx", raw or " ", file, old, new, len(hunks) - 1))
            old += 1
            new += 1
        else:  # "\ No newline at end of file", index lines, mode changes
            lines.append(DiffLine("other", raw, file, hunk=len(hunks) - 1 if in_hunk else None))
    return ParsedDiff(lines, hunks)


def find_frame(line: str, diff: ParsedDiff) -> Frame | None:
    """The diff-touching frame a traceback line names, if any."""
    m = FRAME_RE.match(line)
    if not m:
        return None
    return diff.frame(m.group("file"), int(m.group("line")))
