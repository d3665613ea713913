"""The realism stick checked across the zoo: leave-one-repo-out AUC, calibration, size.

    python bench/realism.py [--only NAME,...] [--cache DIR] [--out FILE]
                            [--rebuild-reference] [--refresh] [--candidates N]

For each zoo project with a git history (a bare mirror, ``--mirrors``, default /work/.mirror):

- **real**: the fix commits ``engine.mining`` finds in its history (the PR-mirror filters:
  fix message, source and test files changed, <= 8 source files, <= 500 lines), each fix's
  source half reverted into a bug diff. These are *mined diffs*, not validated instances: no
  test was run, so only diff features are scored (edit kind, direction, naturalness).
- **forged**: the kept (validated) instances of the zoo workspaces (``--workspaces`` globs),
  deduplicated by patch, with the same diff features.

Repo R is scored with the reference rebuilt from every *other* repo's fixes (never R's own),
and R's forged pool as the synthetic side. Reported per repo and pooled: AUC real vs forged
(and per modifier), AUC of each feature alone, AUC of diff size alone and the score's Spearman
correlation with size, a size-matched AUC (real fixes no larger than the forged bugs),
reliability by probability bin and Brier score (classes weighted 50/50 per repo). Saved to
``bench/results/realism.json``.

``--candidates N`` also generates up to N unvalidated procedural candidates per modifier on each
repo's workspace copy and scores them against the kept pool (not in it): the per-modifier table
then covers modifiers no zoo run has kept yet. A repo no workspace holds gets its candidates from
the mirror's HEAD, and they are its synthetic pool. A pooled ablation (each feature left out, each
alone) shows which features carry the score.

``--rebuild-reference`` rewrites ``engine/realism/reference.json``: the diff features' shares
pooled over every repo's mined fixes (counts only), test-side features kept as shipped.

Mined features and forged features are cached per repo under ``--cache`` (default
``/tmp/bugfoundry-realism``), keyed by the mirror's HEAD and FEATURE_VERSION.
"""

from __future__ import annotations

import argparse
import functools
import glob
import json
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.diffs import reverse_patch  # noqa: E402
from engine.instances import FeatureInput  # noqa: E402
from engine.mining import (  # noqa: E402
    MiningConfig,
    classify_path,
    file_at,
    fix_diff,
    mine,
    split_patch,
)
from engine.realism import crossrepo as cr  # noqa: E402
from engine.realism.calibrate import auc  # noqa: E402
from engine.realism.features import (  # noqa: E402
    FEATURE_VERSION,
    Features,
    compute,
    repo_model,
    repo_reader,
)
from engine.realism.naturalness import NgramModel  # noqa: E402
from engine.realism.report import spearman  # noqa: E402
from engine.realism.scoring import load_reference  # noqa: E402

RESULTS = ROOT / "bench" / "results"
REFERENCE = ROOT / "engine" / "realism" / "reference.json"
MIN_FIXES = 10  # a repo with fewer mined fixes is listed, not scored
# zoo name -> GitHub owner+name of its mirror
MIRRORS = {
    "attrs": "python-attrs+attrs", "click": "pallets+click", "structlog": "hynek+structlog",
    "marshmallow": "marshmallow-code+marshmallow", "tenacity": "jd+tenacity",
    "python-dateutil": "dateutil+dateutil", "boltons": "mahmoud+boltons",
    "semver": "python-semver+python-semver", "parse": "r1chardj0n3s+parse",
    "six": "benjaminp+six", "prettytable": "jazzband+prettytable",
    "exceptiongroup": "agronholm+exceptiongroup", "typing-extensions": "python+typing_extensions",
    "isodate": "gweis+isodate", "jinja2": "pallets+jinja", "arrow": "arrow-py+arrow",
    "pluggy": "pytest-dev+pluggy", "cachetools": "tkem+cachetools",
    "tomlkit": "python-poetry+tomlkit", "pyparsing": "pyparsing+pyparsing",
    "patchy": "adamchainz+patchy", "tomli": "hukkin+tomli",
    "humanize": "python-humanize+humanize", "pytest-mock": "pytest-dev+pytest-mock",
    "poetry-core": "python-poetry+poetry-core",
}
WORKSPACES = ("/work/zoo19/*", "/work/zoo18/*", "/work/zoo-runs/r*/*",
              "~/.cache/bugfoundry-zoo/runs/*")


