"""Pure helpers for the unified diffs that every candidate carries.

Diffs are built in memory with ``difflib`` (no git calls) but in the exact shape ``git apply``
expects, so a candidate can be applied to a clean checkout of the pinned commit.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
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


def file_patch(rel_path: str, old: str | None, new: str | None) -> str:
    """Like ``make_patch`` but ``None`` on a side creates or deletes the file, with the
    headers ``git apply`` wants for that (``new file mode``, ``/dev/null``)."""
    if old is None and new is None:
        return ""
    patch = make_patch(rel_path, old or "", new or "")
    if old is not None and new is not None or not patch:
        return patch
    _, _, rest = patch.partition(f"+++ b/{rel_path}\n")
    if old is None:
        return (f"diff --git a/{rel_path} b/{rel_path}\nnew file mode 100644\n"
                f"--- /dev/null\n+++ b/{rel_path}\n{rest}")
    return (f"diff --git a/{rel_path} b/{rel_path}\ndeleted file mode 100644\n"
            f"--- a/{rel_path}\n+++ /dev/null\n{rest}")


def _body(prefix: str, lines: list[str]) -> list[str]:
    """Prefix hunk lines; a last line without newline gets git's "No newline" marker."""
    out = []
    for line in lines:
        if line.endswith("\n"):
            out.append(prefix + line)
        else:
            out.append(prefix + line + "\n" + _NO_NEWLINE)
    return out


def changed_lines(old: str, new: str, *, around_inserts: bool = False) -> tuple[int, ...]:
    """1-based line numbers of ``old`` that the change replaces or deletes, sorted.

    A pure insertion reports the line it is inserted before (or the last line at EOF), so every
    non-empty change touches at least one original line; with ``around_inserts`` the line
    after which it is inserted too (inserted code runs when control passes either neighbour).
    """
    a = split_lines(old)
    touched: set[int] = set()
    for tag, i1, i2, _j1, _j2 in _Matcher(a, split_lines(new)).get_opcodes():
        if tag == "equal":
            continue
        if i1 == i2:
            touched.add(min(i1 + 1, max(len(a), 1)))
            if around_inserts and i1 >= 1:
                touched.add(i1)
        else:
            touched.update(range(i1 + 1, i2 + 1))
    return tuple(sorted(touched))


class PatchError(ValueError):
    """A diff that does not apply to the given file contents."""


_HUNK_RE = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


@dataclass
class FilePatch:
    """One file's part of a unified diff; ``old``/``new`` are None for a created/deleted file."""

    old: str | None
    new: str | None
    hunks: list[tuple[int, list[str]]]  # (old start line, hunk body lines with prefixes)

    @property
    def path(self) -> str:
        return self.new if self.new is not None else self.old or ""


def parse_patch(patch: str) -> list[FilePatch]:
    """Split a git-style unified diff into per-file hunks (no binary diffs)."""
    files: list[FilePatch] = []
    current: FilePatch | None = None
    lines = split_lines(patch)
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            current = FilePatch(_strip_prefix(line[4:]), _strip_prefix(lines[i + 1][4:]), [])
            files.append(current)
            i += 2
            continue
        if line.startswith("GIT binary patch") or line.startswith("Binary files "):
            raise PatchError("binary diffs cannot be applied in memory")
        m = _HUNK_RE.match(line)
        if m and current is not None:
            old_len = int(m.group(2)) if m.group(2) is not None else 1
            new_len = int(m.group(4)) if m.group(4) is not None else 1
            body: list[str] = []
            i += 1
            seen_old = seen_new = 0
            while i < len(lines) and (seen_old < old_len or seen_new < new_len
                                      or lines[i].startswith("\\")):
                b = lines[i]
                if b.startswith("\\"):
                    if body:  # "\ No newline at end of file": the previous line has no "\n"
                        body[-1] = body[-1].rstrip("\n")
                    i += 1
                    continue
                tag = b[:1] or " "
                if tag == " ":
                    seen_old += 1
                    seen_new += 1
                elif tag == "-":
                    seen_old += 1
                elif tag == "+":
                    seen_new += 1
                else:
                    raise PatchError(f"malformed hunk line: {b[:60]!r}")
                body.append(b if b.endswith("\n") or b[:1] else " " + b)
                i += 1
            current.hunks.append((int(m.group(1)), body))
            continue
        i += 1
    return files


