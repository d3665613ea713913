"""Line-API panes for the review screen: only the visible rows are highlighted and rendered.

Why not a ``Static`` in a scroll container: updating a ``Static`` re-lays out the screen and
repaints all of it, and the whole text is styled up front. A ``TextPane`` keeps its size when
its content changes (no layout pass), highlights a row the first time it scrolls into view,
and caches the rendered strip; that is what keeps next-instance well under 50 ms.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache, lru_cache
from typing import Protocol

from pygments.lexers.python import PythonLexer
from rich.style import Style
from rich.syntax import Syntax
from rich.text import Text
from textual import events
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui.diffmodel import DiffLine, ParsedDiff, SideRow

ADD_BG = Style(bgcolor="#12361b")
DEL_BG = Style(bgcolor="#3d1414")
ADD_EMPH = Style(bgcolor="#1f7a3a", bold=True)
DEL_EMPH = Style(bgcolor="#8c2323", bold=True)
MARK = Style(bgcolor="#5f5f00", bold=True)
FOUND = Style(bgcolor="#d7af00", color="black", bold=True)  # a search match
HEADER_STYLE = {"header": Style(bold=True), "hunk": Style(color="cyan"),
                "other": Style(dim=True)}
SIGN_STYLE = {"add": Style(color="green", bold=True), "del": Style(color="red", bold=True),
              "ctx": Style(dim=True)}


class PaneContent(Protocol):
    """What a ``TextPane`` shows: rows rendered on demand for a given width."""

    def count(self, width: int) -> int: ...

    def row(self, index: int, width: int) -> Text: ...

    def virtual_width(self, width: int) -> int: ...

    def origin(self, index: int, width: int) -> int: ...

    def first_row(self, logical: int, width: int) -> int: ...


@cache
def _lexer() -> PythonLexer:
    return PythonLexer(stripnl=False, ensurenl=False)


@cache
def _token_style(token: object) -> Style:
    return Syntax.get_theme("ansi_dark").get_style_for_token(token)  # type: ignore[arg-type]


@lru_cache(maxsize=4096)
def highlight_code(code: str) -> Text:
    """One line of Python, pygments-highlighted (lexed on its own: cheap, lazy).

    Cached: context lines repeat across neighbouring instances. Callers must not mutate
    the result (``append_text`` copies it).
    """
    text = Text(no_wrap=True, end="")
    for token, value in _lexer().get_tokens(code):
        text.append(value.rstrip("\n"), _token_style(token))
    return text


GUTTER = 7  # "12345 " then the +/-/space sign


def _span(line: DiffLine, width: int) -> int:
    """Characters of ``line``'s body per displayed row at ``width`` (wrapped, never cropped)."""
    return max(width - (0 if line.kind in HEADER_STYLE else GUTTER), 8)