CANDIDATE = "candidate:"  # strategy prefix of unvalidated candidates (--candidates)
POOL = "pool:"  # ... of the candidates that stand in for kept bugs where no workspace kept any


@dataclass
class RepoData:
    """What one repo brings: mined fixes, kept forged bugs, optional candidates."""

    real: list[Features]
    forged: list[cr.Bug]
    meta: dict[str, Any]
    candidates: list[cr.Bug] = field(default_factory=list)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def git_dir(mirrors: Path, name: str, cache: Path) -> Path:
    """A bare clone of the mirror under the cache (``--shared``: objects borrowed, no copy):
    a fetched mirror has no ``config``, so GitPython takes it for a work tree."""
    d = mirrors / MIRRORS[name]
    src = d / "repo" if (d / "repo").is_dir() else d
    dst = cache / "git" / f"{name}.git"
    if not dst.is_dir() and src.is_dir():
        dst.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "clone", "--quiet", "--bare", "--shared", str(src), str(dst)],
                       check=True, timeout=600)
    return dst


def head_tree(gdir: Path, name: str, cache: Path) -> Path:
    """The mirror's HEAD as files, laid out like a workspace (``WS/repos/NAME``)."""
    ws = cache / "trees" / name
    dst = ws / "repos" / name
    if not dst.is_dir():
        dst.mkdir(parents=True)
        archive = subprocess.run(["git", "--git-dir", str(gdir), "archive", "HEAD"],
                                 capture_output=True, check=True, timeout=300).stdout
        subprocess.run(["tar", "-x", "-C", str(dst)], input=archive, check=True, timeout=300)
    return ws


@functools.cache
def head_model(gdir: Path) -> NgramModel | None:
    """The repo's trigram over its library source at the mirror's HEAD, for its mined fixes
    (each fix's file, by its path at the fix, left out)."""
    names = subprocess.run(["git", "--git-dir", str(gdir), "ls-tree", "-r", "--name-only",
                            "HEAD"], capture_output=True, text=True, check=True,
                           timeout=120).stdout.splitlines()
    files = {rel: text for rel in names if classify_path(rel) == "source"
             and (text := file_at(gdir, "HEAD", rel)) is not None}
    return NgramModel(files) if files else None


def mine_real(name: str, gdir: Path, model: NgramModel | None) -> dict[str, Any]:
    """Every mined fix of the repo as a bug diff (the fix's source half reversed) + features."""
    commits = [c for c in mine(gdir, config=MiningConfig(max_commits=None)) if not c.skip]
    fixes = []
    for c in commits:
        try:
            source = split_patch(fix_diff(gdir, c))["source"]
        except Exception as exc:  # noqa: BLE001 - an unreadable diff is skipped, counted
            log(f"  {name} {c.sha[:10]}: {type(exc).__name__}")
            continue
        if not source:
            continue
        bug = reverse_patch(source)
        sha = c.sha

        def read(rel: str, sha: str = sha) -> str | None:
            return file_at(gdir, sha, rel)

        f = compute(FeatureInput(sha, "", bug, [], {}), read, model)
        fixes.append({"sha": sha, "subject": c.subject[:100], "signal": c.signal,
                      "features": f.to_dict()})
    return {"n_commits_fix": len(commits), "fixes": fixes}


