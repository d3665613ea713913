"""The TUI's own small settings file, ``<workspace>/tui.json``: saved filters, diff layout,
blind mode, theme and which guidelines version each curator has seen.

Kept out of the database on purpose: it must be writable when the database is open read-only
(another process holds it), and it is a user's convenience, not data to export.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from engine.errors import UsageError
from engine.store import DECISION_FILTERS, REALISM_FILTERS, SORT_KEYS

PREFS_FILE = "tui.json"


@dataclass(frozen=True)
class SavedFilter:
    """What the browse screen's filter widgets and sort hold."""

    text: str = ""
    decision: str = ""
    realism: str = ""
    sort: str = "short_id"
    descending: bool = False

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> SavedFilter:
        known = {f.name for f in fields(cls)}
        f = cls(**{k: v for k, v in raw.items() if k in known})
        if (f.decision not in DECISION_FILTERS or f.realism not in REALISM_FILTERS
                or f.sort not in SORT_KEYS):
            raise ValueError(f"unknown decision, realism or sort in {raw}")
        return f

    def describe(self) -> str:
        parts = [self.text or "any text"]
        parts += [p for p in (self.decision, self.realism) if p]
        parts.append(f"by {self.sort}{' desc' if self.descending else ''}")
        return ", ".join(parts)


@dataclass
class Prefs:
    """Settings of one workspace's TUI, loaded at start and saved on each change."""

    path: Path
    side_by_side: bool = False
    blind: bool = False  # hide realism scores while labelling (they would bias the tags)
    theme: str = ""  # the Textual theme last picked ("" the default)
    saved_filters: dict[str, SavedFilter] = field(default_factory=dict)
    # curator -> the guidelines version they were last shown (shown again when it changes)
    guidelines_seen: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, home: Path) -> Prefs:
        path = home / PREFS_FILE
        prefs = cls(path)
        if not path.exists():
            return prefs
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            prefs.side_by_side = bool(raw.get("side_by_side", False))
            prefs.blind = bool(raw.get("blind", False))
            prefs.theme = str(raw.get("theme", ""))
            prefs.guidelines_seen = {str(k): str(v) for k, v in
                                     dict(raw.get("guidelines_seen", {})).items()}
            prefs.saved_filters = {
                str(name): SavedFilter.from_dict(f)
                for name, f in dict(raw.get("saved_filters", {})).items()
            }
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            raise UsageError(f"{path} is not a valid bugfoundry TUI settings file ({exc}).\n"
                             "Fix or delete it; it only holds saved filters.") from None
        return prefs

    def save(self) -> None:
        """Write atomically (a crash never leaves half a file)."""
        data = {
            "side_by_side": self.side_by_side,
            "blind": self.blind,
            "theme": self.theme,
            "saved_filters": {k: asdict(v) for k, v in sorted(self.saved_filters.items())},
            "guidelines_seen": dict(sorted(self.guidelines_seen.items())),
        }
        tmp = self.path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, self.path)