def pieces(line: DiffLine | None, width: int) -> int:
    """How many rows ``line`` wraps to at ``width`` (from its length: nothing is styled)."""
    if line is None:
        return 1
    n = len(line.text) if line.kind in HEADER_STYLE else len(line.code)
    return max(1, -(-n // _span(line, width)))


def diff_piece(line: DiffLine | None, k: int, width: int,
               spans: Sequence[tuple[int, int]] = ()) -> Text:
    """Row ``k`` of ``line`` wrapped to ``width``: ``old/new ±code`` first, ``↪`` after.

    Changed lines are wrapped rather than cropped so the edit is always on screen, even at
    the end of a long line; their background fills the row, and ``spans`` (code offsets: the
    characters that differ from the paired line) stand out on a stronger one.
    """
    text = Text(no_wrap=True, end="")
    if line is None:
        text.append(" " * width)
        return text
    span = _span(line, width)
    if line.kind in HEADER_STYLE:
        text.append(line.text[k * span:(k + 1) * span], HEADER_STYLE[line.kind])
    else:
        if k == 0:
            num = line.new_no if line.kind == "add" else line.old_no
            text.append(f"{num if num is not None else '':>5} ", "dim")
            text.append(line.text[:1] or " ", SIGN_STYLE[line.kind])
        else:
            text.append("     ↪ ", "dim")
        text.append_text(highlight_code(line.code)[k * span:(k + 1) * span])
    text.truncate(width, overflow="crop", pad=True)
    if line.kind in ("add", "del"):
        add = line.kind == "add"
        text.stylize(ADD_BG if add else DEL_BG)
        lo = k * span
        for a, b in spans:
            a, b = max(a, lo), min(b, lo + span)
            if a < b:
                text.stylize(ADD_EMPH if add else DEL_EMPH, GUTTER + a - lo, GUTTER + b - lo)
    return text


class RowMap:
    """Logical rows (diff lines, side-by-side pairs) to displayed rows, for one width."""

    def __init__(self, counts: Sequence[int]) -> None:
        self.origin: list[int] = []
        self.piece: list[int] = []
        self.start: list[int] = []
        for i, n in enumerate(counts):
            self.start.append(len(self.origin))
            self.origin.extend([i] * n)
            self.piece.extend(range(n))


class _WrappedRows:
    """Shared by both diff layouts: a ``RowMap`` per width, built from lengths alone."""

    _cached: tuple[int, RowMap] | None = None

    def _counts(self, width: int) -> list[int]:
        raise NotImplementedError

    def _map(self, width: int) -> RowMap:
        cached = self._cached
        if cached is None or cached[0] != width:
            cached = (width, RowMap(self._counts(width)))
            self._cached = cached
        return cached[1]

    def count(self, width: int) -> int:
        return len(self._map(width).origin)

    def virtual_width(self, width: int) -> int:
        return width

    def origin(self, index: int, width: int) -> int:
        origin = self._map(width).origin
        return origin[index] if 0 <= index < len(origin) else -1

    def first_row(self, logical: int, width: int) -> int:
        start = self._map(width).start
        return start[logical] if 0 <= logical < len(start) else 0


SEPARATORS = re.compile(r"::|/|\[|-")  # where a test id or a path may break


def break_at_separators(line: Text, width: int) -> list[Text]:
    """A line without spaces (a test id, a path) broken after ``::``, ``/``, ``[`` ... rather
    than mid-word; a piece with no separator in reach is cut at the width."""
    plain, cuts, start = line.plain, [], 0
    while len(plain) - start > width:
        ends = [m.end() for m in SEPARATORS.finditer(plain, start + 1, start + width)]
        cut = ends[-1] if ends and ends[-1] > start + width // 3 else start + width
        cuts.append(cut)
        start = cut
    return list(line.divide(cuts))


class TextLines:
    """Prepared rich lines, soft-wrapped to the pane's width when ``wrap`` (map kept)."""

    def __init__(self, lines: Sequence[Text], wrap: bool = True) -> None:
        self.lines = list(lines)
        self.wrap = wrap
        self._wrapped: tuple[int, list[Text], RowMap] | None = None

    def _layout(self, width: int) -> tuple[list[Text], RowMap]:
        if self._wrapped is None or self._wrapped[0] != width:
            rows: list[Text] = []
            counts: list[int] = []
            if self.wrap:
                from rich.console import Console

                console = Console(width=max(width, 10), legacy_windows=False)
                for line in self.lines:
                    parts = ([line] if line.cell_len <= width
                             else break_at_separators(line, max(width, 10))
                             if " " not in line.plain.strip()[2:]
                             else list(line.wrap(console, max(width, 10))))
                    rows.extend(parts)
                    counts.append(len(parts))
            else:
                rows, counts = self.lines, [1] * len(self.lines)
            self._wrapped = (width, rows, RowMap(counts))
        return self._wrapped[1], self._wrapped[2]

    def count(self, width: int) -> int:
        return len(self._layout(width)[0])

    def row(self, index: int, width: int) -> Text:
        return self._layout(width)[0][index]

    def virtual_width(self, width: int) -> int:
        if self.wrap:
            return width
        return max((t.cell_len for t in self.lines), default=0)

    def origin(self, index: int, width: int) -> int:
        """The logical line a displayed row came from."""
        origin = self._layout(width)[1].origin
        return origin[index] if 0 <= index < len(origin) else -1

    def first_row(self, logical: int, width: int) -> int:
        start = self._layout(width)[1].start
        return start[logical] if 0 <= logical < len(start) else 0


class UnifiedDiff(_WrappedRows):
    """The patch as one column, line numbers of the side each line belongs to."""

    def __init__(self, diff: ParsedDiff) -> None:
        self.diff = diff
        self.emphasis = diff.emphasis()

    def _counts(self, width: int) -> list[int]:
        return [pieces(line, width) for line in self.diff.lines]

    def row(self, index: int, width: int) -> Text:
        m = self._map(width)
        line = self.diff.lines[m.origin[index]]
        return diff_piece(line, m.piece[index], width, self.emphasis.get(line, ()))


class SideBySideDiff(_WrappedRows):
    """Old on the left, new on the right; removed and added runs paired row by row."""

    def __init__(self, diff: ParsedDiff) -> None:
        self.rows: list[SideRow] = diff.side_rows()
        self.emphasis = diff.emphasis()

    @staticmethod
    def _half(width: int) -> int:
        return max((width - 1) // 2, 8)

    def _counts(self, width: int) -> list[int]:
        half = self._half(width)
        return [pieces(r.header, width) if r.header is not None
                else max(pieces(r.left, half), pieces(r.right, width - half - 1))
                for r in self.rows]

    def row(self, index: int, width: int) -> Text:
        m = self._map(width)
        r, k = self.rows[m.origin[index]], m.piece[index]
        if r.header is not None:
            return diff_piece(r.header, k, width)
        half = self._half(width)
        text = Text(no_wrap=True, end="")
        for line, w in ((r.left, half), (r.right, width - half - 1)):
            shown = line if k < pieces(line, w) else None
            text.append_text(diff_piece(shown, k, w, self.emphasis.get(line, ()) if line else ()))
            if w == half:
                text.append("│", "dim")
        return text


class TextPane(ScrollView, can_focus=True):
    """A scrollable pane of rows from a ``PaneContent``; rendered lazily, one row at a time."""

    class RowClicked(Message):
        """A displayed row was clicked (``row`` counts from the top of the content)."""

        def __init__(self, pane: TextPane, row: int) -> None:
            super().__init__()
            self.pane = pane
            self.row = row

        @property
        def control(self) -> TextPane:
            return self.pane

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.content: PaneContent = TextLines([])
        self.marked: int | None = None
        self.term = ""  # a search term: its matches are highlighted (case-insensitive)
        self._strips: dict[tuple[int, int], Strip] = {}
        self._style: Style | None = None

    def show(self, content: PaneContent, *, keep_scroll: bool = False) -> None:
        """Replace the content; a repaint of this pane only (its size does not change)."""
        self.content = content
        self.marked = None
        self._strips.clear()
        self._resize_virtual()
        if not keep_scroll:
            self.scroll_to(0, 0, animate=False, immediate=True)
        self.refresh()

    def mark(self, logical: int | None) -> None:
        """Highlight one logical row (the jump target; all rows it wraps to), in view."""
        self.marked = logical
        self._strips.clear()
        if logical is not None:
            row = self.content.first_row(logical, self._width)
            self.scroll_to(y=max(0, row - 2), animate=False, immediate=True)
        self.refresh()

    def search(self, term: str) -> list[int]:
        """Highlight ``term`` and return the displayed rows holding it (at this width)."""
        self.term = term.lower()
        self._strips.clear()
        self.refresh()
        if not self.term:
            return []
        w = self._width
        return [i for i in range(self.content.count(w))
                if self.term in self.content.row(i, w).plain.lower()]

    def show_row(self, row: int) -> None:
        """Mark the logical line of displayed ``row`` and scroll it into view."""
        self.mark(self.content.origin(row, self._width))

    def plain_text(self) -> str:
        """All rows as plain text at the current width (tests, copying)."""
        w = self._width
        return "\n".join(self.content.row(i, w).plain for i in range(self.content.count(w)))

    @property
    def _width(self) -> int:
        return self.scrollable_content_region.width or self.size.width or 80

    def _resize_virtual(self) -> None:
        w = self._width
        self.virtual_size = Size(self.content.virtual_width(w), self.content.count(w))

    def on_resize(self, event: events.Resize) -> None:
        self._strips.clear()
        self._resize_virtual()

    def render_lines(self, crop: Region) -> list[Strip]:
        self._style = self.rich_style  # once per pass, not once per row (it is not cheap)
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self._width
        style = self._style or self.rich_style
        if index >= self.content.count(width):
            return Strip.blank(width, style)
        key = (index, width)
        strip = self._strips.get(key)
        if strip is None:
            text = self.content.row(index, width)
            if self.marked is not None and self.content.origin(index, width) == self.marked:
                text = text.copy()
                text.stylize(MARK)
            if self.term and self.term in text.plain.lower():
                text = text.copy()
                text.highlight_regex("(?i)" + re.escape(self.term), FOUND)
            segments = list(text.render(self.app.console, end=""))
            strip = Strip(segments, text.cell_len).apply_style(style)  # the pane's colours
            self._strips[key] = strip
        return strip.crop_extend(scroll_x, scroll_x + width, style)

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is not None:
            self.post_message(self.RowClicked(self, int(self.scroll_offset.y) + offset.y))