def forged_of(name: str, workspaces: list[str]) -> dict[str, Any]:
    """Kept instances of the zoo workspaces of ``name`` (deduplicated by patch) + features,
    as the product computes them: the trigram of the workspace's own copy (an sdist's layout
    may differ from git's), the bug's file left out of it."""

    from engine.store import Store

    seen: dict[str, dict[str, Any]] = {}
    used = []
    for pattern in workspaces:
        for ws in sorted(glob.glob(os.path.expanduser(pattern))):
            if Path(ws).name != name or not (Path(ws) / "bugfoundry.duckdb").is_file():
                continue
            try:
                store = Store.open(Path(ws) / "bugfoundry.duckdb", read_only=True)
            except Exception as exc:  # noqa: BLE001 - a locked or damaged run is skipped
                log(f"  {ws}: {type(exc).__name__}")
                continue
            try:
                rows = store.realism_inputs(name, FEATURE_VERSION)
                recs = {r.instance_id: r for r in store.instances_for_features(
                    [r.instance_id for r in rows])}
            finally:
                store.close()
            root = Path(ws) / "repos" / name
            read = repo_reader(root)
            model = repo_model(root)
            used.append(ws)
            for r in rows:
                rec = recs.get(r.instance_id)
                if rec is None or not rec.patch or rec.patch in seen:
                    continue
                f = compute(rec, read, model)
                seen[rec.patch] = {"id": r.instance_id, "strategy": r.strategy or "",
                                   "modifier": r.modifier or "", "workspace": ws,
                                   "features": f.to_dict()}
    return {"workspaces": used, "bugs": list(seen.values())}


def candidates_of(name: str, workspaces: list[str], per_modifier: int) -> dict[str, Any]:
    """Unvalidated procedural candidates on the first workspace copy of ``name``: up to
    ``per_modifier`` per modifier (a seeded sample of the first ``5 * per_modifier`` found),
    so a modifier no zoo run kept yet (a new one) is scored too."""
    import random

    from engine.strategies.procedural import MODIFIERS, generate

    root = next((Path(ws) / "repos" / name for ws in workspaces
                 if (Path(ws) / "repos" / name).is_dir()), None)
    if root is None:
        return {"root": None, "bugs": []}
    found: dict[str, list[Any]] = {m: [] for m in MODIFIERS}
    for c in generate(name, root, per_entity=1):
        if len(found[c.modifier]) < 5 * per_modifier:
            found[c.modifier].append(c)
        if all(len(v) >= 5 * per_modifier for v in found.values()):
            break
    read, model = repo_reader(root), repo_model(root)
    bugs = []
    for modifier, cands in sorted(found.items()):
        rng = random.Random(f"{name}:{modifier}")
        for i, c in enumerate(rng.sample(cands, min(per_modifier, len(cands)))):
            f = compute(FeatureInput(f"{modifier}-{i}", c.file, c.patch, [], {}), read, model)
            bugs.append({"strategy": c.strategy, "modifier": modifier,
                         "features": f.to_dict()})
    return {"root": str(root), "bugs": bugs}


def cached(path: Path, key: str, make: Any, refresh: bool) -> dict[str, Any]:
    if path.is_file() and not refresh:
        data = json.loads(path.read_text())
        if data.get("key") == key:
            return data
    data = {"key": key, **make()}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return data


def collect(names: list[str], args: argparse.Namespace) -> dict[str, RepoData]:
    out = {}
    cache = Path(args.cache)
    for name in names:
        gdir = git_dir(Path(args.mirrors), name, cache)
        if not gdir.is_dir():
            log(f"{name}: no mirror at {gdir}, skipped")
            continue
        t0 = time.monotonic()
        import git

        head = git.Repo(gdir).head.commit.hexsha
        key = f"{head}:v{FEATURE_VERSION}"
        real = cached(cache / "mined" / f"{name}.json", key,
                      lambda n=name, g=gdir: mine_real(n, g, head_model(g)), args.refresh)
        forged = cached(cache / "forged" / f"{name}.json", key,
                        lambda n=name: forged_of(n, args.workspaces),
                        args.refresh)
        rf = [Features.from_dict(x["features"]) for x in real["fixes"]]
        ff = [(b["strategy"], b["modifier"], Features.from_dict(b["features"]))
              for b in forged["bugs"]]
        meta = {"head": head, "n_fix_commits": real["n_commits_fix"],
                "workspaces": forged["workspaces"]}
        data = RepoData(rf, ff, meta)
        # No zoo workspace kept bugs of this repo: its candidates at the mirror's HEAD are the
        # synthetic pool (--candidates), each scored against the others as kept bugs are.
        pool = args.candidates and not ff
        wss = forged["workspaces"] or ([str(head_tree(gdir, name, cache))] if pool else [])
        if args.candidates and len(rf) >= MIN_FIXES and wss:
            from engine.strategies.procedural import MODIFIERS

            ckey = f"{key}:{args.candidates}:{','.join(sorted(MODIFIERS))}"
            cands = cached(cache / "candidates" / f"{name}.json", ckey,
                           lambda n=name, ws=wss: candidates_of(n, ws, args.candidates),
                           args.refresh)
            bugs = [((POOL if pool else CANDIDATE) + b["strategy"], b["modifier"],
                     Features.from_dict(b["features"])) for b in cands["bugs"]]
            if pool:
                data.forged, meta["forged_from"] = bugs, "candidates at HEAD (no workspace)"
            else:
                data.candidates = bugs
        log(f"{name}: {len(rf)} mined fixes, {len(data.forged)} forged bugs"
            f"{' (candidates)' if pool else ''}, {len(data.candidates)} candidates "
            f"({time.monotonic() - t0:.1f}s)")
        out[name] = data
    return out


