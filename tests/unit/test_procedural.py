"""Procedural modifiers: one minimal, compiling, git-applicable change per candidate."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest

from engine.diffs import changed_lines, make_patch
from engine.errors import UsageError
from engine.models import Candidate
from engine.strategies.procedural import MODIFIERS, generate

REL = "pkg/mod.py"


def _git(root: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args], cwd=root, input=stdin, text=True, capture_output=True, check=False
    )


def _repo(root: Path, source: str, rel: str = REL) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    return root


def _gen(root: Path, source: str, *modifiers: str, **kwargs: object) -> list[Candidate]:
    _repo(root, source)
    return list(generate("r", root, modifiers=list(modifiers) or None, **kwargs))  # type: ignore[arg-type]


def _applied(root: Path, cand: Candidate) -> str:
    """The file after ``git apply`` of the candidate (the tree is restored afterwards)."""
    proc = _git(root, "apply", "-", stdin=cand.patch)
    assert proc.returncode == 0, proc.stderr + cand.patch
    text = (root / cand.file).read_text()
    _git(root, "checkout", "--", ".")
    return text


def _results(root: Path, cands: list[Candidate]) -> list[str]:
    return [_applied(root, c) for c in cands]


def _minus_plus(cand: Candidate) -> tuple[list[str], list[str]]:
    lines = cand.patch.splitlines()[3:]
    minus = [ln[1:] for ln in lines if ln.startswith("-")]
    plus = [ln[1:] for ln in lines if ln.startswith("+")]
    return minus, plus


# --- registry -------------------------------------------------------------------------------


def test_registry_has_swe_smith_s_modifiers_and_the_real_shapes() -> None:
    assert set(MODIFIERS) == {
        "class_rm_base", "class_rm_funcs", "class_shuffle_funcs", "ctrl_invert_if",
        "ctrl_shuffle", "remove_assign", "remove_cond", "remove_loop", "remove_wrapper",
        "op_break_chains", "op_change_const", "op_change", "op_swap", "flip_operators",
        # modifiers_real / modifiers_guard (tests/unit/test_real_shapes.py)
        "wrong_name", "wrong_attr", "call_swap_args", "call_drop_kwarg", "drop_call",
        "unwrap_call", "drop_await", "weaken_guard", "unguard", "wrong_default", "off_by_one",
        "wrong_exception", "two_slips",
    }  # fmt: skip
    for name, modifier in MODIFIERS.items():
        assert modifier.name == name
        assert modifier.explanation and "\n" not in modifier.explanation


def test_unknown_modifier_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        list(generate("r", tmp_path, modifiers=["nope"]))


# --- expression modifiers ---------------------------------------------------------------------


def test_op_change_keeps_tight_and_multiline_whitespace(tmp_path: Path) -> None:
    src = """\
    def f(a, b, c):
        x = a**b
        y = (a
             - c)
        return x, y
    """
    results = _results(tmp_path, _gen(tmp_path, src, "op_change", per_entity=5))
    assert any("x = a*b\n" in r for r in results)
    assert any("y = (a\n         + c)" in r for r in results)
    assert len(results) == 2


def test_op_change_reparenthesises_when_precedence_moves(tmp_path: Path) -> None:
    src = """\
    def f(x, y):
        return x / y ** 2
    """
    results = _results(tmp_path, _gen(tmp_path, src, "op_change", per_entity=5))
    assert any("return x / (y * 2)" in r for r in results)


def test_op_change_skips_string_formatting(tmp_path: Path) -> None:
    src = """\
    def f(x):
        return "%s!" % x
    """
    assert _gen(tmp_path, src, "op_change", "flip_operators") == []


def test_op_swap_swaps_and_skips_noops(tmp_path: Path) -> None:
    src = """\
    def f(a, b, c):
        d = a - b - c
        e = a * a
        g = b + 1
        return d, e, g
    """
    cands = _gen(tmp_path, src, "op_swap", per_entity=10)
    results = _results(tmp_path, cands)
    assert sorted(r.splitlines()[1].strip() for r in results) == [
        "d = b - a - c",
        "d = c - (a - b)",
    ]


def test_op_break_chains(tmp_path: Path) -> None:
    src = """\
    def f(a, b, c):
        return a + b * c
    """
    results = _results(tmp_path, _gen(tmp_path, src, "op_break_chains", per_entity=5))
    assert [r.splitlines()[1].strip() for r in results] == ["return a + c"]


def test_op_change_const_off_by_one_keeps_base(tmp_path: Path) -> None:
    src = """\
    def f(x, n):
        if n < 10:
            return x & 0xFF
        return x
    """
    results = _results(tmp_path, _gen(tmp_path, src, "op_change_const", per_entity=5))
    lines = sorted(r.splitlines()[1:3][i].strip() for r in results for i in (0, 1))
    assert any(line in {"return x & 0xFE", "return x & 0x100"} for line in lines)
    assert any(line in {"if n < 9:", "if n < 11:"} for line in lines)
    assert len(results) == 2


def test_flip_operators_table(tmp_path: Path) -> None:
    src = """\
    def f(a, b):
        return a == b, a in b, a is not b, a and b, a <= b
    """
    results = _results(tmp_path, _gen(tmp_path, src, "flip_operators", per_entity=10))
    body = sorted(r.splitlines()[1].strip() for r in results)
    assert body == sorted(
        [
            "return a != b, a in b, a is not b, a and b, a <= b",
            "return a == b, a not in b, a is not b, a and b, a <= b",
            "return a == b, a in b, a is b, a and b, a <= b",
            "return a == b, a in b, a is not b, a or b, a <= b",
            "return a == b, a in b, a is not b, a and b, a >= b",
        ]
    )


# --- pitfalls ---------------------------------------------------------------------------------


ANNOTATED = """\
def f(x: int | None) -> int | None:
    \"\"\"Docstring mentioning 1 + 2 and a | b.\"\"\"
    y: int | None = x | 1
    return x | 1
