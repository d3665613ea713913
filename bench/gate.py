"""The realism gate in use: ``forge --min-realism`` and ``--prefer-realistic`` against a plain
round, as yield per CPU-minute and the realism of what each keeps.

Per repo (the embedded sample, plus zoo entries named with ``--zoo``) and per arm (plain,
gate = ``--min-realism S``, prefer = ``--prefer-realistic``), in a fresh workspace under
``--root``, as a user would: ``repo add`` -> the seed round ``forge --strategy procedural --seed 0
--max M`` (on the sample ``procedural,pr_mirror``, so its scorecard has real fixes) ->
``realism`` (the per-modifier scores ``--prefer-realistic`` reads) -> round 2, ``forge
--strategy procedural --seed 1 --max M`` with the arm's flag. Every arm seeds its own workspace
with the same command and seed (when this bench was written, a copied workspace still used the
original's repo copy and venv; it now adopts its own, but a seed per arm shares nothing).

Per arm, of round 2: candidates validated, kept, CPU seconds of the forge process and its
children (``RUSAGE_CHILDREN`` deltas around it), wall seconds, kept per CPU-minute, and the
realism of the kept bugs scored by ONE scorecard, the plain arm's seeded workspace's
(``RealismGate.score_input`` on each new instance's patch, F2P and failures), so the arms'
means compare: mean score and the share scoring >= 0 (leans realistic). Ratios are vs plain
(realism: a difference, the score being log-odds). Written to ``bench/results/gate.json``.

    PYTHONPATH=$PWD python bench/gate.py --max 60 --zoo cachetools,isodate --workers 1
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.zoo import _bf, add_repo_options, git_head, machine, repos_to_run  # noqa: E402
from engine.realism.gate import RealismGate  # noqa: E402
from engine.store import Store  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "gate.json"
ARMS = ("plain", "gate", "prefer")


def _cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def forge(ws: Path, repo: str, strategy: str, seed: int, args: argparse.Namespace,
          extra: list[str], tag: str) -> dict[str, Any]:
    """One ``forge --json`` run: its summary's counts, CPU and wall seconds."""
    cpu0, t0 = _cpu(), time.monotonic()
    code, out, err = _bf("forge", repo, "--strategy", strategy, "--max", str(args.max),
                         "--seed", str(seed), "--workers", str(args.workers), "--json",
                         "--no-statements", *extra, ws=ws)
    wall, cpu = time.monotonic() - t0, _cpu() - cpu0
    (ws / f"forge-{tag}.log").write_text(err, encoding="utf-8")
    if code not in (0, 1) or not out.strip():
        raise SystemExit(f"forge {repo} ({tag}) failed ({code}): {err[-800:]}")
    s = json.loads(out)
    return {"candidates": s["candidates"], "already_done": s["already_done"],
            "validated": s["validated_now"], "kept": s["kept_now"],
            "drops": s["drop_reasons"], "cpu_s": round(cpu, 1), "wall_s": round(wall, 1)}


def instances(ws: Path, repo: str) -> dict[str, str]:
    """instance id -> modifier, of every instance of ``repo`` in the workspace."""
    with Store.open(ws / "bugfoundry.duckdb", read_only=True) as store:
        return {r.instance_id: r.modifier for r in store.list_instances(repo)}


def seed(ws: Path, name: str, add: list[str], args: argparse.Namespace) -> dict[str, Any]:
    """A fresh workspace: ``repo add``, the seed forge and a realism pass."""
    shutil.rmtree(ws, ignore_errors=True)
    ws.mkdir(parents=True)
    code, _out, err = _bf(*add, ws=ws)
    if code:
        raise SystemExit(f"repo add {name} failed: {err[-800:]}")
    strategy = "procedural,pr_mirror" if name == "sample" else "procedural"
    run = forge(ws, name, strategy, 0, args, [], "seed")
    code, _out, err = _bf("realism", name, "--json", ws=ws)
    if code:
        raise SystemExit(f"realism {name} failed: {err[-800:]}")
    return run


def common_gate(ws: Path, name: str) -> RealismGate:
    """The plain arm's seeded scorecard: every arm's round-2 bugs are scored against it."""
    with Store.open(ws / "bugfoundry.duckdb") as store:
        rec = store.get_repo(name)
        if rec is None:
            raise SystemExit(f"{name}: not in {ws}")
        return RealismGate(store, name, Path(rec.path), 0.0)


def realism(ws: Path, name: str, new: dict[str, str], gate: RealismGate
            ) -> tuple[list[float], dict[str, dict[str, Any]]]:
    """The common scorecard's scores of the ``new`` instances, and per modifier: n, mean."""
    with Store.open(ws / "bugfoundry.duckdb", read_only=True) as store:
        recs = store.instances_for_features(sorted(new))
    scores = {r.instance_id: gate.score_input(r).score for r in recs}
    by_mod: dict[str, list[float]] = {}
    for iid, score in scores.items():
        by_mod.setdefault(new[iid], []).append(score)
    return list(scores.values()), {m: {"n": len(v), "mean": _mean(v)}
                                   for m, v in sorted(by_mod.items())}


