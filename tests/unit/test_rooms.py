"""The engine's rooms import only downstream of the data flow, never back up.

Data flows one way (repo -> env -> baseline -> candidates -> validation -> instances ->
decisions -> export); a room may import rooms of a lower rank (and its own), never a higher
one. A new module or package has to be given its rank here, so its place is a decision.
"""

from __future__ import annotations

from tests.unit.test_import_cycles import ENGINE, import_graph

RANKS: dict[str, int] = {
    # records and pure logic every room may read
    "engine": 0, "errors": 0, "models": 0, "instances": 0, "logs": 0, "workspace": 0, "diffs": 0,
    "generated": 0, "entities": 0, "agreement": 0, "dedup": 0, "testmap": 0, "reliability": 0,
    "curation": 0, "blind": 0, "shards": 0,
    "store": 1,  # the one place that speaks SQL
    "environments": 2, "mining": 2, "lm": 2,
    "repos": 3,
    "validation": 4,
    "baseline": 5, "strategies": 5, "realism": 5,
    "forge": 6,
    "dataset": 7, "doctor": 7,
    "cli": 8,
}


def room(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def test_every_room_has_a_rank() -> None:
    rooms = {room(m) for m in import_graph(ENGINE)} - {"pytest_support"}
    assert rooms <= set(RANKS), f"give these rooms a rank: {sorted(rooms - set(RANKS))}"
    assert {"cli", "validation", "dataset", "forge", "store", "environments"} <= rooms


def upward(graph: dict[str, set[str]]) -> list[str]:
    """Every import from a room to a room of a higher rank, as ``a -> b``."""
    return sorted(
        f"{a} -> {b}"
        for a, targets in graph.items()
        for b in targets
        if room(a) in RANKS and room(b) in RANKS and RANKS[room(b)] > RANKS[room(a)]
    )


def test_no_upward_imports() -> None:
    found = upward(import_graph(ENGINE))
    assert found == [], "imports against the data flow:\n" + "\n".join(found)


def test_the_check_catches_an_import_against_the_flow() -> None:
    """Downstream reads pass; the store reading the CLI, or validation the forge, are caught."""
    graph = {
        "engine.store.core": {"engine.models", "engine.cli.main"},
        "engine.validation.validator": {"engine.forge.run", "engine.environments.base"},
        "engine.cli.main": {"engine.store.core", "engine.dataset.export"},
    }
    assert upward(graph) == ["engine.store.core -> engine.cli.main",
                             "engine.validation.validator -> engine.forge.run"]
