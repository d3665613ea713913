"""The workspace's curation settings, guidelines versions, rules and balanced assignment."""

from __future__ import annotations

import os
from collections import Counter
from itertools import combinations
from pathlib import Path

import pytest

from engine.curation import (
    DEFAULT_GUIDELINES,
    DEFAULT_REASONS,
    balanced_assignment,
    in_split,
    load_config,
    load_guidelines,
    resolve,
)
from engine.errors import UsageError


def test_defaults_without_a_file(tmp_path: Path) -> None:
    c = load_config(tmp_path)
    assert c.reasons == DEFAULT_REASONS and c.overlap == 2
    assert [r.label for r in c.reasons] == ["not a bug", "tests wrong", "duplicate", "trivial",
                                            "crash on import", "flaky", "other"]
    assert c.reason_ids(["2", "not a bug", "tests-wrong"]) == ["tests-wrong", "not-a-bug"]
    with pytest.raises(UsageError, match="unknown reject reason 'nah'"):
        c.reason("nah")


def test_the_workspace_file_overrides(tmp_path: Path) -> None:
    (tmp_path / "curation.toml").write_text(
        'guidelines = "team.md"\noverlap = 3\n'
        '[[reasons]]\nid = "leaky"\nlabel = "statement leaks the fix"\nkey = "l"\n'
        '[[reasons]]\nid = "other"\n')
    c = load_config(tmp_path)
    assert [(r.id, r.label, r.key) for r in c.reasons] == [
        ("leaky", "statement leaks the fix", "l"), ("other", "other", "")]
    assert c.overlap == 3 and c.guidelines_path == tmp_path / "team.md"


@pytest.mark.parametrize("text, expect", [
    ("overlap = 0", "overlap must be"),
    ("overlap = true", "overlap must be"),
    ("guidelines = '../x.md'", "inside the workspace"),
    ("guidelines = '/etc/passwd'", "inside the workspace"),
    ("reasons = []", "non-empty list"),
    ("[[reasons]]\nlabel = 'x'", "needs an id"),
    ("[[reasons]]\nid = 'a'\nkey = 'xy'", "one character"),
    ("[[reasons]]\nid = 'a'\n[[reasons]]\nid = 'a'", "ids must differ"),
    ("[[reasons]]\nid = 'a'\nkey = 'k'\n[[reasons]]\nid = 'b'\nkey = 'k'", "keys must differ"),
    ("colour = 'red'", "unknown setting colour"),
    ("overlap = ", "cannot be read"),
])
def test_bad_files_are_usage_errors(tmp_path: Path, text: str, expect: str) -> None:
    (tmp_path / "curation.toml").write_text(text + "\n")
    with pytest.raises(UsageError, match=expect) as info:
        load_config(tmp_path)
    assert len(str(info.value).splitlines()) == 2


def test_guidelines_written_once_and_versioned_by_content(tmp_path: Path) -> None:
    c = load_config(tmp_path)
    g = load_guidelines(c, create=False)
    assert not g.path.exists() and g.text == DEFAULT_GUIDELINES
    g1 = load_guidelines(c)
    assert g1.created and g1.path.read_text() == DEFAULT_GUIDELINES
    assert g1.version == g.version and g1.version.startswith("sha256:")
    assert not load_guidelines(c).created
    g1.path.write_text(DEFAULT_GUIDELINES + "\nReject anything in vendored code.\n")
    g2 = load_guidelines(c)
    assert g2.version != g1.version and "vendored" in g2.text
    g1.path.write_text(DEFAULT_GUIDELINES)  # the same text again: the same version
    os.utime(g1.path, (1, 1))
    assert load_guidelines(c).version == g1.version


def test_rules_and_resolution() -> None:
    assert in_split(["accept", "skip"], "accept-no-reject")
    assert not in_split(["accept", "reject"], "accept-no-reject")
    assert in_split(["accept", "reject"], "any-accept")
    assert not in_split(["accept", "reject"], "unanimous") and not in_split([], "unanimous")
    r = resolve("i", ["accept", "reject"], None, "accept-no-reject")
    assert r is not None and (r.decision, r.source, r.disputed) == (
        "reject", "accept-no-reject", True)
    r = resolve("i", ["accept", "reject"], "accept", "accept-no-reject")
    assert r is not None and (r.decision, r.source, r.disputed) == ("accept", "final", True)
    r = resolve("i", ["skip", "skip"], None, "any-accept")
    assert r is not None and (r.decision, r.disputed) == ("skip", False)
    assert resolve("i", [], None, "any-accept") is None
    r = resolve("i", [], "reject", "any-accept")  # a final alone decides
    assert r is not None and r.decision == "reject"


@pytest.mark.parametrize("n, k", [(3, 2), (4, 2), (5, 3), (2, 2), (3, 1)])
def test_balanced_assignment(n: int, k: int) -> None:
    curators = [f"c{j}" for j in range(n)]
    ids = [f"i{j:03d}" for j in range(60)]
    plan = balanced_assignment(list(reversed(ids)), curators, k)
    assert plan == balanced_assignment(ids, curators, k)  # deterministic, order-free
    assert all(len(set(cs)) == k for cs in plan.values())
    load = Counter(c for cs in plan.values() for c in cs)
    assert max(load.values()) - min(load.values()) <= 1 and sum(load.values()) == 60 * k
    if k == 2:  # every pair of curators shares instances (agreement needs overlap)
        pairs = Counter(frozenset(cs) for cs in plan.values())
        assert all(pairs[frozenset(p)] > 0 for p in combinations(curators, 2))
    with pytest.raises(UsageError):
        balanced_assignment(ids, curators, n + 1)
