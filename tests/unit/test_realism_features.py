"""Per-instance realism features: diff shape, direction, failure kinds and naturalness."""

from __future__ import annotations

from engine.diffs import make_patch
from engine.instances import FeatureInput
from engine.realism.features import compute, exception_of, failure_kind
from engine.realism.naturalness import NgramModel, tokens

ORIGINAL = (
    "def total(xs):\n"
    "    acc = 0\n"
    "    for x in xs:\n"
    "        acc = acc + x\n"
    "    return acc\n"
)


def rec(buggy: str, failures: dict[str, str], original: str = ORIGINAL) -> FeatureInput:
    return FeatureInput("i", "pkg/m.py", make_patch("pkg/m.py", original, buggy),
                        list(failures), failures)


def test_removed_assignment_with_name_error_at_the_edit_is_a_structural_tell() -> None:
    buggy = ORIGINAL.replace("    acc = 0\n", "")
    tb = ("tests/test_m.py:5: in test_total\n    assert total([1]) == 1\n"
          "pkg/m.py:3: in total\n        acc = acc + x\nE   UnboundLocalError: cannot access "
          "local variable 'acc'")
    f = compute(rec(buggy, {"tests/test_m.py::test_total": tb}),
                read=lambda rel: ORIGINAL if rel == "pkg/m.py" else None)
    assert (f.files, f.hunks, f.lines_added, f.lines_removed) == (1, 1, 0, 1)
    assert f.edit_kind == "stmt_removed" and f.direction == "add"
    assert f.failure_kind == "structural_at_edit" and f.crash_at_edit
    assert f.exceptions == {"UnboundLocalError": 1}
    assert (f.n_f2p, f.f2p_files) == (1, 1)


def test_operator_change_failing_on_assertions() -> None:
    buggy = ORIGINAL.replace("acc + x", "acc - x")
    fails = {f"tests/test_{k}.py::test_t": "E   assert -3 == 3\nE    +  where -3 = total([1, 2])"
             for k in ("a", "b")}
    f = compute(rec(buggy, fails))  # no file reader: classified on the hunk alone
    assert f.edit_kind == "change_binary_operator"
    assert f.edit_detail == "Sub -> Add"  # named from the fix's side
    assert f.direction == "replace" and f.changed_tokens == 1
    assert f.failure_kind == "assertion" and not f.crash_at_edit
    assert (f.n_f2p, f.f2p_files) == (2, 2)


def test_exception_parsing_and_mixed_kinds() -> None:
    assert exception_of("x.py:3: in f\nE   KeyError: 'a'")[0] == "KeyError"
    assert exception_of("E   decimal.InvalidOperation: [<class ...>]")[0] == "InvalidOperation"
    assert exception_of("E   Failed: DID NOT RAISE <class 'ValueError'>")[0] == "Failed"
    kind, counts, _ = failure_kind({"a": "E   assert 1 == 2", "b": "E   TypeError: bad"}, {})
    assert kind == "mixed" and counts == {"AssertionError": 1, "TypeError": 1}
    assert failure_kind({"a": "E   AttributeError: 'NoneType'"}, {})[0] == "type_attribute"
    assert failure_kind({"a": "E   ValueError: no"}, {})[0] == "domain"
    assert failure_kind({"a": "E   NameError: name 'q'"}, {"m.py": {9}})[0] == "structural"
    assert failure_kind({}, {})[0] == "unknown"


CORPUS = {
    f"pkg/f{k}.py": "".join(
        f"def g{k}_{j}(a, b):\n    x = a + b\n    y = a - b\n    return x * y\n"
        for j in range(20))
    for k in range(5)
}


def test_naturalness_an_unseen_operator_is_less_natural_than_a_common_one() -> None:
    model = NgramModel(CORPUS)
    natural = model.delta(["    x = a - b"], ["    x = a + b"], exclude_file="pkg/f0.py")[2]
    unnatural = model.delta(["    x = a % b"], ["    x = a + b"], exclude_file="pkg/f0.py")[2]
    assert natural is not None and unnatural is not None
    assert abs(natural) < 0.5 < unnatural


def test_naturalness_leaves_the_instances_own_file_out() -> None:
    files = {**CORPUS, "pkg/own.py": "def h():\n    zeta = omega ** 7\n"}
    model = NgramModel(files)
    line = ["    zeta = omega ** 7"]
    seen = model.entropy(line)
    held_out = model.entropy(line, exclude_file="pkg/own.py")
    assert seen is not None and held_out is not None and held_out > seen + 2


def test_tokens_drop_comments_and_abstract_long_strings() -> None:
    assert tokens("x = f('a', \"a very long string indeed\")  # note") == [
        "x", "=", "f", "(", "'a'", ",", "<STR>", ")"]


def test_no_naturalness_from_a_model_that_holds_no_other_file() -> None:
    # a one-module project: left out, the bug's own file leaves the trigram empty, and its
    # delta (0 for every bug) would say nothing; with the rest of a package it is measured
    buggy = ORIGINAL.replace("acc + x", "acc - x")
    alone = NgramModel({"pkg/m.py": ORIGINAL, "pkg/m.pyi": "def total(xs: list) -> int: ...\n"})
    assert compute(rec(buggy, {}), model=alone).naturalness_delta is None
    big = {f"pkg/f{k}.py": CORPUS["pkg/f0.py"].replace("g0_", f"g{k}_") * 2 for k in range(6)}
    f = compute(rec(buggy, {}), model=NgramModel({**big, "pkg/m.py": ORIGINAL}))
    assert f.naturalness_delta is not None and f.buggy_entropy is not None
