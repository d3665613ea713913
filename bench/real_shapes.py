"""The procedural modifiers aimed at real bug shapes, run for real: yield, verify and realism.

Per repo (the embedded sample, plus zoo entries named with ``--zoo``), in a fresh workspace
under ``--root``, as a user would: ``repo add`` -> ``forge --modifiers real --max N`` (on the
sample with ``pr_mirror`` too, whose reverted real fixes are the realism reference) -> with
``--old``, ``forge --modifiers <the older ones> --max N`` -> ``export --split all`` ->
``verify``. Then the realism pass (``engine.realism.pipeline.score_repo``) and, per modifier:
candidates validated, kept, yield, verify held; per group (real fixes, older modifiers, new
modifiers): mean score and the stick's AUC for telling real fixes from the group (rank AUC on
the score; 0.5 = indistinguishable). Written to ``bench/results/real_shapes.json``.

    PYTHONPATH=$PWD python bench/real_shapes.py --old --max 120 --zoo humanize,patchy
    PYTHONPATH=$PWD python bench/real_shapes.py --no-sample --modifiers two_slips --max 40 \
        --zoo cachetools,semver --update
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.zoo import _bf, add_repo_options, git_head, machine, repos_to_run  # noqa: E402
from engine.realism.pipeline import score_repo  # noqa: E402
from engine.realism.scoring import Item, Scorecard  # noqa: E402
from engine.store import Store  # noqa: E402
from engine.strategies.procedural import (  # noqa: E402
    MODIFIERS,
    REAL_SHAPES,
    parse_modifiers,
)

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "real_shapes.json"
OLD = tuple(m for m in MODIFIERS if m not in REAL_SHAPES)
REAL = "pr_mirror"
_ID = re.compile(r"\.procedural_([a-z_]+?)__")


def rank_auc(real: list[float], other: list[float]) -> float | None:
    """P(a real fix scores above a bug of ``other``), ties half: the stick's AUC."""
    if not real or not other:
        return None
    wins = sum((r > o) + 0.5 * (r == o) for r in real for o in other)
    return round(wins / (len(real) * len(other)), 3)


def auc_ci(real: list[float], other: list[float], n: int = 400) -> list[float] | None:
    """A 90% bootstrap interval of ``rank_auc`` (both sides resampled): with a handful of
    real fixes it is wide, and says so."""
    if len(real) < 2 or len(other) < 2:
        return None
    rng = random.Random(0)
    draws = sorted(rank_auc(rng.choices(real, k=len(real)), rng.choices(other, k=len(other)))
                   or 0.0 for _ in range(n))
    return [draws[int(0.05 * n)], draws[int(0.95 * n) - 1]]


def _mean(xs: list[float]) -> float | None:
    return round(statistics.fmean(xs), 3) if xs else None


def forge(ws: Path, repo: str, modifiers: tuple[str, ...], strategy: str, args: argparse.Namespace
          ) -> dict[str, Any]:
    t0 = time.monotonic()
    code, out, err = _bf("forge", repo, "--strategy", strategy, "--modifiers", ",".join(modifiers),
                         "--max", str(args.max), "--workers", str(args.workers), "--json",
                         "--no-statements", ws=ws)
    (ws / f"forge-{len(modifiers)}.log").write_text(err, encoding="utf-8")
    if code not in (0, 1) or not out.strip():
        raise SystemExit(f"forge {repo} failed ({code}): {err[-800:]}")
    summary = json.loads(out)
    return {"seconds": round(time.monotonic() - t0, 1), "candidates": summary["candidates"],
            "kept": summary["kept_total"]}


def verify(ws: Path, reuse: bool) -> Counter[tuple[str, bool]]:
    """(modifier, held) counts over every exported instance (the last verify's with
    ``reuse``)."""
    export, saved = ws / "export.jsonl", ws / "verify.json"
    if not (reuse and saved.exists()):
        code, _out, err = _bf("export", "--format", "swesmith", "--split", "all", "--dedup",
                              "none", "-o", str(export), ws=ws)
        if code:
            raise SystemExit(f"export failed: {err[-800:]}")
        _code, out, err = _bf("verify", str(export), "--json", ws=ws)
        saved.write_text(out, encoding="utf-8")
    checks = json.loads(saved.read_text(encoding="utf-8"))
    held: Counter[tuple[str, bool]] = Counter()
    for c in checks:
        m = _ID.search(c["instance_id"])
        held[(m.group(1) if m else REAL, bool(c["ok"]))] += 1
    return held


def _pass(items: list[Item]) -> dict[str, list[float]]:
    """Scores per modifier (``pr_mirror`` for the real fixes, each scored leave-one-out) of a
    scorecard built on ``items`` alone: the synthetic side of the stick is that pool."""
    scores = Scorecard(items).score_all()
    by_mod: dict[str, list[float]] = {}
    for item in items:
        key = REAL if item.strategy == REAL else item.modifier
        by_mod.setdefault(key, []).append(scores[item.instance_id].score)
    return by_mod


def _groups(by_mod: dict[str, list[float]]) -> dict[str, dict[str, Any]]:
    real = by_mod.get(REAL, [])
    groups = {"real_fixes": real,
              "old_modifiers": [s for m, v in by_mod.items() if m in OLD for s in v],
              "new_modifiers": [s for m, v in by_mod.items() if m in REAL_SHAPES for s in v]}
    groups["procedural"] = groups["old_modifiers"] + groups["new_modifiers"]
    return {g: {"n": len(v), "mean": _mean(v),
                **({"auc_vs_real": rank_auc(real, v), "auc_ci90": auc_ci(real, v)}
                   if g != "real_fixes" else {})}
            for g, v in groups.items() if v}