# ---------------------------------------------------------------------- the report
def summary(items: list[cr.Scored]) -> dict[str, Any]:
    """AUCs, calibration and size controls over ``items`` (one repo or pooled)."""
    real = [s for s in items if s.real]
    forged = [s for s in items if not s.real]
    row: dict[str, Any] = {"n_real": len(real), "n_forged": len(forged),
                           "auc": cr.auc_of(items), "auc_size_alone": cr.auc_of(items, "size")}
    row["auc_per_feature"] = {f: cr.auc_of(items, f) for f in cr.DIFF_FEATURES}
    row["spearman_score_size"] = spearman([s.score for s in items],
                                          [float(s.lines_changed) for s in items])
    row["auc_within_size_bins"] = cr.stratified_auc(items, cr.size_stratum)
    single = [s for s in items if not s.real or s.edit_kind not in ("multi_stmt", "")]
    row["single_statement"] = {"n_real": sum(s.real for s in single),
                               "auc": cr.auc_of(single),
                               "auc_within_size_bins": cr.stratified_auc(single,
                                                                         cr.size_stratum)}
    probs = [s.probability for s in items]
    labels = [int(s.real) for s in items]
    w = cr.balanced_weights(items)
    row["brier_balanced"] = cr.brier(probs, labels, w)
    row["reliability_balanced"] = cr.reliability(probs, labels, w)
    row["ece_balanced"] = cr.ece(row["reliability_balanced"])
    row["real_median_lines"] = statistics.median(s.lines_changed for s in real) if real else None
    row["forged_median_lines"] = (statistics.median(s.lines_changed for s in forged)
                                  if forged else None)
    row["mean_score"] = {"real": round(statistics.fmean(s.score for s in real), 3)
                         if real else None,
                         "forged": round(statistics.fmean(s.score for s in forged), 3)
                         if forged else None}
    return row


def per_modifier(items: list[cr.Scored]) -> dict[str, Any]:
    """Pooled AUC of real fixes vs each (strategy, modifier), over the repos that have both."""
    out = {}
    keys = sorted({f"{s.strategy}/{s.modifier}" for s in items if not s.real})
    for key in keys:
        repos = {s.repo for s in items if not s.real and f"{s.strategy}/{s.modifier}" == key}
        sub = [s for s in items if s.repo in repos
               and (s.real or f"{s.strategy}/{s.modifier}" == key)]
        n = sum(not s.real for s in sub)
        by_repo = [a for r in repos if (a := cr.auc_of([s for s in sub if s.repo == r]))
                   is not None]
        out[key] = {"n": n, "repos": len(repos), "auc": cr.auc_of(sub),
                    "mean_score": round(statistics.fmean(s.score for s in sub if not s.real), 3),
                    # size is never scored, but says what a reader could still go by
                    "auc_size_alone": cr.auc_of(sub, "size"),
                    "auc_within_size_bins": cr.stratified_auc(sub, cr.size_stratum),
                    "auc_90ci_by_repo": cr.bootstrap_auc(sub),
                    "repos_auc_at_most_0.6": sum(a <= 0.6 for a in by_repo),
                    "repos_scored": len(by_repo)}
    return out


