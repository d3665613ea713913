"""The key bar at the foot of every screen: the screen's shown bindings on one line.

Textual's ``Footer`` mounts a widget per key and recomposes them all (styles, layout, mount)
whenever the bindings change, which they do several times while a screen starts: at 50,000
instances that was 0.08 s of the first frame and 0.16 s before the app went idle. This bar is
one ``Static`` whose text is rebuilt (cheaply) on the screen's ``bindings_updated_signal``;
a click on an entry runs that binding's action, as the footer's keys did.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from textual import events
from textual.binding import Binding
from textual.content import Content
from textual.dom import DOMNode
from textual.screen import Screen
from textual.widgets import Static


@dataclass(frozen=True)
class KeyEntry:
    """One entry as laid out: ``left``/``right`` are columns within the bar."""

    label: str
    left: int
    right: int
    action: str
    node: DOMNode
    enabled: bool


class KeyBar(Static):
    """Shown bindings of the active screen, one per action, in the screen's order."""

    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        width: 1fr;
        background: $footer-background;
        color: $footer-foreground;
        text-wrap: nowrap;
        text-overflow: clip;
    }
    """

    def __init__(self, *, show_command_palette: bool = True, id: str | None = None) -> None:
        super().__init__(id=id)
        self.show_command_palette = show_command_palette
        self.entries: list[KeyEntry] = []

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._bindings_changed(self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen[object]) -> None:
        if self.is_attached and screen is self.screen:
            self.refresh()

    def _shown(self) -> tuple[list[tuple[DOMNode, Binding, bool]], tuple[DOMNode, Binding, bool]
                              | None]:
        """Shown bindings, the first per action (``1-3`` stands for its siblings), and the
        command palette's (kept at the right edge, as the footer did)."""
        active = self.screen.active_bindings
        seen: set[str] = set()
        shown: list[tuple[DOMNode, Binding, bool]] = []
        palette_key = self.app.COMMAND_PALETTE_BINDING
        for key, (node, binding, enabled, _tooltip) in active.items():
            if key != palette_key and binding.show and binding.action not in seen:
                seen.add(binding.action)
                shown.append((node, binding, enabled))
        palette = active.get(palette_key)
        if not (self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE and palette):
            return shown, None
        return shown, (palette[0], palette[1], palette[2])

    def _entry(self, node: DOMNode, binding: Binding, enabled: bool,
               column: int) -> tuple[Content, KeyEntry]:
        key = self.app.get_key_display(binding)
        key_style = "bold $footer-key-foreground" if enabled else "$text-disabled"
        text_style = "$footer-description-foreground" if enabled else "$text-disabled"
        content = Content.assemble((key, key_style), (f" {binding.description}", text_style))
        return content, KeyEntry(f"{key} {binding.description}", column,
                                 column + content.cell_length, binding.action, node, enabled)

    def render(self) -> Content:
        """Entries one column apart; the palette's key at the right edge when it fits."""
        shown, palette = self._shown()
        parts: list[Content] = []
        entries: list[KeyEntry] = []
        column = 0
        for node, binding, enabled in shown:
            content, entry = self._entry(node, binding, enabled, column)
            parts += [content, Content(" ")]
            entries.append(entry)
            column = entry.right + 1
        if palette is not None:
            content, entry = self._entry(*palette, 0)
            at = max(column, self.size.width - content.cell_length - 1)
            parts += [Content(" " * (at - column)), content]
            entries.append(replace(entry, left=at, right=at + content.cell_length))
        self.entries = entries
        return Content("").join(parts)

    async def on_click(self, event: events.Click) -> None:
        for entry in self.entries:
            if entry.left <= event.x < entry.right and entry.enabled:
                event.stop()
                await self.app.run_action(entry.action, entry.node)
                return