"""


def test_annotations_and_docstrings_are_never_mutated(tmp_path: Path) -> None:
    cands = _gen(tmp_path, ANNOTATED)
    assert cands
    for cand in cands:
        new = _applied(tmp_path, cand)
        assert "def f(x: int | None) -> int | None:" in new
        assert '"""Docstring mentioning 1 + 2 and a | b."""' in new
        minus, plus = _minus_plus(cand)
        for line in minus + plus:
            assert "int | None" not in line or line.strip().startswith("y: int | None =")


def test_type_unions_outside_annotations_are_skipped(tmp_path: Path) -> None:
    src = """\
    def f(x):
        return isinstance(x, int | None)
    """
    assert _gen(tmp_path, src, "op_change", "op_swap", "flip_operators") == []


def test_guards_logging_and_repr_are_left_alone(tmp_path: Path) -> None:
    src = """\
    import logging

    log = logging.getLogger(__name__)


    def f(x):
        if TYPE_CHECKING:
            y = x + 1
        log.debug("x=%s", x + 1)
        if x:
            log.info("only logs")
        return x


    class A:
        def __repr__(self):
            return "A(%d)" % (1 + 2)
    """
    cands = _gen(tmp_path, src)
    for cand in cands:
        assert cand.entity != "A.__repr__"
        minus, _ = _minus_plus(cand)
        assert not any("TYPE_CHECKING" in m or "log." in m or "y = x" in m for m in minus), cand
    assert not any(c.modifier == "remove_cond" for c in cands)


def test_async_code_is_mutated(tmp_path: Path) -> None:
    src = """\
    async def fetch(items, lock):
        total = 0
        async with lock:
            total += 1
        async for item in items:
            total += await item
        return total


    class Client:
        async def get(self, n):
            return n - 1
    """
    cands = _gen(tmp_path, src)
    mods = {c.modifier for c in cands if c.entity == "fetch"}
    assert {"remove_loop", "remove_wrapper", "remove_assign", "ctrl_shuffle"} <= mods
    assert any(c.entity == "Client.get" and c.meta["kind"] == "async_method" for c in cands)
    loops = _results(tmp_path, [c for c in cands if c.modifier == "remove_loop"])
    assert "async for" not in loops[0]
    wrappers = _results(tmp_path, [c for c in cands if c.modifier == "remove_wrapper"])
    assert "async with" not in wrappers[0]


def test_nested_functions_are_not_double_counted(tmp_path: Path) -> None:
    src = """\
    def outer(a):
        def inner(b):
            return b - 1
        return inner(a)
    """
    cands = _gen(tmp_path, src, "op_change", per_entity=5)
    assert [c.entity for c in cands] == ["outer"]
    assert len({c.patch for c in cands}) == len(cands)


def test_patches_are_deduplicated_across_modifiers(tmp_path: Path) -> None:
    src = """\
    def f(a, b):
        return a + b
    """
    cands = _gen(tmp_path, src, "op_change", "flip_operators")
    assert [c.modifier for c in cands] == ["op_change"]


# --- statement modifiers ------------------------------------------------------------------------


def test_remove_assign_kinds_and_scope(tmp_path: Path) -> None:
    src = """\
    LIMIT = 3


    def f(a):
        b = a
        b += 1
        c: int = b
        d: int
        return c
    """
    cands = _gen(tmp_path, src, "remove_assign", per_entity=10)
    removed = sorted(_minus_plus(c)[0][0].strip() for c in cands)
    assert removed == ["b += 1", "b = a", "c: int = b"]


def test_remove_cond_loop_wrapper(tmp_path: Path) -> None:
    src = """\
    def f(xs):
        out = []
        for x in xs:
            if x:
                out.append(x)
            else:
                continue
        while out:
            out.pop()
        try:
            out.sort()
        except TypeError:
            pass
        with open("f") as fh:
            fh.read()
        return out
    """
    per = {}
    for name in ("remove_cond", "remove_loop", "remove_wrapper"):
        per[name] = _results(tmp_path, _gen(tmp_path, src, name, per_entity=5))
    assert len(per["remove_cond"]) == 1
    assert "if x:" not in per["remove_cond"][0] and "continue" not in per["remove_cond"][0]
    assert "    for x in xs:\n        pass\n" in per["remove_cond"][0]  # emptied body gets pass
    assert len(per["remove_loop"]) == 2
    assert len(per["remove_wrapper"]) == 2
    assert all(compile(r, "x", "exec") for r in per["remove_loop"] + per["remove_wrapper"])


def test_removing_the_only_statement_leaves_pass(tmp_path: Path) -> None:
    src = """\
    def f(xs):
        for x in xs:
            total = x
        return xs
    """
    [cand] = _gen(tmp_path, src, "remove_assign")
    assert "    for x in xs:\n        pass\n" in _applied(tmp_path, cand)


def test_ctrl_invert_if_swaps_bodies_not_condition(tmp_path: Path) -> None:
    src = """\
    def f(x):
        if x > 0:  # positive
            return "pos"
        elif x < 0:
            return "neg"
        else:
            return "zero"
    """
    results = _results(tmp_path, _gen(tmp_path, src, "ctrl_invert_if", per_entity=5))
    assert len(results) == 1
    assert 'elif x < 0:\n        return "zero"\n    else:\n        return "neg"' in results[0]
    assert "if x > 0:  # positive" in results[0]


def test_ctrl_invert_if_on_conditional_expression(tmp_path: Path) -> None:
    src = """\
    def f(x):
        return "a" if x else "b"
    """
    [result] = _results(tmp_path, _gen(tmp_path, src, "ctrl_invert_if"))
    assert 'return "b" if x else "a"' in result


def test_ctrl_shuffle_keeps_docstring_first_and_skips_independent_pairs(tmp_path: Path) -> None:
    src = """\
    def f(x):
        \"\"\"Doc.\"\"\"
        a = 1
        b = 2
        c = a + x
        return c + b
    """
    cands = _gen(tmp_path, src, "ctrl_shuffle", per_entity=10)
    results = _results(tmp_path, cands)
    assert len(results) == 1  # (a, b) and (b, c) are independent: swapping them is a no-op
    assert results[0].endswith("    return c + b\n    c = a + x\n")
    for result in results:
        assert result.splitlines()[1].strip() == '"""Doc."""'


# --- class modifiers ----------------------------------------------------------------------------


def test_class_rm_base(tmp_path: Path) -> None:
    src = """\
    class A(Base, Mixin, metaclass=Meta):
        pass


    class B(Base):
        pass


    class C(object):
        pass
    """
    results = _results(tmp_path, _gen(tmp_path, src, "class_rm_base", per_entity=5))
    heads = {ln for r in results for ln in r.splitlines() if ln.startswith("class ")}
    assert "class A(Mixin, metaclass=Meta):" in heads
    assert "class A(Base, metaclass=Meta):" in heads
    assert "class B:" in heads
    assert all("class C(object):" in r for r in results)
    assert len(results) == 3


def test_class_rm_funcs_replaces_self_calls(tmp_path: Path) -> None:
    src = """\
    class Stack:
        def push(self, x):
            self._check(x)
            return self._grow(x) + 1

        def _check(self, x):
            return x

        async def _grow(self, x):
            return await self.other(x)

        async def pull(self):
            return await self._grow(1)

        @property
        def size(self):
            return 1

        @size.setter
        def size(self, v):
            pass
    """
    cands = _gen(tmp_path, src, "class_rm_funcs", per_entity=10)
    by_site = {c.meta["site"].split(" (")[0]: _applied(tmp_path, c) for c in cands}
    removed = by_site["remove method Stack._check"]
    assert "def _check" not in removed and "        None\n" in removed
    grown = by_site["remove method Stack._grow"]
    assert "return None + 1" in grown and "return None\n" in grown  # the await went too
    assert "remove method Stack.size" not in by_site  # getter/setter pair stays


def test_class_rm_funcs_skips_abstract_classes_and_methods(tmp_path: Path) -> None:
    src = """\
    from abc import ABC, abstractmethod


    class Base(ABC):
        def helper(self):
            return 1


    class Partial:
        @abstractmethod
        def run(self):
            ...

        def other(self):
            return 2
    """
    cands = _gen(tmp_path, src, "class_rm_funcs", per_entity=10)
    assert [c.meta["site"].split(" (")[0] for c in cands] == ["remove method Partial.other"]


def test_class_shuffle_funcs_swaps_adjacent_methods(tmp_path: Path) -> None:
    src = """\
    class A:
        x = 1

        def one(self):
            return 1

        def two(self):
            return 2
    """
    [result] = _results(tmp_path, _gen(tmp_path, src, "class_shuffle_funcs"))
    assert result.index("def two") < result.index("def one")
    assert "    x = 1\n\n    def two" in result


# --- determinism, coverage, patches ------------------------------------------------------------


MIXED = """\
class Ledger(Base):
    def post(self, a, b):
        if a > b and b != 0:
            a = a - b * 2
        else:
            a += 1
        for i in range(3):
            b = b << i
        return a % b


