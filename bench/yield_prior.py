"""Rebuild ``engine/strategies/yield_prior.json`` from finished zoo forges.

    python bench/yield_prior.py ROOT [ROOT ...] [--write]

Each ROOT holds one workspace per repo (``bench/zoo.py --root``); when a repo is in several,
the workspace with the latest run counts. Every judged candidate is replayed through today's
pruner (``bench/prune_replay.py``): the ones it would skip never run, so they do not count.
Prints per modifier validated, kept and yield, pooled and after a squared-yield weighting
(``engine.realism.gate.yield_prior``), and any kept candidate the pruner would skip (there
must be none). ``--write`` saves the counts (aggregates only, no code). With ``--add-missing``
the shipped counts stay and only modifiers the file does not know yet are added from the ROOTs
(a modifier written after the last full zoo gets measured counts from a partial one, instead of
its strategy's pooled rate); the file then lists both sets of repos.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.prune_replay import replay  # noqa: E402
from engine.store import Store  # noqa: E402
from engine.strategies.priors import DATA  # noqa: E402


def latest_workspaces(roots: list[Path]) -> dict[str, Path]:
    """Repo name -> the workspace whose last forge started latest."""
    best: dict[str, tuple[str, Path]] = {}
    for root in roots:
        for db in sorted(root.glob("*/bugfoundry.duckdb")):
            name = db.parent.name
            with Store.open(db, read_only=True) as store:
                started = store.last_run_started(name) or ""
            if started and started > best.get(name, ("", db))[0]:
                best[name] = (started, db.parent)
    return {name: ws for name, (_s, ws) in sorted(best.items())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("roots", nargs="+", type=Path)
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--add-missing", action="store_true",
                    help="keep the shipped counts; add only modifiers the file lacks")
    args = ap.parse_args(argv)
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    lost: list[str] = []
    repos = latest_workspaces(args.roots)
    for repo, ws in repos.items():
        for r in replay(ws, repo):
            name = f"{r.cand.strategy}/{r.cand.modifier}"
            counts[name]["judged"] += 1
            if r.skip:
                counts[name]["skipped"] += 1
                if r.kept:
                    lost.append(f"{repo} {r.cand.candidate_id} ({r.skip})")
                continue
            counts[name]["validated"] += 1
            counts[name]["kept"] += r.kept
    print(f"{len(repos)} repos: {', '.join(repos)}")
    print(f"{'modifier':36} {'judged':>6} {'skipped':>7} {'run':>5} {'kept':>5} {'yield':>6}")
    for name, c in sorted(counts.items(), key=lambda kv: -kv[1]["judged"]):
        print(f"{name:36} {c['judged']:6d} {c['skipped']:7d} {c['validated']:5d} "
              f"{c['kept']:5d} {c['kept'] / max(c['validated'], 1):6.1%}")
    run = sum(c["validated"] for c in counts.values())
    kept = sum(c["kept"] for c in counts.values())
    judged = sum(c["judged"] for c in counts.values())
    rates = {n: c["kept"] / c["validated"] for n, c in counts.items() if c["validated"]}
    weighted = sum(r ** 3 for r in rates.values()) / max(sum(r ** 2 for r in rates.values()), 1e-9)
    print(f"pooled: {judged} judged, {kept} kept ({kept / max(judged, 1):.1%}); "
          f"after the pruner {run} run ({kept / max(run, 1):.1%}); even shares per modifier "
          f"{sum(rates.values()) / max(len(rates), 1):.1%}, squared-yield shares {weighted:.1%}")
    print(f"kept candidates the pruner would skip: {len(lost)}")
    for line in lost:
        print(f"  {line}")
    if args.write:
        DATA.write_text(json.dumps(_shipped_data(counts, sorted(repos), args.add_missing),
                                   indent=1) + "\n", encoding="utf-8")
        print(f"wrote {DATA}")
    return 1 if lost else 0


def _shipped_data(counts: dict[str, Counter[str]], repos: list[str], add_missing: bool
                  ) -> dict[str, object]:
    """The file's new content: these counts, or (``add_missing``) the shipped ones plus
    these for modifiers it lacks, each modifier saying which repos it was measured on."""
    measured = {n: {"validated": c["validated"], "kept": c["kept"]}
                for n, c in sorted(counts.items())}
    if not add_missing:
        return {"built": date.today().isoformat(), "repos": repos, "modifiers": measured}
    old = json.loads(DATA.read_text(encoding="utf-8"))
    added = {n: v for n, v in measured.items() if n not in old["modifiers"]}
    for name in added:
        print(f"added {name}: {added[name]}")
    return {"built": old["built"], "repos": old["repos"],
            "added": {"built": date.today().isoformat(), "repos": repos,
                      "modifiers": sorted(added)},
            "modifiers": dict(sorted({**old["modifiers"], **added}.items()))}


if __name__ == "__main__":
    raise SystemExit(main())