def _mean(xs: list[float]) -> float | None:
    return round(statistics.fmean(xs), 3) if xs else None


def _rates(d: dict[str, Any], scores: list[float]) -> dict[str, Any]:
    d["kept_per_cpu_min"] = round(d["kept"] / (d["cpu_s"] / 60), 2) if d["cpu_s"] else None
    d["mean_realism"] = _mean(scores)
    d["share_ge0"] = round(sum(s >= 0 for s in scores) / len(scores), 3) if scores else None
    return d


def arm_flags(arm: str, threshold: float) -> list[str]:
    return {"plain": [], "gate": ["--min-realism", str(threshold)],
            "prefer": ["--prefer-realistic"]}[arm]


def run_repo(name: str, add: list[str], args: argparse.Namespace) -> dict[str, Any]:
    gate: RealismGate | None = None
    arms: dict[str, Any] = {}
    for arm in ARMS:
        ws = args.root / name / arm
        print(f"{name} {arm}: seed ...", flush=True)
        seeded = seed(ws, name, add, args)
        if gate is None:
            gate = common_gate(ws, name)
        before = instances(ws, name)
        print(f"{name} {arm}: round 2 ...", flush=True)
        d = forge(ws, name, "procedural", 1, args, arm_flags(arm, args.threshold), "round2")
        new = {i: m for i, m in instances(ws, name).items() if i not in before}
        scores, mods = realism(ws, name, new, gate)
        arms[arm] = {**_rates(d, scores), "scores": scores, "modifiers": mods,
                     "seed": {k: seeded[k] for k in ("validated", "kept", "cpu_s", "wall_s")}}
    assert gate is not None
    return {"repo": name, "n_real": len(gate.card.real), "arms": arms}


def pooled(repos: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for arm in ARMS:
        rows = [r["arms"][arm] for r in repos if arm in r["arms"]]
        d = {k: sum(x[k] for x in rows) for k in ("candidates", "already_done", "validated",
                                                    "kept")}
        d.update({k: round(sum(x[k] for x in rows), 1) for k in ("cpu_s", "wall_s")})
        drops: dict[str, int] = {}
        for x in rows:
            for why, n in x["drops"].items():
                drops[why] = drops.get(why, 0) + n
        out[arm] = _rates({**d, "drops": drops}, [s for x in rows for s in x["scores"]])
    return out


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}x" if a is not None and b else "-"


def _diff(a: float | None, b: float | None) -> str:
    return f"{a - b:+.2f}" if a is not None and b is not None else "-"


def table(repos: list[dict[str, Any]], pool: dict[str, Any]) -> str:
    head = (f"{'repo':<11} {'arm':<7} {'done':>4} {'valid':>5} {'kept':>4} {'cpu_s':>6} "
            f"{'wall_s':>6} {'k/cpu-min':>9} {'vs plain':>8} {'realism':>7} {'vs plain':>8} "
            f"{'>=0':>5} {'low_realism':>11}")
    lines = [head, "-" * len(head)]
    for name, arms in [(r["repo"], r["arms"]) for r in repos] + [("pooled", pool)]:
        base = arms["plain"]
        for arm in ARMS:
            d = arms[arm]
            lines.append(
                f"{name:<11} {arm:<7} {d['already_done']:>4} {d['validated']:>5} "
                f"{d['kept']:>4} {d['cpu_s']:>6} {d['wall_s']:>6} "
                f"{d['kept_per_cpu_min'] or '-':>9} "
                f"{_ratio(d['kept_per_cpu_min'], base['kept_per_cpu_min']):>8} "
                f"{d['mean_realism'] if d['mean_realism'] is not None else '-':>7} "
                f"{_diff(d['mean_realism'], base['mean_realism']):>8} "
                f"{d['share_ge0'] if d['share_ge0'] is not None else '-':>5} "
                f"{d['drops'].get('low_realism', 0):>11}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_repo_options(ap, "/tmp/bugfoundry-gate")
    ap.add_argument("--max", type=int, default=60, help="candidates per round (seed and round 2)")
    ap.add_argument("--threshold", type=float, default=0.0,
                    help="the gate arm's --min-realism (default 0: the score's even odds)")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--update", action="store_true",
                    help="replace these repos' rows in --out, keep the others")
    args = ap.parse_args(argv)
    head = git_head()
    todo = repos_to_run(args.sample, args.zoo, args.clones)
    repos = [{**run_repo(name, add, args), "commit": head} for name, add in todo]
    if args.update and args.out.exists():
        earlier = json.loads(args.out.read_text(encoding="utf-8"))
        done = {r["repo"] for r in repos}
        repos += [r for r in earlier["repos"] if r["repo"] not in done]
    pool = pooled(repos)
    out = {"commit": head, "machine": machine(),
           "args": {"max": args.max, "threshold": args.threshold, "workers": args.workers,
                    "repos": [r["repo"] for r in repos]},
           "repos": repos, "pooled": pool}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    print(table(repos, pool))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