def run(data: dict[str, RepoData], base: dict[str, Any], real_local: bool
        ) -> tuple[dict[str, Any], list[cr.Scored]]:
    counts = {n: cr.feature_counts(d.real) for n, d in data.items()}
    scored_repos = [n for n, d in data.items() if len(d.real) >= MIN_FIXES and d.forged]
    all_items: list[cr.Scored] = []  # real and kept forged
    extra: list[cr.Scored] = []  # candidates (never in the AUCs above the modifier table)
    rows = {}
    for name in scored_repos:
        d = data[name]
        ref = cr.rebuilt_reference(base, counts, exclude=name)
        items = cr.score_repo(name, d.real, d.forged, ref, real_local=real_local,
                              extra=d.candidates)
        kept = [s for s in items if not s.strategy.startswith(CANDIDATE)]
        all_items += kept
        extra += [s for s in items if s.strategy.startswith(CANDIDATE)]
        rows[name] = {**d.meta, **summary(kept)}
    pooled = summary(all_items)
    pooled["auc_90ci_by_repo"] = cr.bootstrap_auc(all_items)
    per_repo_aucs = [r["auc"] for r in rows.values() if r["auc"] is not None]
    pooled["mean_of_repo_aucs"] = (round(statistics.fmean(per_repo_aucs), 4)
                                   if per_repo_aucs else None)
    pooled["repos"] = len(rows)
    pooled["per_modifier"] = per_modifier(all_items + extra)
    pooled["ablation"] = ablation(data, scored_repos, counts, base, real_local)
    return {"per_repo": rows, "pooled": pooled}, all_items


def ablation(data: dict[str, RepoData], repos: list[str], counts: dict[str, cr.Counts],
             base: dict[str, Any], real_local: bool) -> dict[str, Any]:
    """Pooled AUCs (all, within size bins, single-statement fixes) of the score with each
    feature left out and of each feature alone: which features carry it."""
    sets: dict[str, tuple[str, ...]] = {"all": cr.DIFF_FEATURES}
    for f in cr.DIFF_FEATURES:
        sets[f"without {f}"] = tuple(x for x in cr.DIFF_FEATURES if x != f)
        sets[f"{f} alone"] = (f,)
    out = {}
    for label, feats in sets.items():
        items: list[cr.Scored] = []
        for name in repos:
            d = data[name]
            ref = cr.rebuilt_reference(base, counts, exclude=name)
            items += cr.score_repo(name, d.real, d.forged, ref, feats, real_local)
        single = [s for s in items if not s.real or s.edit_kind not in ("multi_stmt", "")]
        out[label] = {"auc": cr.auc_of(items),
                      "auc_within_size_bins": cr.stratified_auc(items, cr.size_stratum),
                      "auc_single_statement": cr.auc_of(single)}
    return out


