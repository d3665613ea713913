"""What blind mode shows instead of what would bias a curator: one place to swap.

An instance id spells out its strategy and modifier (``procedural_op_swap__141fd036``), and a
PR mirror's route and fix commit say "this one is real". In blind mode the TUI shows a
neutral id instead and leaves strategy, route and modifier out. ``blind_id`` is the only
place that makes that id, so an engine-side blind id can replace it in one line.
"""

from __future__ import annotations

import hashlib


def short_id(instance_id: str) -> str:
    """The id without its ``repo.commit8.`` prefix: the repo has its own column."""
    parts = instance_id.split(".", 2)
    return parts[2] if len(parts) == 3 else instance_id


def blind_id(instance_id: str) -> str:
    """A stable neutral id: a short hash of the full id (says nothing about how it was made)."""
    return "#" + hashlib.sha1(instance_id.encode("utf-8")).hexdigest()[:10]


def shown_id(instance_id: str, blind: bool) -> str:
    """The id as the table and the review header show it."""
    return blind_id(instance_id) if blind else short_id(instance_id)


HIDDEN = "hidden (blind)"
