"""Applying a site's edits fast: path-copy the edited nodes' ancestors, re-render one entity.

A full libcst transform plus module codegen costs ~0.3 s on an 800-line file; a path copy and
one entity's codegen cost milliseconds, which matters at thousands of candidates. Every shortcut
is verified against the original text and falls back to the plain full-module transform.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import libcst as cst

from engine.entities import ParsedFile

Replacement = cst.CSTNode | cst.RemovalSentinel
Edit = Callable[[cst.CSTNode], Replacement]
Edits = Sequence[tuple[cst.CSTNode, Edit]]


@dataclass(frozen=True)
class Applied:
    """A site's result: the new file and the new text of each top-level statement it touched
    (enough to syntax-check without compiling the whole file)."""

    source: str
    fragments: tuple[str, ...]


class Splicer:
    """Applies edits to one parsed file by rebuilding only the edited nodes' ancestors and
    re-rendering only the entity (or, failing that, the top-level statement) holding them."""

    def __init__(self, parsed: ParsedFile, parents: Mapping[cst.CSTNode, cst.CSTNode]) -> None:
        module = parsed.module
        self.module = module
        self.source = parsed.source
        self.parents = parents
        self._index = {id(stmt): i for i, stmt in enumerate(module.body)}
        pos = sum(len(module.code_for_node(h)) for h in module.header)
        self._chunks: list[tuple[int, int]] = []  # (offset, length) of each top-level statement
        for stmt in module.body:
            size = len(module.code_for_node(stmt))
            self._chunks.append((pos, size))
            pos += size
        pos += sum(len(module.code_for_node(f)) for f in module.footer)
        # libcst pops the final newline when the file has none; anything else means our offsets
        # are wrong, and we fall back to rendering the whole module.
        self._exact = pos == len(self.source) or (
            not module.has_trailing_newline and pos > len(self.source)
        )
        self._line_starts = [0]
        for i, ch in enumerate(self.source):
            if ch == "\n":
                self._line_starts.append(i + 1)
        self._units: dict[int, tuple[int, int, list[str]] | None] = {}

    # -- rendering an indented unit in place --------------------------------------------------

    def _indents(self, node: cst.CSTNode) -> list[str]:
        out: list[str] = []
        cur = self.parents.get(node)
        while cur is not None:
            if isinstance(cur, cst.IndentedBlock):
                out.append(self.module.default_indent if cur.indent is None else cur.indent)
            cur = self.parents.get(cur)
        return out[::-1]

    def _render(self, node: cst.CSTNode, indents: list[str]) -> str:
        """``node``'s text as it appears in the file (private libcst codegen API)."""
        from libcst._nodes.internal import CodegenState

        state = CodegenState(
            default_indent=self.module.default_indent,
            default_newline=self.module.default_newline,
        )
        state.indent_tokens.extend(indents)
        node._codegen(state)
        return "".join(state.tokens)

    def _unit(self, unit: cst.CSTNode, first_line: int) -> tuple[int, int, list[str]] | None:
        """(offset, length, indents) of ``unit`` in the source, verified, or None."""
        key = id(unit)
        if key not in self._units:
            self._units[key] = None
            try:
                indents = self._indents(unit)
                text = self._render(unit, indents)
                start_line = first_line - len(getattr(unit, "leading_lines", ()))
                offset = self._line_starts[start_line - 1]
                if self.source.startswith(text, offset):
                    self._units[key] = (offset, len(text), indents)
            except Exception:  # noqa: BLE001 - libcst internals moved: use the safe path
                pass
        return self._units[key]

    # -- applying -------------------------------------------------------------------------------

    def apply(
        self, site_edits: Edits, unit: cst.CSTNode | None = None, first_line: int = 0
    ) -> Applied:
        """Apply the edits; ``unit`` (starting at ``first_line``) is an ancestor of all of them."""
        edits = {id(node): edit for node, edit in site_edits}
        on_path: set[int] = set()
        tops: dict[int, cst.CSTNode] = {}
        for node, _ in site_edits:
            cur: cst.CSTNode | None = node
            while cur is not None and id(cur) not in on_path:
                on_path.add(id(cur))
                if id(cur) in self._index:
                    tops[self._index[id(cur)]] = cur
                cur = self.parents.get(cur)
        if not self._exact or not tops:
            return self._whole(site_edits)
        placed = self._unit(unit, first_line) if unit is not None and len(tops) == 1 else None
        if placed is not None and unit is not None and id(unit) in on_path:
            new_unit = _rebuild(unit, on_path, edits)
            if isinstance(new_unit, cst.CSTNode):
                offset, size, indents = placed
                text = self._render(new_unit, indents)
                out = self.source[:offset] + text + self.source[offset + size :]
                (index,) = tops
                top_offset, top_size = self._chunks[index]
                fragment = out[top_offset : top_offset + top_size + len(text) - size]
                return Applied(out, (fragment,))
        out = self.source
        fragments: list[str] = []
        for index in sorted(tops, reverse=True):  # right to left keeps offsets valid
            new = _rebuild(tops[index], on_path, edits)
            if not isinstance(new, cst.CSTNode):
                return self._whole(site_edits)
            offset, size = self._chunks[index]
            text = self.module.code_for_node(new)
            if offset + size > len(out):  # last statement of a file without final newline
                text = text.removesuffix(self.module.default_newline).removesuffix("\n")
            out = out[:offset] + text + out[offset + size :]
            fragments.append(text)
        return Applied(out, tuple(fragments))

    def _whole(self, site_edits: Edits) -> Applied:
        code = self.module.visit(FullTransform(site_edits)).code
        return Applied(code, (code,))


def _rebuild(node: cst.CSTNode, on_path: set[int], edits: Mapping[int, Edit]) -> Replacement:
    """Copy of ``node`` with edits applied below it; untouched subtrees are shared, not copied."""
    if id(node) not in on_path:
        return node
    changes: dict[str, Any] = {}
    for f in fields(node):
        value = getattr(node, f.name)
        if isinstance(value, cst.CSTNode):
            new = _rebuild(value, on_path, edits)
            if new is not value:
                changes[f.name] = new
        elif isinstance(value, list | tuple) and any(
            isinstance(x, cst.CSTNode) and id(x) in on_path for x in value
        ):
            items: list[Any] = []
            for x in value:
                nx = _rebuild(x, on_path, edits) if isinstance(x, cst.CSTNode) else x
                if nx is cst.RemovalSentinel.REMOVE:
                    continue
                items.append(nx)
            changes[f.name] = type(value)(items)
    updated = node.with_changes(**changes) if changes else node
    edit = edits.get(id(node))
    return edit(updated) if edit is not None else updated


class FullTransform(cst.CSTTransformer):
    """The reference (and fallback): the same edits as one whole-module transform."""

    def __init__(self, edits: Sequence[tuple[cst.CSTNode, Edit]]) -> None:
        super().__init__()
        self._edits = {id(node): edit for node, edit in edits}
        self._keep = [node for node, _ in edits]  # ids stay valid while we hold the nodes

    def on_leave(  # type: ignore[override]  # a site may change a node's type
        self, original_node: cst.CSTNode, updated_node: cst.CSTNode
    ) -> Replacement:
        edit = self._edits.get(id(original_node))
        return edit(updated_node) if edit is not None else updated_node
