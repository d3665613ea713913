"""Procedural bug forging: deterministic libcst mutations of functions, methods and classes.

Compared with SWE-smith's ``func_pm_*`` modifiers, every candidate changes exactly one site (one
operator, statement, if, base class or method; ``two_slips`` pairs two on distinct statements),
up to ``per_entity`` distinct sites per (entity, modifier), chosen by an RNG seeded from a
stable hash. Annotations, docstrings, logging calls and ``TYPE_CHECKING`` / ``__main__`` blocks
are never touched, async code is included, and every patch is checked to compile and to be new
before it is yielded.
"""

from __future__ import annotations

import hashlib
import random
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import libcst as cst
from libcst.metadata import ParentNodeProvider, PositionProvider

from engine.diffs import changed_lines, make_patch
from engine.entities import (
    FUNCTION_KINDS,
    EntityNode,
    ParsedFile,
    iter_source_files,
    parse_file,
    read_source,
)
from engine.errors import UsageError
from engine.models import Candidate
from engine.strategies import modifiers_calls as mcall
from engine.strategies import modifiers_class as mc
from engine.strategies import modifiers_guard as mg
from engine.strategies import modifiers_ops as mo
from engine.strategies import modifiers_pair as mp
from engine.strategies import modifiers_real as mr
from engine.strategies import modifiers_stmts as ms
from engine.strategies.modifiers_base import EntityContext, Modifier, Site, apply_site
from engine.strategies.splice import Splicer

__all__ = ["MODIFIERS", "REAL_SHAPES", "Modifier", "generate", "parse_modifiers"]

STRATEGY = "procedural"
_CLASS = frozenset({"class"})
# Their bodies only format text; a mutation there is noise no test is likely to pin.
_SKIP_FUNCTIONS = frozenset({"__repr__", "__str__"})


