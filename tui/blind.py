"""What blind mode shows instead of what would bias a curator: one place to swap.

An instance id spells out its strategy and modifier (``procedural_op_swap__141fd036``), and a
PR mirror's route and fix commit say "this one is real". In blind mode the TUI shows a
neutral id instead (``engine.blind.blind_id``, the one the engine's blind views use) and
leaves strategy, route and modifier out.
"""

from __future__ import annotations

from engine.blind import blind_id


def short_id(instance_id: str) -> str:
    """The id without its ``repo.commit8.`` prefix: the repo has its own column."""
    parts = instance_id.split(".", 2)
    return parts[2] if len(parts) == 3 else instance_id


def shown_id(instance_id: str, blind: bool) -> str:
    """The id as the table and the review header show it."""
    return blind_id(instance_id) if blind else short_id(instance_id)


HIDDEN = "hidden (blind)"