def unsafe_path(path: str) -> bool:
    """Whether a path in a diff could reach outside the work tree, into ``.git``, or be read
    as an option (absolute, ``..``, a leading ``-``): such a diff is refused, not applied."""
    parts = path.replace("\\", "/").split("/")
    return (not path or path.startswith(("/", "-", "~")) or ".." in parts
            or ".git" in parts or "\0" in path)


def _strip_prefix(name: str) -> str | None:
    name = name.rstrip("\n").split("\t")[0].strip()
    if name == "/dev/null":
        return None
    return name[2:] if name[:2] in ("a/", "b/") else name


def apply_file_patch(text: str, fp: FilePatch, fuzz: int = 50) -> str:
    """Apply one file's hunks to ``text`` exactly (context must match), searching nearby lines
    when earlier edits moved them. Raises PatchError when a hunk does not match."""
    src = split_lines(text)
    out: list[str] = []
    pos = 0  # next unread line of src
    offset = 0
    for start, body in fp.hunks:
        old = [b[1:] for b in body if b[:1] in (" ", "-")]
        new = [b[1:] for b in body if b[:1] in (" ", "+")]
        want = max(start - 1, 0) + offset if old else start + offset
        at = _find(src, old, want, pos, fuzz)
        if at is None:
            raise PatchError(f"{fp.path}: hunk at line {start} does not match")
        offset = at - (start - 1 if old else start)
        out.extend(src[pos:at])
        out.extend(new)
        pos = at + len(old)
    out.extend(src[pos:])
    return "".join(out)


def _find(src: list[str], old: list[str], want: int, lo: int, fuzz: int) -> int | None:
    n = len(old)
    for delta in range(0, fuzz + 1):
        for at in ((want,) if delta == 0 else (want - delta, want + delta)):
            if lo <= at <= len(src) - n and src[at:at + n] == old:
                return at
    return None


def apply_patch(files: dict[str, str], patch: str) -> dict[str, str | None]:
    """Patched contents of every file the diff touches (None = deleted), without touching disk.

    ``files`` maps repo-relative paths to their current text (missing = the file is new).
    """
    result: dict[str, str | None] = {}
    for fp in parse_patch(patch):
        if fp.new is None:
            result[fp.old or ""] = None
            continue
        base = "" if fp.old is None else files.get(fp.old)
        if base is None:
            raise PatchError(f"{fp.old}: no such file")
        result[fp.new] = apply_file_patch(base, fp)
    return result


def reverse_patch(patch: str) -> str:
    """The diff that undoes ``patch`` (the fix of a bug diff): sides and hunk ranges swapped."""
    out: list[str] = []
    for line in split_lines(patch):
        if line.startswith(("--- ", "+++ ")):
            out.append(line)  # swapped pairwise below
        elif line.startswith("@@ "):
            m = _HUNK_RE.match(line)
            if not m:
                out.append(line)
                continue
            old = m.group(1) + (f",{m.group(2)}" if m.group(2) is not None else "")
            new = m.group(3) + (f",{m.group(4)}" if m.group(4) is not None else "")
            out.append(f"@@ -{new} +{old} @@" + line[m.end():])
        elif line.startswith(("new file mode ", "deleted file mode ")):
            kind, _, mode = line.partition(" file mode ")
            out.append(("deleted" if kind == "new" else "new") + " file mode " + mode)
        elif line.startswith("+") and not line.startswith("+++ "):
            out.append("-" + line[1:])
        elif line.startswith("-") and not line.startswith("--- "):
            out.append("+" + line[1:])
        else:
            out.append(line)
    return _swap_file_headers("".join(out))


def _swap_file_headers(patch: str) -> str:
    """Swap each ``--- a/X`` / ``+++ b/Y`` pair (a created file becomes a deleted one)."""
    lines = split_lines(patch)
    for i in range(len(lines) - 1):
        if lines[i].startswith("--- ") and lines[i + 1].startswith("+++ "):
            old, new = lines[i][4:], lines[i + 1][4:]
            old_name = old[2:] if old.startswith("a/") else old
            new_name = new[2:] if new.startswith("b/") else new
            lines[i] = "--- " + ("a/" + new_name if not new.startswith("/dev/null") else new)
            lines[i + 1] = "+++ " + ("b/" + old_name if not old.startswith("/dev/null") else old)
    return "".join(lines)


def count_changed_lines(patch: str) -> tuple[int, int]:
    """(lines added + removed, files touched) of a unified diff."""
    lines = files = 0
    for line in patch.splitlines():
        if line.startswith("+++ ") or line.startswith("--- "):
            if line.startswith("+++ "):
                files += 1
            continue
        if line.startswith(("+", "-")):
            lines += 1
    return lines, files
