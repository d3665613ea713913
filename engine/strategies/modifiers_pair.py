"""``two_slips``: two real-shape slips in two statements of one function.

Real fixes mostly change several statements (74% of the 1,507 fixes mined from the zoo's
histories, ``engine/realism/reference.json``), while every single-site modifier changes one, and
that alone is the realism stick's strongest tell. A slip a developer makes twice (the same wrong
name read in two places, a bound off by one in a slice and its loop) or two slips made in one
edit of a function are the multi-statement bugs the one-site modifiers cannot make. The sites
come from the expression-level real-shape modifiers; pairs that repeat the same slip, or sit
close together, are tried first.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

import libcst as cst

from engine.strategies.modifiers_base import EntityContext, Site

SiteFinder = Callable[[EntityContext, random.Random], list[Site]]
MAX_SITES = 14  # sites drawn per entity before pairing (pairs grow as the square)
NEAR_LINES = 6  # two slips this close count as one edit of the function


def _key(site: Site) -> str:
    """What the slip is, without where: ``'a' -> 'b'`` of ``'a' -> 'b' at line 7``."""
    return site.description.split(" at line")[0]


def _reaches(ctx: EntityContext, site: Site, nodes: set[int]) -> bool:
    """Some edited node of ``site``, or one of its ancestors, is among ``nodes`` (ids)."""
    for node, _ in site.edits:
        cur: cst.CSTNode | None = node
        while cur is not None:
            if id(cur) in nodes:
                return True
            cur = ctx.parent(cur)
    return False


def _nodes_apart(ctx: EntityContext, a: Site, b: Site) -> bool:
    """No edited node of one site is, or holds, an edited node of the other."""
    return not (_reaches(ctx, b, {id(n) for n, _ in a.edits})
                or _reaches(ctx, a, {id(n) for n, _ in b.edits}))


def pair_sites(finders: Sequence[tuple[str, SiteFinder]]) -> SiteFinder:
    """A site finder pairing the sites of ``finders`` (name, finder) on distinct statements."""

    def sites(ctx: EntityContext, rng: random.Random) -> list[Site]:
        drawn: list[tuple[str, Site]] = []
        for name, find in finders:
            sub = random.Random(f"{rng.random()}:{name}")
            drawn += [(name, s) for s in find(ctx, sub)]
        rng.shuffle(drawn)
        drawn.sort(key=lambda d: -d[1].priority)
        drawn = drawn[:MAX_SITES]
        out: list[Site] = []
        for i, (ma, a) in enumerate(drawn):
            for mb, b in drawn[i + 1:]:
                if a.lines[0] == b.lines[0] or not _nodes_apart(ctx, a, b):
                    continue  # one statement: a one-site bug with extra steps
                first, second = sorted((a, b), key=lambda s: s.lines)
                same = ma == mb and _key(a) == _key(b)
                near = second.lines[0] - first.lines[1] <= NEAR_LINES
                out.append(Site(
                    f"{ma}: {first.description}; {mb}: {second.description}",
                    first.edits + second.edits,
                    (first.lines[0], second.lines[1]),
                    priority=2 * same + near,
                    meta={"slips": [ma, mb]},
                    parts=(first.lines, second.lines),
                ))
        return out

    return sites
