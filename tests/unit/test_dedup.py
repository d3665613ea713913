"""Duplicate detection: normalised diff hash and near-duplicate groups (pure)."""

from __future__ import annotations

from dataclasses import replace

from engine.dedup import diff_hash, duplicate_ids, find_groups
from engine.diffs import make_patch
from engine.instances import DedupRecord

OLD = "def f(a, b):\n    x = a + b\n    return x\n\n\ndef g(a, b):\n    x = a + b\n    return x\n"


def _rec(iid: str, patch: str, entity: str, f2p: list[str]) -> DedupRecord:
    return DedupRecord(iid, "r", "m.py", entity, patch, f2p)


def test_same_edit_from_two_strategies_or_shifted_is_one_bug() -> None:
    def edit_g(text: str, new: str = "    x = a - b\n") -> str:
        head, tail = text[: text.index("def g")], text[text.index("def g"):]
        return head + tail.replace("    x = a + b\n", new)

    edit = make_patch("m.py", OLD, edit_g(OLD))
    shifted_old = "import os\n" * 8 + OLD  # the same edit, eight lines further down
    shifted = make_patch("m.py", shifted_old, edit_g(shifted_old, "    x  =  a - b\n"))
    assert edit != shifted and diff_hash(edit) == diff_hash(shifted)
    # The same text edited in another function is another bug (its context differs).
    other = make_patch("m.py", OLD, OLD.replace("    x = a + b\n", "    x = a - b\n", 1))
    assert diff_hash(other) != diff_hash(edit)


def test_groups_and_representatives() -> None:
    a = make_patch("m.py", OLD, OLD.replace("return x\n\n\ndef g", "return -x\n\n\ndef g"))
    b = make_patch("m.py", OLD, OLD.replace("x = a + b\n    return x\n\n\ndef g",
                                            "x = a * b\n    return x\n\n\ndef g"))
    records = [
        _rec("r.1", a, "f", ["t1"]),
        _rec("r.2", a.replace("diff --git", "diff --git"), "f", ["t1"]),  # an exact copy
        _rec("r.3", b, "f", ["t1"]),  # another edit of f failing the same way: near
        _rec("r.4", b, "g", ["t2"]),
    ]
    records[1] = replace(records[1], patch=a.replace("@@ -1,", "@@ -1,"))  # hashed alike
    groups = {(g.kind, tuple(g.members)) for g in find_groups(records)}
    assert ("exact", ("r.1", "r.2")) in groups
    assert ("near", ("r.1", "r.3")) in groups  # r.2 is hidden by its exact group
    assert ("exact", ("r.3", "r.4")) in groups  # same diff text, listed once
    found = find_groups(records)
    assert duplicate_ids(found, ("exact",)) == {"r.2", "r.4"}
    assert duplicate_ids(found) == {"r.2", "r.3", "r.4"}
