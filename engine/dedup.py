"""Duplicate bugs across strategies: the same change, or the same bug seen the same way.

- **exact**: the normalised diffs are equal. Normalising drops what does not change the bug:
  ``diff --git``/``index`` lines, hunk line numbers and whitespace inside lines. So the same
  edit made by two strategies (or at a shifted line) is one bug.
- **near**: same repo, file and entity, and the same FAIL_TO_PASS set: two edits that break the
  same function the same observable way.

The first instance id of each group (sorted) represents it. Exports leave exact duplicates out
by default and near ones too when asked (``--dedup near``). Pure functions, unit-tested.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from engine.instances import DedupRecord

SPACE = " \t\n\v\f\r"  # ASCII whitespace only: the store's SQL twin (duplicate_map) agrees
_WS = re.compile(f"[{SPACE}]+")


def normalized_diff(patch: str) -> str:
    """The bug's content: per file, the removed and added lines without spacing noise."""
    out: list[str] = []
    for line in patch.split("\n"):
        if line.startswith(("diff --git", "index ", "@@", "\\")):
            continue
        if line.startswith(("--- ", "+++ ")):
            out.append(line[:4] + line[4:].strip(SPACE).removeprefix("a/").removeprefix("b/"))
        elif line[:1] in ("+", "-", " "):
            body = _WS.sub(" ", line[1:]).strip(" ")
            if body:
                out.append(line[0] + body)
    return "\n".join(out)


def diff_hash(patch: str) -> str:
    return hashlib.sha256(normalized_diff(patch).encode()).hexdigest()[:16]


@dataclass
class Group:
    kind: str  # exact | near
    key: str
    members: list[str] = field(default_factory=list)  # sorted; members[0] represents

    @property
    def representative(self) -> str:
        return self.members[0]

    @property
    def duplicates(self) -> list[str]:
        return self.members[1:]


def find_groups(instances: Iterable[DedupRecord]) -> list[Group]:
    """Exact groups first; near groups only among instances no exact group already hides."""
    records = sorted(instances, key=lambda r: r.instance_id)
    exact: dict[str, Group] = {}
    for r in records:
        key = f"{r.repo}:{diff_hash(r.patch)}"
        exact.setdefault(key, Group("exact", key)).members.append(r.instance_id)
    hidden = {d for g in exact.values() if len(g.members) > 1 for d in g.duplicates}
    near: dict[str, Group] = {}
    for r in records:
        if r.instance_id in hidden or not r.entity:
            continue
        f2p = "|".join(sorted(r.fail_to_pass))
        key = f"{r.repo}:{r.file}:{r.entity}:" + hashlib.sha256(
            f2p.encode()).hexdigest()[:12]
        near.setdefault(key, Group("near", key)).members.append(r.instance_id)
    return [g for g in [*exact.values(), *near.values()] if len(g.members) > 1]


def duplicate_ids(groups: Iterable[Group], kinds: tuple[str, ...] = ("exact", "near")
                  ) -> set[str]:
    return {d for g in groups if g.kind in kinds for d in g.duplicates}
