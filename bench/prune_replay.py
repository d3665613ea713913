"""Replay ``engine.forge.prune`` over a finished forge: which judged candidates it would have
skipped, and whether any of them had been kept (it must be none).

    python bench/prune_replay.py WORKSPACE REPO

Prints, per skip reason, how many candidates would have been skipped and how many of them
were kept; then the yield before (as judged) and after (skipped ones not run).
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.entities import read_source  # noqa: E402
from engine.forge.prune import Pruner  # noqa: E402
from engine.models import Candidate  # noqa: E402
from engine.store import Store  # noqa: E402


@dataclass
class Replayed:
    cand: Candidate
    reason: str  # the verdict's reason, "kept" for a kept one
    skip: str | None  # why the pruner would skip it now, None: it would run

    @property
    def kept(self) -> bool:
        return self.reason == "kept"


def replay(ws: Path, repo: str) -> list[Replayed]:
    """Every judged candidate of ``repo`` in the workspace with the pruner's judgement now."""
    with Store.open(ws / "bugfoundry.duckdb") as store:
        rec = store.get_repo(repo)
        if rec is None:
            return []
        base = store.latest_baseline(repo)
        tm = store.load_test_map(base.baseline_id) if base else None
        reasons = dict(store.verdict_reasons(repo))
        cands = [c for cid in sorted(reasons)
                 for c in [store.get_candidate(cid)] if c is not None]
    root = Path(rec.path)
    pruner = Pruner(lambda rel: read_source(root / rel), tm.covered_lines if tm else None)
    return [Replayed(c, reasons[c.candidate_id], pruner.reason(c)) for c in cands]


def main(argv: list[str]) -> int:
    ws, repo = Path(argv[0]), argv[1]
    got = replay(ws, repo)
    skipped = Counter(r.skip for r in got if r.skip)
    skipped_kept = Counter(r.skip for r in got if r.skip and r.kept)
    kept = sum(r.kept for r in got)
    n = len(got)
    n_after = n - sum(skipped.values())
    kept_after = kept - sum(skipped_kept.values())
    print(f"{repo}: {n} judged, {kept} kept, yield {kept / max(n, 1):.1%}")
    for why, k in skipped.most_common():
        print(f"  would skip {why}: {k} (of them kept: {skipped_kept[why]})")
    print(f"  after: {n_after} run, {kept_after} kept, yield {kept_after / max(n_after, 1):.1%}")
    for r in got:
        if r.skip and r.kept:
            print(f"  KEPT BUT SKIPPED: {r.cand.candidate_id}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
