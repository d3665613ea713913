"""Combine: merge 2..N validated single-entity bugs into one harder candidate.

Scopes: ``file`` (bugs in one file) and ``module`` (bugs in different files of one package:
the file's directory, or its first ``depth`` directories). Each bug is used at most once per
run, the merged diff must apply cleanly to the pinned commit (hunks that overlap or share
context do not merge) and the result is re-validated like any candidate. The candidate records
its components; once validated, how its FAIL_TO_PASS relates to theirs (``f2p_relation``).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from engine.diffs import PatchError, apply_patch, file_patch
from engine.instances import Component
from engine.models import Candidate

SCOPES = ("file", "module")
RELATIONS = {
    "equal": "the same tests fail as for each component (they all had the same FAIL_TO_PASS)",
    "union": "exactly the union of the components' FAIL_TO_PASS",
    "superset": "more tests fail than the union of the components' (the bugs interact)",
    "other": "some test of the union passes with the combination (one bug masks another)",
}


@dataclass
class CombineConfig:
    scopes: tuple[str, ...] = SCOPES
    max_bugs: int = 3  # bugs per combination: 2..max_bugs, drawn per combination
    depth: int | None = None  # module = the first ``depth`` directories (None: the file's own)
    per_group: int = 4  # combinations per file or module at most
    seed: int = 0



def module_key(rel: str, depth: int | None = None) -> str:
    """The package a file belongs to: its directory, or its first ``depth`` directories."""
    dirs = PurePosixPath(rel).parts[:-1]
    return "/".join(dirs if depth is None else dirs[:depth]) or "."


def merge(parts: Sequence[Component], read: Callable[[str], str | None]) -> str | None:
    """The components' diffs merged into one diff against the pinned texts (``read``), or
    None when they do not apply one after another or the merged diff does not re-apply."""
    texts: dict[str, str] = {}
    for c in parts:
        if c.file not in texts:
            text = read(c.file)
            if text is None:
                return None
            texts[c.file] = text
    current: dict[str, str] = dict(texts)
    try:
        for c in parts:
            out = apply_patch({c.file: current[c.file]}, c.patch)
            if set(out) != {c.file} or out[c.file] is None:
                return None  # a component that creates, deletes or spans files
            current[c.file] = out[c.file]  # type: ignore[assignment]
        merged = "".join(file_patch(rel, texts[rel], current[rel]) for rel in sorted(texts))
        if not merged or apply_patch(dict(texts), merged) != current:
            return None
    except PatchError:
        return None
    return merged


def f2p_relation(combined: Sequence[str], parts: Sequence[Sequence[str]]) -> str:
    """How the combination's FAIL_TO_PASS relates to its components' (see RELATIONS)."""
    mine, sets = set(combined), [set(p) for p in parts]
    union = set().union(*sets) if sets else set()
    if mine == union:
        return "equal" if all(s == mine for s in sets) else "union"
    return "superset" if mine > union else "other"


def combinations(components: Sequence[Component], repo: str, config: CombineConfig,
                 read: Callable[[str], str | None]) -> list[Candidate]:
    """Combination candidates for every scope in ``config.scopes``; a bug is used at most once
    over all of them. Deterministic for a seed and a set of components (so reruns resume)."""
    used: set[str] = set()
    out: list[Candidate] = []
    # Module combinations need bugs in different files, the scarcer kind: they pick first.
    for scope in sorted(config.scopes, key=lambda s: s != "module"):
        groups: dict[str, list[Component]] = {}
        for c in sorted(components, key=lambda c: c.instance_id):
            key = c.file if scope == "file" else module_key(c.file, config.depth)
            groups.setdefault(key, []).append(c)
        for key in sorted(groups):
            rng = random.Random(f"{config.seed}:{scope}:{key}")
            pool = [c for c in groups[key] if c.instance_id not in used]
            rng.shuffle(pool)
            made = 0
            while made < config.per_group:
                chosen = _pick(pool, scope, rng.randint(2, max(2, config.max_bugs)), read)
                if chosen is None:
                    break
                parts, patch = chosen
                used.update(c.instance_id for c in parts)
                pool = [c for c in pool if c.instance_id not in used]
                out.append(_candidate(repo, scope, key, parts, patch, config.seed))
                made += 1
    return out


def _pick(pool: list[Component], scope: str, size: int,
          read: Callable[[str], str | None]) -> tuple[list[Component], str] | None:
    """Greedily the first components that merge cleanly: different entities, and different
    files for a module combination. None when fewer than two do."""
    chosen: list[Component] = []
    patch = ""
    for c in pool:
        if any(c.entity == o.entity and c.file == o.file for o in chosen):
            continue
        if scope == "module" and any(c.file == o.file for o in chosen):
            continue
        merged = merge([*chosen, c], read) if chosen else c.patch
        if merged is None:
            continue
        chosen.append(c)
        patch = merged
        if len(chosen) == size:
            break
    return (chosen, patch) if len(chosen) >= 2 else None


def _candidate(repo: str, scope: str, key: str, parts: list[Component], patch: str,
               seed: int) -> Candidate:
    main = parts[0].file
    lines = sorted({n for c in parts if c.file == main for n in c.changed_lines})
    return Candidate(
        repo=repo, strategy="combine", modifier=scope, patch=patch, file=main,
        entity=", ".join(c.entity if c.file == main else f"{c.file}::{c.entity}"
                         for c in parts),
        changed_lines=tuple(lines), seed=seed,
        meta={"components": [c.instance_id for c in parts], "scope": scope, "group": key,
              "files": sorted({c.file for c in parts}), "n_bugs": len(parts)})