MODIFIERS: dict[str, Modifier] = {
    m.name: m
    for m in (
        Modifier(
            "class_rm_base",
            "a base class was dropped from a class definition, so inherited behaviour is missing",
            _CLASS,
            mc.sites_class_rm_base,
        ),
        Modifier(
            "class_rm_funcs",
            "a method was deleted from a class and the calls to it now produce None",
            _CLASS,
            mc.sites_class_rm_funcs,
        ),
        Modifier(
            "class_shuffle_funcs",
            "two methods of a class were swapped, which matters when definitions depend on order",
            _CLASS,
            mc.sites_class_shuffle_funcs,
            max_diff_lines=2 * mc.MAX_SHUFFLE_METHOD_LINES + 10,
        ),
        Modifier(
            "ctrl_invert_if",
            "the branches of a conditional were swapped, so each case runs the other's code",
            FUNCTION_KINDS,
            ms.sites_ctrl_invert_if,
        ),
        Modifier(
            "ctrl_shuffle",
            "two consecutive statements of a function run in the wrong order",
            FUNCTION_KINDS,
            ms.sites_ctrl_shuffle,
        ),
        Modifier(
            "remove_assign",
            "an assignment inside a function was deleted, so a value is never set or updated",
            FUNCTION_KINDS,
            ms.sites_remove_assign,
        ),
        Modifier(
            "remove_cond",
            "a whole if statement was deleted, so a condition is no longer handled",
            FUNCTION_KINDS,
            ms.sites_remove_cond,
        ),
        Modifier(
            "remove_loop",
            "a loop was deleted, so work that should repeat over items never happens",
            FUNCTION_KINDS,
            ms.sites_remove_loop,
        ),
        Modifier(
            "remove_wrapper",
            "a with or try block was deleted together with the code inside it",
            FUNCTION_KINDS,
            ms.sites_remove_wrapper,
        ),
        Modifier(
            "op_break_chains",
            "part of a chained expression was dropped, so one operand is ignored",
            FUNCTION_KINDS,
            mo.sites_op_break_chains,
        ),
        Modifier(
            "op_change_const",
            "an integer constant in an expression is off by one",
            FUNCTION_KINDS,
            mo.sites_op_change_const,
        ),
        Modifier(
            "op_change",
            "an arithmetic or bitwise operator was replaced by a related one",
            FUNCTION_KINDS,
            mo.sites_op_change,
        ),
        Modifier(
            "op_swap",
            "the operands of a binary or boolean operation were swapped",
            FUNCTION_KINDS,
            mo.sites_op_swap,
        ),
        Modifier(
            "flip_operators",
            "an operator was flipped to its opposite (+/-, and/or, ==/!=, </>, in/not in, ...)",
            FUNCTION_KINDS,
            mo.sites_flip_operators,
        ),
        # The shapes real one-statement fixes take (modifiers_real, _calls, _guard).
        Modifier(
            "wrong_name",
            "a variable was read in place of another local of the function with a similar name",
            FUNCTION_KINDS,
            mr.sites_wrong_name,
        ),
        Modifier(
            "wrong_attr",
            "a method reads the wrong attribute of self, another one its class sets",
            FUNCTION_KINDS,
            mr.sites_wrong_attr,
        ),
        Modifier(
            "call_swap_args",
            "two positional arguments of a call were passed in the wrong order",
            FUNCTION_KINDS,
            mcall.sites_call_swap_args,
        ),
        Modifier(
            "call_drop_kwarg",
            "a keyword argument was left out of a call, so the callee's default is used",
            FUNCTION_KINDS,
            mcall.sites_call_drop_kwarg,
        ),
        Modifier(
            "drop_call",
            "a call made for its effect was left out, so that update never happens",
            FUNCTION_KINDS,
            mcall.sites_drop_call,
        ),
        Modifier(
            "unwrap_call",
            "a converting or copying call was left out, so the raw value is used",
            FUNCTION_KINDS,
            mcall.sites_unwrap_call,
        ),
        Modifier(
            "drop_await",
            "an await was left out, so a coroutine is created but never run",
            FUNCTION_KINDS,
            mcall.sites_drop_await,
        ),
        Modifier(
            "weaken_guard",
            "one part of an and/or condition was left out, so a case is no longer checked",
            FUNCTION_KINDS,
            mg.sites_weaken_guard,
        ),
        Modifier(
            "unguard",
            "the check around a block is missing, so the block runs for every input",
            FUNCTION_KINDS,
            mg.sites_unguard,
        ),
        Modifier(
            "wrong_default",
            "a parameter's default value is slightly wrong (a flipped flag, a count off by one)",
            FUNCTION_KINDS,
            mg.sites_wrong_default,
        ),
        Modifier(
            "off_by_one",
            "a slice or range bound is off by one",
            FUNCTION_KINDS,
            mg.sites_off_by_one,
        ),
        Modifier(
            "wrong_exception",
            "the wrong exception type is caught or raised",
            FUNCTION_KINDS,
            mg.sites_wrong_exception,
        ),
    )
}
# Slips of these shapes pair up in ``two_slips`` (expression-level: no block or header edits).
_SLIPS = ("wrong_name", "wrong_attr", "call_swap_args", "call_drop_kwarg", "unwrap_call",
          "off_by_one", "weaken_guard", "wrong_exception", "drop_call", "drop_await")
MODIFIERS["two_slips"] = Modifier(
    "two_slips",
    "two slips were made in one function (a wrong name, argument, bound or check in two "
    "statements), as when one mistake is repeated or an edit goes wrong in two places",
    FUNCTION_KINDS,
    mp.pair_sites([(n, MODIFIERS[n].find_sites) for n in _SLIPS]),
)
# The modifiers aimed at the shapes of real fixes (README: "Real bug shapes").
REAL_SHAPES = ("wrong_name", "wrong_attr", "call_swap_args", "call_drop_kwarg", "drop_call",
               "unwrap_call", "drop_await", "weaken_guard", "unguard", "wrong_default",
               "off_by_one", "wrong_exception", "two_slips")


def parse_modifiers(text: str) -> tuple[str, ...]:
    """``--modifiers a,b`` as names; ``real`` stands for ``REAL_SHAPES``. Raises on unknown."""
    names: list[str] = []
    for part in (p.strip() for p in text.split(",")):
        if part:
            names += REAL_SHAPES if part == "real" else [part]
    unknown = [n for n in names if n not in MODIFIERS]
    if unknown or not names:
        raise UsageError(
            f"unknown procedural modifier(s): {', '.join(unknown) or '(none given)'}; "
            f"choose from real, {', '.join(MODIFIERS)}"
        )
    return tuple(dict.fromkeys(names))