def table(result: dict[str, Any], title: str) -> str:
    lines = [title, f"{'repo':18} {'real':>5} {'forged':>6} {'AUC':>6} {'size-AUC':>8} "
             f"{'AUC|size':>8} {'1stmt':>5} {'AUC1st':>6} {'rho(sz)':>7} {'Brier':>6}  "
             "edit/dir/nat AUC"]

    def fmt(x: Any, w: int) -> str:
        return f"{x:>{w}.3f}" if isinstance(x, float) else f"{'-' if x is None else x:>{w}}"

    for name, r in [*result["per_repo"].items(), ("POOLED", result["pooled"])]:
        pf = r["auc_per_feature"]
        one = r["single_statement"]
        lines.append(
            f"{name:18} {r['n_real']:>5} {r['n_forged']:>6} {fmt(r['auc'], 6)} "
            f"{fmt(r['auc_size_alone'], 8)} {fmt(r['auc_within_size_bins'], 8)} "
            f"{one['n_real']:>5} {fmt(one['auc'], 6)} "
            f"{fmt(r['spearman_score_size'], 7)} {fmt(r['brier_balanced'], 6)}  "
            + "/".join(fmt(pf[f], 4).strip() for f in cr.DIFF_FEATURES))
    p = result["pooled"]
    lines.append(f"pooled AUC 90% CI (repos resampled): {p['auc_90ci_by_repo']}; mean of repo "
                 f"AUCs {p['mean_of_repo_aucs']}. AUC|size: pairs within one size bin only; "
                 "1stmt/AUC1st: real fixes that change one statement, and their AUC")
    lines.append(f"ECE {p['ece_balanced']}; reliability (balanced) predicted->observed: "
                 + "  ".join(
        f"{r['bin']}:{r['predicted']:.2f}->{r['observed']:.2f}(n{r['n']})"
        for r in p["reliability_balanced"]))
    lines.append("features (pooled AUC / within size bins / single-statement fixes): " + "; ".join(
        f"{k} {v['auc']:.3f}/{v['auc_within_size_bins']:.3f}/{v['auc_single_statement']:.3f}"
        for k, v in p["ablation"].items()))
    mods = sorted(p["per_modifier"].items(), key=lambda kv: -(kv[1]["auc"] or 0))
    groups = (("kept", ""), ("candidates (not validated)", CANDIDATE),
              ("candidates as the pool (no workspace)", POOL))
    for what, prefix in groups:
        row = [f"{k.split('/', 1)[1]} {v['auc']:.2f} ({v['n']})" for k, v in mods
               if v["auc"] is not None and k.startswith(CANDIDATE) == (prefix == CANDIDATE)
               and k.startswith(POOL) == (prefix == POOL)]
        if row:
            lines.append(f"per modifier, {what} (pooled AUC real vs it, n): " + ", ".join(row))
    return "\n".join(lines)


def rebuild_reference(data: dict[str, RepoData], base: dict[str, Any]) -> dict[str, Any]:
    counts = {n: cr.feature_counts(d.real) for n, d in data.items() if d.real}
    ref = cr.rebuilt_reference(base, counts)
    n_fixes = {n: sum(c["size"].values()) for n, c in counts.items()}
    for name in cr.MINED_FEATURES:
        total: Counter[str] = Counter()
        for c in counts.values():
            total.update(c[name])
        ref["features"][name]["source"] = (
            f"fixes mined from the git history of {len(counts)} zoo repos "
            f"({sum(n_fixes.values())} fixes; each repo weighted as at most {cr.REPO_CAP}) "
            f"+ 'literature' (the shares realism.md gives) as {cr.LITERATURE_WEIGHT:.0f} fixes; "
            "rebuilt by bench/realism.py --rebuild-reference")
        ref["features"][name]["counts"] = dict(sorted(total.items()))
    ref["about"] = ("Aggregate shares for real bugs. The diff features (edit_kind, direction, "
                    "naturalness, size) are bin counts of fixes mined from the zoo repos' git "
                    "histories (bench/realism.py --rebuild-reference); the test-side features "
                    "come from realism.md (Defects4J). Facts, not per-bug data.")
    same = ref["features"] == base["features"]  # a re-run on the same histories: no new version
    ref["version"] = int(base.get("version", 1)) + (0 if same else 1)
    ref["mined_from"] = {n: {"fixes": n_fixes[n], "head": data[n].meta["head"][:12]}
                         for n in sorted(n_fixes)}
    return ref


