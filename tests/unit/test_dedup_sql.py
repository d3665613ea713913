"""The store's duplicate map (one SQL query, off the GIL) finds the groups of
``engine.dedup.find_groups``: same duplicates, same kinds, same representatives."""

from __future__ import annotations

from pathlib import Path

from engine.dedup import find_groups
from engine.diffs import make_patch
from engine.store import Store
from tests.records import instance

OLD = "def f(a, b):\n    x = a + b\n    return x\n\n\ndef g(a, b):\n    x = a + b\n    return x\n"


def test_sql_duplicate_map_matches_find_groups(tmp_path: Path) -> None:
    edit = make_patch("m.py", OLD, OLD.replace("return x\n\n\ndef g", "return -x\n\n\ndef g"))
    shifted_old = "import os\n" * 8 + OLD
    shifted = make_patch("m.py", shifted_old, shifted_old.replace(
        "return x\n\n\ndef g", "return  -x \n\n\ndef g"))
    other = make_patch("m.py", OLD, OLD.replace("x = a + b\n    return x\n\n\ndef g",
                                                "x = a * b\n    return x\n\n\ndef g"))
    variants = {
        "r.1": (edit, "f", ["t1", "t2"]),
        "r.0": (edit.replace("\n", "\r\n"), "f", ["t2", "t1"]),  # CRLF: the same bug
        "r.2": (shifted, "f", ["t1"]),  # shifted and respaced: exact duplicate of r.0
        "r.3": (other, "f", ["t2", "t1"]),  # another edit of f, same failing tests: near
        "r.4": (other.replace("a/m.py", "m.py"), "g", ["t3"]),  # exact, prefix-less names
        "r.5": (make_patch("n.py", OLD, OLD.replace("a + b", "a - b", 1)), "", ["t1"]),
        "r.6": (make_patch("n.py", OLD, OLD.replace("a + b", "b + a", 1)), "", ["t1"]),
    }
    recs = [instance(instance_id=iid, repo="r", file="m.py", entity=entity, patch=patch,
                     candidate_id=f"c{iid}", fail_to_pass=f2p)
            for iid, (patch, entity, f2p) in variants.items()]
    with Store.open(tmp_path / "bugfoundry.duckdb") as store:
        store.import_instances(recs)
        got = store.duplicate_map()
        want = {d: (g.kind, g.representative) for g in find_groups(store.dedup_records())
                for d in g.duplicates}
    assert got == want
    assert got["r.1"] == ("exact", "r.0") and got["r.3"] == ("near", "r.0")
    assert "r.5" not in got and "r.6" not in got  # no entity: never near
