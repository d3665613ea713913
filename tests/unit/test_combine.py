"""Combine: merging diffs, grouping by file and module, each bug once, F2P relations."""

from __future__ import annotations

from collections import Counter

from engine.diffs import apply_patch, changed_lines, make_patch
from engine.strategies.combine import (
    CombineConfig,
    Component,
    combinations,
    f2p_relation,
    merge,
    module_key,
)

BODY = "".join(f"def f{k}(x):\n    y = x + {k}\n    return y\n\n\n" for k in range(8))
FILES = {"pkg/a.py": BODY, "pkg/b.py": BODY, "pkg/sub/c.py": BODY, "other/d.py": BODY}


def _bug(rel: str, k: int, new: str = "-") -> Component:
    after = FILES[rel].replace(f"y = x + {k}\n", f"y = x {new} {k}\n")
    return Component(f"i.{rel}.{k}{new}", rel, f"f{k}", make_patch(rel, FILES[rel], after),
                     changed_lines(FILES[rel], after), (f"t::{k}",))


def test_module_key() -> None:
    assert module_key("pkg/sub/c.py") == "pkg/sub"
    assert module_key("pkg/sub/c.py", depth=1) == "pkg"
    assert module_key("top.py") == "."


def test_merge_same_file_and_across_files() -> None:
    merged = merge([_bug("pkg/a.py", 1), _bug("pkg/a.py", 5)], FILES.get)
    assert merged is not None
    out = apply_patch(dict(FILES), merged)
    assert out["pkg/a.py"].count(" - ") == 2
    across = merge([_bug("pkg/a.py", 1), _bug("pkg/b.py", 1)], FILES.get)
    assert across is not None and set(apply_patch(dict(FILES), across)) == {"pkg/a.py",
                                                                              "pkg/b.py"}


def test_merge_refuses_overlapping_bugs() -> None:
    assert merge([_bug("pkg/a.py", 1), _bug("pkg/a.py", 1, "*")], FILES.get) is None
    assert merge([_bug("pkg/a.py", 1)], lambda rel: None) is None


def test_f2p_relation() -> None:
    assert f2p_relation(["a"], [["a"], ["a"]]) == "equal"
    assert f2p_relation(["a", "b"], [["a"], ["b"]]) == "union"
    assert f2p_relation(["a", "b", "c"], [["a"], ["b"]]) == "superset"
    assert f2p_relation(["a"], [["a"], ["b"]]) == "other"


def test_combinations_use_each_bug_once_and_respect_scopes() -> None:
    comps = [_bug(rel, k) for rel in FILES for k in range(0, 8, 2)]
    cands = combinations(comps, "demo", CombineConfig(max_bugs=3, per_group=2), FILES.get)
    used = Counter(i for c in cands for i in c.meta["components"])
    assert used and max(used.values()) == 1
    kinds = Counter(c.modifier for c in cands)
    assert kinds["file"] >= 4 and kinds["module"] >= 1
    for c in cands:
        assert 2 <= c.meta["n_bugs"] <= 3 and c.strategy == "combine"
        files = c.meta["files"]
        assert (len(files) == 1) if c.modifier == "file" else (len(files) == c.meta["n_bugs"])
        if c.modifier == "module":  # one package: pkg/a.py with pkg/b.py, never other/
            assert len({module_key(f) for f in files}) == 1
        apply_patch(dict(FILES), c.patch)  # the merged diff applies to the pinned texts
    again = combinations(comps, "demo", CombineConfig(max_bugs=3, per_group=2), FILES.get)
    assert [c.candidate_id for c in again] == [c.candidate_id for c in cands]  # resumable
    only_file = combinations(comps, "demo", CombineConfig(scopes=("file",)), FILES.get)
    assert {c.modifier for c in only_file} == {"file"}
    deep = combinations(comps, "demo", CombineConfig(scopes=("module",), depth=1), FILES.get)
    assert any("pkg/sub/c.py" in c.meta["files"] for c in deep)  # pkg/sub joins pkg at depth 1