def validated(ws: Path, data: dict[str, RepoData], base: dict[str, Any]) -> dict[str, Any]:
    """Validated instances only: a workspace with PR-mirror and forged instances, scored on
    every feature (test-side ones too) as ``bugfoundry realism`` does, with the reference
    rebuilt without the repo: priors only, and with its PR-mirror bugs shrunk in (each
    scored leave-one-out). The diff-only score of the same instances is given beside."""
    from engine.realism.pipeline import ensure_features, load_items
    from engine.realism.scoring import Scorecard, bins_of
    from engine.store import Store

    store = Store.open(ws / "bugfoundry.duckdb", read_only=True)
    try:
        repo = store.list_repos()[0]
        fresh, _secs = ensure_features(store, repo.name, Path(repo.path), save=False)
        items = load_items(store, repo.name, fresh)
    finally:
        store.close()
    counts = {n: cr.feature_counts(d.real) for n, d in data.items()}
    ref = cr.rebuilt_reference(base, counts, exclude=repo.name)
    real = [i for i in items if i.is_real]
    synth = [i for i in items if not i.is_real]
    out: dict[str, Any] = {"workspace": str(ws), "repo": repo.name, "n_real": len(real),
                           "n_forged": len(synth)}
    priors_card = Scorecard(synth, ref)
    local_card = Scorecard(items, ref)
    labels = [1] * len(real) + [0] * len(synth)
    priors = [sum(r.points for r in priors_card.terms(bins_of(i.features, None)) if r.counted)
              for i in real] + [priors_card.score(i).score for i in synth]
    local = [local_card.score(i).score for i in real + synth]
    diff = cr.score_repo(repo.name, [i.features for i in real],
                         [(i.strategy, i.modifier, i.features) for i in synth], ref)
    a, b = auc(priors, labels), auc(local, labels)
    out["auc_all_features_priors_only"] = None if a is None else round(a, 4)
    out["auc_all_features_with_repo_bugs"] = None if b is None else round(b, 4)
    out["auc_diff_features_priors_only"] = cr.auc_of(diff)
    out["auc_size_alone"] = cr.auc_of(diff, "size")
    out["failure_kinds"] = {
        "real": dict(Counter(i.features.failure_kind for i in real)),
        "forged": dict(Counter(i.features.failure_kind for i in synth))}
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default="")
    ap.add_argument("--mirrors", default="/work/.mirror")
    ap.add_argument("--workspaces", nargs="*", default=list(WORKSPACES))
    ap.add_argument("--cache", default=os.environ.get("BUGFOUNDRY_REALISM_CACHE",
                                                      "/tmp/bugfoundry-realism"))
    ap.add_argument("--out", default=str(RESULTS / "realism.json"))
    ap.add_argument("--refresh", action="store_true", help="recompute cached features")
    ap.add_argument("--rebuild-reference", action="store_true")
    ap.add_argument("--validated", nargs="*", default=[], metavar="WS",
                    help="workspaces with PR-mirror instances: score validated bugs on every "
                         "feature")
    ap.add_argument("--candidates", type=int, default=0, metavar="N",
                    help="also score N unvalidated procedural candidates per modifier and repo")
    args = ap.parse_args()
    names = [n for n in args.only.split(",") if n] or sorted(MIRRORS)
    t0 = time.monotonic()
    data = collect(names, args)
    base = load_reference()
    if args.rebuild_reference:
        ref = rebuild_reference(data, base)
        REFERENCE.write_text(json.dumps(ref, indent=1) + "\n", encoding="utf-8")
        log(f"wrote {REFERENCE} from {len(ref['mined_from'])} repos")
    result, _items = run(data, base, real_local=False)
    local, _ = run(data, base, real_local=True)
    about = ("real = fixes mined from git history (diffs, never run); forged = kept (validated) "
             "zoo instances; scored on diff features only, each repo against the reference "
             "rebuilt without it (LORO). 'validated': PR-mirror and forged instances of a "
             "workspace, all validated, scored on every feature")
    if any("forged_from" in d.meta for d in data.values()):
        about += ("; repos without a zoo workspace: forged = up to --candidates unvalidated "
                  "procedural candidates per modifier at the mirror's HEAD ('pool:' keys)")
    out: dict[str, Any] = {
        "about": about, "features_scored": list(cr.DIFF_FEATURES),
        "loro_priors_only": result, "loro_with_repo_fixes": local,
        "validated": [validated(Path(ws), data, base) for ws in args.validated],
        "seconds": round(time.monotonic() - t0, 1)}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    print(table(result, "LORO, priors only (the repo's own fixes never in its reference):"))
    print()
    print(table(local, "LORO + the repo's other fixes shrunk in (as PR-mirror instances are):"))
    for v in out["validated"]:
        print(f"\nvalidated instances of {v['repo']} ({v['n_real']} pr_mirror vs "
              f"{v['n_forged']} forged): AUC all features {v['auc_all_features_priors_only']} "
              f"(priors only), {v['auc_all_features_with_repo_bugs']} (+ its PR-mirror bugs); "
              f"diff features {v['auc_diff_features_priors_only']}; size alone "
              f"{v['auc_size_alone']}")
    print(f"\nsaved {args.out} ({out['seconds']}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