def parse(rows, sep=","):
    out = []
    for row in rows:
        if not row or row.startswith("#"):
            continue
        out.append(row.split(sep)[0:2])
    return out if out else None
"""


def test_same_seed_same_output_different_seed_differs(tmp_path: Path) -> None:
    _repo(tmp_path, MIXED)
    first = list(generate("r", tmp_path, seed=1))
    again = list(generate("r", tmp_path, seed=1))
    assert [c.patch for c in first] == [c.patch for c in again]
    assert first == again
    others = [[c.patch for c in generate("r", tmp_path, seed=s)] for s in range(2, 6)]
    assert any(o != [c.patch for c in first] for o in others)
    assert all(c.seed == 1 and c.strategy == "procedural" for c in first)


def test_every_patch_applies_and_is_unique(tmp_path: Path) -> None:
    _repo(tmp_path, MIXED)
    cands = list(generate("r", tmp_path, per_entity=3))
    assert len(cands) > 20
    assert len({c.patch for c in cands}) == len(cands)
    for cand in cands:
        check = _git(tmp_path, "apply", "--check", "-", stdin=cand.patch)
        assert check.returncode == 0, check.stderr + cand.patch
        assert cand.changed_lines and cand.file == REL
        new = _applied(tmp_path, cand)
        compile(new, REL, "exec")


def test_covered_lines_skip_unexecuted_entities(tmp_path: Path) -> None:
    _repo(tmp_path, MIXED)
    covered = {REL: {1, 2, 12, 13, 14, 15, 16, 17, 18}}  # Ledger.post's body never ran
    cands = list(generate("r", tmp_path, covered_lines=covered))
    assert cands and {c.entity for c in cands} == {"parse"}
    assert list(generate("r", tmp_path, covered_lines={})) == []


def test_make_patch_handles_missing_trailing_newline(tmp_path: Path) -> None:
    old = "a = 1\nb = 2"
    new = "a = 1\nb = 3"
    _repo(tmp_path, old, rel="x.py")
    (tmp_path / "x.py").write_text(old)
    _git(tmp_path, "commit", "-qam", "nonl")
    patch = make_patch("x.py", old, new)
    assert patch.startswith("diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n")
    assert "\\ No newline at end of file" in patch
    assert _git(tmp_path, "apply", "--check", "-", stdin=patch).returncode == 0
    assert make_patch("x.py", old, old) == ""
    assert changed_lines(old, new) == (2,)


def test_class_shuffle_prefers_order_sensitive_pairs(tmp_path: Path) -> None:
    src = """\
    class A:
        def a(self):
            return 0

        def b(self):
            return 1

        @property
        def x(self):
            return 1

        @x.setter
        def x(self, v):
            pass

        def c(self):
            return 2
    """
    [cand] = _gen(tmp_path, src, "class_shuffle_funcs", per_entity=1)
    assert "definition order matters" in cand.meta["site"]
    assert cand.meta["order_sensitive"] is True
    result = _applied(tmp_path, cand)
    assert result.index("@x.setter") < result.index("@property")


@pytest.mark.parametrize("variant", ["plain", "crlf", "no-final-newline", "tabs"], ids=lambda v: v)
def test_fast_splice_matches_a_full_transform(tmp_path: Path, variant: str) -> None:
    """The path-copy splice must give byte-identical output to a whole-module transform."""
    from engine.entities import parse_file
    from engine.strategies.modifiers_base import apply_site
    from engine.strategies.procedural import _contexts, _rng
    from engine.strategies.splice import FullTransform

    source = MIXED
    if variant == "crlf":
        source = source.replace("\n", "\r\n")
    elif variant == "no-final-newline":
        source = source.rstrip("\n")
    elif variant == "tabs":
        source = source.replace("    ", "\t")
    parsed = parse_file(REL, source)
    checked = 0
    for ctx in _contexts(parsed):
        entity = ctx.item.entity
        for modifier in MODIFIERS.values():
            if entity.kind not in modifier.targets:
                continue
            for site in modifier.find_sites(ctx, _rng(0, REL, entity.qualname, modifier.name)):
                fast = apply_site(ctx, site).source
                assert fast == parsed.module.visit(FullTransform(site.edits)).code, site.description
                checked += 1
    assert checked > 30


@pytest.mark.parametrize("variant", ["crlf", "no-final-newline"])
def test_patches_apply_to_unusual_line_endings(tmp_path: Path, variant: str) -> None:
    source = MIXED.replace("\n", "\r\n") if variant == "crlf" else MIXED.rstrip("\n")
    path = tmp_path / REL
    path.parent.mkdir(parents=True)
    path.write_bytes(source.encode())
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    cands = list(generate("r", tmp_path))
    assert len(cands) > 20
    for cand in cands:
        check = _git(tmp_path, "apply", "--check", "-", stdin=cand.patch)
        assert check.returncode == 0, check.stderr + cand.patch