def _rng(seed: int, file: str, qualname: str, modifier: str) -> random.Random:
    """An RNG that depends only on its inputs: sha256, never the salted builtin ``hash()``."""
    digest = hashlib.sha256(f"{seed}:{file}:{qualname}:{modifier}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _body_lines(ctx: EntityContext) -> set[int]:
    """Lines that only execute when the entity is used (not at import time).

    For a function: its body. For a class: the bodies of its methods (``def`` lines run at
    import, so they prove nothing); a class without methods falls back to its whole body.
    """
    node = ctx.node
    if isinstance(node, cst.FunctionDef):
        return _suite_lines(ctx, node.body)
    lines: set[int] = set()
    for stmt in node.body.body:
        if isinstance(stmt, cst.FunctionDef):
            lines |= _suite_lines(ctx, stmt.body)
    return lines or _suite_lines(ctx, node.body)


def _suite_lines(ctx: EntityContext, suite: cst.BaseSuite) -> set[int]:
    if isinstance(suite, cst.IndentedBlock) and suite.body:
        start = ctx.span(suite.body[0])[0]
        end = ctx.span(suite.body[-1])[1]
        return set(range(start, end + 1))
    start, end = ctx.span(suite)
    return set(range(start, end + 1))


def _site_covered(site: Site, covered: set[int]) -> bool:
    return all(any(line in covered for line in range(start, end + 1))
               for start, end in site.parts or (site.lines,))


def _diff_size(patch: str) -> int:
    """Added plus removed lines (the three header lines skipped)."""
    return sum(1 for line in patch.splitlines()[3:] if line.startswith(("+", "-")))


def _compiles(code: str, rel: str) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            compile(code, rel, "exec", dont_inherit=True)
        except (SyntaxError, ValueError):
            return False
    return True


def _contexts(parsed: ParsedFile) -> Iterator[EntityContext]:
    positions = parsed.wrapper.resolve(PositionProvider)
    parents = parsed.wrapper.resolve(ParentNodeProvider)
    splicer = Splicer(parsed, parents)
    for item in parsed.entities:
        yield EntityContext(parsed, item, positions, parents, splicer)


def _applicable(item: EntityNode, modifier: Modifier) -> bool:
    return item.entity.kind in modifier.targets


_ARID_DECORATORS = frozenset({"overload", "abstractmethod", "abstractproperty"})


def _trivial_statement(stmt: cst.BaseStatement) -> bool:
    """Docstring, ``pass``, ``...`` or ``raise NotImplementedError``: nothing to break."""
    if not isinstance(stmt, cst.SimpleStatementLine):
        return False
    for small in stmt.body:
        if isinstance(small, cst.Pass):
            continue
        if isinstance(small, cst.Expr) and isinstance(
                small.value, cst.SimpleString | cst.ConcatenatedString | cst.Ellipsis):
            continue
        if isinstance(small, cst.Raise) and small.exc is not None and "NotImplementedError" in (
                cst.Module([]).code_for_node(small.exc)):
            continue
        return False
    return True


def is_arid(item: EntityNode) -> bool:
    """Code whose mutations are noise (Google's "arid" nodes): text formatting, stubs,
    overloads and abstract declarations, typing protocols."""
    node, entity = item.node, item.entity
    name = entity.qualname.rpartition(".")[2]
    if isinstance(node, cst.ClassDef):
        return any(_dotted(arg.value).endswith("Protocol") for arg in node.bases)
    if entity.kind in FUNCTION_KINDS and name in _SKIP_FUNCTIONS:
        return True
    if any(_dotted(d.decorator).rpartition(".")[2] in _ARID_DECORATORS
           for d in node.decorators):
        return True
    body = node.body.body if isinstance(node.body, cst.IndentedBlock) else [node.body]
    return all(_trivial_statement(s) for s in body)  # type: ignore[arg-type]


def _dotted(expr: cst.BaseExpression) -> str:
    if isinstance(expr, cst.Call):
        expr = expr.func
    if isinstance(expr, cst.Name):
        return expr.value
    if isinstance(expr, cst.Attribute):
        return f"{_dotted(expr.value)}.{expr.attr.value}"
    return ""


def generate(
    repo: str,
    repo_root: Path,
    *,
    seed: int = 0,
    modifiers: Sequence[str] | None = None,
    files: Sequence[str] | None = None,
    per_entity: int = 2,
    covered_lines: Mapping[str, set[int]] | None = None,
    stats: dict[str, int] | None = None,
) -> Iterator[Candidate]:
    """Yield procedural candidates for ``repo`` (checked out at ``repo_root``).

    Walks ``files`` (default: ``iter_source_files``) and their entities in sorted order, and for
    each (entity, modifier) yields up to ``per_entity`` single-site mutations that compile and
    whose patch text was not yielded before. With ``covered_lines`` (file -> executed lines),
    entities whose body never ran are skipped, and so are function sites on lines that never
    ran: no test could observe them. Arid entities (``is_arid``) are skipped too. ``stats``
    receives counts: entities, uncovered, arid. The output depends only on the inputs and
    ``seed``.
    """
    counts = stats if stats is not None else {}
    for key in ("entities", "uncovered", "arid"):
        counts.setdefault(key, 0)
    names = list(modifiers) if modifiers is not None else list(MODIFIERS)
    unknown = [n for n in names if n not in MODIFIERS]
    if unknown:
        raise UsageError(
            f"unknown procedural modifier(s): {', '.join(unknown)}; "
            f"choose from {', '.join(MODIFIERS)}"
        )
    root = Path(repo_root)
    rels = sorted(set(files)) if files is not None else iter_source_files(root)
    seen: set[str] = set()
    for rel in rels:
        source = read_source(root / rel)
        if source is None:
            continue
        try:
            parsed = parse_file(rel, source)
        except (cst.ParserSyntaxError, RecursionError):
            continue
        covered = covered_lines.get(rel, set()) if covered_lines is not None else None
        for ctx in _contexts(parsed):
            counts["entities"] += 1
            if is_arid(ctx.item):
                counts["arid"] += 1
                continue
            if covered is not None and not (_body_lines(ctx) & covered):
                counts["uncovered"] += 1
                continue
            for name in names:
                modifier = MODIFIERS[name]
                if not _applicable(ctx.item, modifier):
                    continue
                yield from _candidates(repo, ctx, modifier, seed, per_entity, covered, seen)


def _candidates(
    repo: str,
    ctx: EntityContext,
    modifier: Modifier,
    seed: int,
    per_entity: int,
    covered: set[int] | None,
    seen: set[str],
) -> Iterator[Candidate]:
    """Up to ``per_entity`` valid, new candidates for one (entity, modifier) pair."""
    entity = ctx.item.entity
    rng = _rng(seed, entity.file, entity.qualname, modifier.name)
    sites = modifier.find_sites(ctx, rng)
    if covered is not None and entity.kind in FUNCTION_KINDS:
        sites = [s for s in sites if _site_covered(s, covered)]
    rng.shuffle(sites)
    sites.sort(key=lambda s: -s.priority)  # stable: the seeded order holds within a priority
    source = ctx.parsed.source
    emitted = 0
    for site in sites:
        if emitted >= per_entity:
            return
        try:
            applied = apply_site(ctx, site)
        except Exception:  # noqa: BLE001 - a libcst validation error drops this site only
            continue
        new = applied.source
        if new == source or not all(_compiles(f, entity.file) for f in applied.fragments):
            continue
        patch = make_patch(entity.file, source, new)
        if patch in seen:
            continue
        if modifier.max_diff_lines and _diff_size(patch) > modifier.max_diff_lines:
            continue
        seen.add(patch)
        emitted += 1
        yield Candidate(
            repo=repo,
            strategy=STRATEGY,
            modifier=modifier.name,
            patch=patch,
            file=entity.file,
            entity=entity.qualname,
            changed_lines=changed_lines(source, new),
            seed=seed,
            meta={
                "kind": entity.kind,
                "site": site.description,
                "complexity": entity.complexity,
                "entity_lines": [entity.start_line, entity.end_line],
                "explanation": modifier.explanation,
                **site.meta,
            },
        )