def realism(ws: Path, repo: str) -> dict[str, Any]:
    """The stick before (real fixes + the older modifiers' bugs) and after (+ the new ones'):
    the score is relative to the repo's synthetic pool, so both pools are scored afresh."""
    with Store.open(ws / "bugfoundry.duckdb") as store:
        rec = store.get_repo(repo)
        rr = score_repo(store, repo, Path(rec.path) if rec else None)
    before = _pass([i for i in rr.items if i.strategy == REAL or i.modifier in OLD])
    after = _pass(rr.items)
    real = after.get(REAL, [])
    if not real or not before:
        return {"model": rr.model, "n_real": len(real),
                "note": "no real fixes and no older modifiers' bugs here: the score of a pool "
                        "of one kind says nothing (run with pr_mirror and --old to compare)"}
    return {
        "model": rr.model, "n_real": len(real),
        "before": _groups(before), "after": _groups(after),
        "modifiers": {m: {"n": len(v), "mean": _mean(v), "auc_vs_real": rank_auc(real, v),
                          "auc_ci90": auc_ci(real, v)}
                      for m, v in sorted(after.items()) if m != REAL},
    }


def run_repo(name: str, add: list[str], root: Path, args: argparse.Namespace) -> dict[str, Any]:
    ws = root / name
    if not args.reuse or not (ws / "bugfoundry.duckdb").exists():
        ws.mkdir(parents=True, exist_ok=True)
        code, _out, err = _bf(*add, ws=ws)
        if code:
            raise SystemExit(f"repo add {name} failed: {err[-800:]}")
        runs = {"real": forge(ws, name, args.modifiers,
                              "procedural,pr_mirror" if name == "sample" else "procedural",
                              args)}
        if args.old:
            runs["old"] = forge(ws, name, OLD, "procedural", args)
        (ws / "forges.json").write_text(json.dumps(runs), encoding="utf-8")
    else:
        saved = ws / "forges.json"
        runs = json.loads(saved.read_text(encoding="utf-8")) if saved.exists() else {}
    held = verify(ws, args.reuse)
    with Store.open(ws / "bugfoundry.duckdb") as store:
        rows = store.yield_by_modifier(name)
    per: dict[str, dict[str, Any]] = {}
    for strategy, modifier, validated, kept in rows:
        key = REAL if strategy == REAL else modifier
        d = per.setdefault(key, {"validated": 0, "kept": 0})
        d["validated"] += validated
        d["kept"] += kept
    for key, d in per.items():
        d["yield"] = round(d["kept"] / d["validated"], 3) if d["validated"] else None
        d["verify_held"] = held[(key, True)]
        d["verify_failed"] = held[(key, False)]
        d["new"] = key in REAL_SHAPES
    return {"repo": name, "forges": runs, "modifiers": dict(sorted(per.items())),
            "realism": realism(ws, name)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_repo_options(ap, "/tmp/bugfoundry-real-shapes")
    ap.add_argument("--old", action="store_true", help="forge the older modifiers too")
    ap.add_argument("--max", type=int, default=120)
    ap.add_argument("--modifiers", default="real", type=parse_modifiers,
                    help="the new modifiers to forge (default: real, all of REAL_SHAPES)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--reuse", action="store_true",
                    help="reuse workspaces already forged under --root (verify and score only)")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--update", action="store_true",
                    help="replace these repos' rows in --out, keep the others")
    args = ap.parse_args(argv)
    head = git_head()  # the code that forges, not what HEAD is when it ends
    args.root.mkdir(parents=True, exist_ok=True)
    todo = repos_to_run(args.sample, args.zoo, args.clones)
    repos = []
    for name, add in todo:
        print(f"{name} ...", flush=True)
        repos.append({**run_repo(name, add, args.root, args), "commit": head})
    if args.update and args.out.exists():  # keep the other repos' rows from an earlier run
        earlier = json.loads(args.out.read_text(encoding="utf-8"))
        done = {r["repo"] for r in repos}
        repos += [{"commit": earlier.get("commit"), **r} for r in earlier["repos"]
                  if r["repo"] not in done]
    totals: dict[str, dict[str, int]] = {}
    for r in repos:
        for m, d in r["modifiers"].items():
            t = totals.setdefault(m, {"validated": 0, "kept": 0, "verify_held": 0,
                                      "verify_failed": 0})
            for k in t:
                t[k] += d[k]
    for t in totals.values():
        t["yield"] = round(t["kept"] / t["validated"], 3) if t["validated"] else None  # type: ignore[assignment]
    out = {"commit": head, "machine": machine(), "max": args.max,
           "new_modifiers": list(REAL_SHAPES), "repos": repos, "pooled": totals}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    for m, t in sorted(totals.items(), key=lambda kv: (kv[0] not in REAL_SHAPES, kv[0])):
        print(f"{m:<20} kept {t['kept']:>4}/{t['validated']:<4} yield {t['yield']}  "
              f"verify {t['verify_held']}/{t['verify_held'] + t['verify_failed']}")
    for r in repos:
        for when in ("before", "after"):
            g = r["realism"].get(when, {})
            print(f"{r['repo']} {when}: " + "; ".join(
                f"{k} n={v['n']} mean={v['mean']} auc={v.get('auc_vs_real')}"
                for k, v in g.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
