"""The blind "real or forged?" test: a session mixes a repo's real reverted fixes with forged
bugs in a stated proportion, shuffled, and shows each only as an agent would see it.

Real items are PR-mirror instances (a real fix commit, undone, its tests failing again);
forged items come from every other strategy, drawn round-robin across strategies (and, within
one, across modifiers) so each strategy gets enough items for its own AUC. What would give the
source away is hidden: strategy, modifier, route, the problem statement (and so its source),
the meta with the fix commit, and the instance id, replaced by a salted ``blind_id``; the diff's
``index`` lines are dropped. The session stores the truth beside each item for the report
(``engine.realism.blindreport``); the test itself reads only the display id, diff and tests.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from engine.blind import BlindView, blind_id, blind_view
from engine.errors import UsageError
from engine.instances import Instance
from engine.logs import Log, quiet
from engine.store import BlindItem, BlindSession, PoolEntry, Store
from engine.store.blindtest import REAL_STRATEGY

DEFAULT_ITEMS = 60
DEFAULT_SHARE = 0.5
NO_REAL = ("no real bugs (pr_mirror instances) in {where}: a blind test mixes real reverted "
           "fixes with forged bugs.\nMirror some first: bugfoundry forge REPO --strategy "
           "pr_mirror (then bugfoundry blindtest new).")


@dataclass
class Draw:
    """What ``draw`` picked: the items in their shuffled order, and any shrinking it did."""

    items: list[BlindItem]
    strategies: tuple[str, ...]
    notes: list[str] = field(default_factory=list)

    @property
    def n_real(self) -> int:
        return sum(it.truth == "real" for it in self.items)


def _sizes(items: int, share: float, n_real: int, n_forged: int) -> tuple[int, int]:
    """How many real and forged items: ``items`` at ``share`` real, both sides scaled down
    alike when the pool has too few of either (so the proportion holds)."""
    real = min(max(round(items * share), 1), items - 1)
    forged = items - real
    scale = min(1.0, n_real / real, n_forged / forged)
    if scale < 1.0:
        real, forged = int(real * scale), int(forged * scale)
    return real, forged


def _interleaved(entries: Sequence[PoolEntry], rng: random.Random) -> list[PoolEntry]:
    """``entries`` shuffled within each modifier, then taken one modifier at a time."""
    by: dict[str, list[PoolEntry]] = {}
    for e in entries:
        by.setdefault(e.modifier, []).append(e)
    groups = [by[m] for m in sorted(by)]
    for g in groups:
        rng.shuffle(g)
    rng.shuffle(groups)
    out: list[PoolEntry] = []
    while any(groups):
        for g in groups:
            if g:
                out.append(g.pop())
    return out


def draw(pool: Sequence[PoolEntry], items: int, real_share: float, seed: int,
         strategies: Sequence[str] = (), salt: str = "") -> Draw:
    """Pick ``items`` instances, ``real_share`` of them real, the rest round-robin over the
    forged strategies (all, or ``strategies``), and shuffle them (deterministic in ``seed``)."""
    if not 0.0 < real_share < 1.0:
        raise UsageError(f"--real-share {real_share} must be between 0 and 1 (exclusive): "
                         "the test needs real and forged items.\nTry --real-share 0.5.")
    if items < 2:
        raise UsageError(f"--items {items} is too few: a blind test needs at least one real "
                         "and one forged item.\nTry --items 60.")
    rng = random.Random(seed)
    real = [e for e in pool if e.strategy == REAL_STRATEGY]
    available: dict[str, list[PoolEntry]] = {}
    for e in pool:
        if e.strategy != REAL_STRATEGY:
            available.setdefault(e.strategy, []).append(e)
    unknown = sorted(set(strategies) - set(available))
    if unknown:
        raise UsageError(f"no forged instances of {', '.join(unknown)} in this repo (it has "
                         f"{', '.join(sorted(available)) or 'none'}).\nName strategies it has, "
                         "or leave --strategies out.")
    forged = {s: v for s, v in available.items() if not strategies or s in strategies}
    if not real:
        raise UsageError(NO_REAL.format(where="this repo"))
    if not forged:
        raise UsageError("no forged bugs in this repo to mix with its real ones.\nForge some "
                         "first: bugfoundry forge REPO --strategy procedural.")
    n_forged_pool = sum(len(v) for v in forged.values())
    n_real, n_forged = _sizes(items, real_share, len(real), n_forged_pool)
    if not n_real or not n_forged:
        raise UsageError(f"{len(real)} real and {n_forged_pool} forged bugs cannot make a "
                         f"session at {real_share:.0%} real.\nChange --real-share, or forge "
                         "more of the scarce side.")
    notes = []
    if n_real + n_forged < items:
        notes.append(f"{items} items at {real_share:.0%} real need "
                     f"{round(items * real_share)} real and {items - round(items * real_share)}"
                     f" forged; this repo has {len(real)} real and {n_forged_pool} forged, so "
                     f"the session has {n_real + n_forged} ({n_real} real).")
    picked_real = rng.sample(real, n_real)
    queues = {s: _interleaved(forged[s], rng) for s in sorted(forged)}
    picked_forged: list[PoolEntry] = []
    while len(picked_forged) < n_forged:
        for s in sorted(queues):
            if queues[s] and len(picked_forged) < n_forged:
                picked_forged.append(queues[s].pop(0))
    chosen = [(e, "real") for e in picked_real] + [(e, "forged") for e in picked_forged]
    rng.shuffle(chosen)
    out = [BlindItem(k, e.instance_id, blind_id(e.instance_id, salt), truth, e.strategy,
                     e.modifier) for k, (e, truth) in enumerate(chosen)]
    return Draw(out, tuple(sorted(forged)), notes)


def pick_repo(store: Store, repo: str | None) -> str:
    """``repo``, or the one repo with real bugs; a clear error otherwise."""
    counts = store.real_counts()
    if repo:
        if store.get_repo(repo) is None:
            known = ", ".join(r.name for r in store.list_repos()) or "none yet"
            raise UsageError(f"no repo named {repo!r} in this workspace (known: {known}).\n"
                             "Name one of them with --repo.")
        if repo not in counts:
            raise UsageError(NO_REAL.format(where=repo).replace("REPO", repo))
        return repo
    if not counts:
        raise UsageError(NO_REAL.format(where="this workspace"))
    if len(counts) > 1:
        raise UsageError(f"several repos have real bugs ({', '.join(counts)}): a session "
                         "draws from one.\nName it: bugfoundry blindtest new --repo NAME.")
    return next(iter(counts))


def new_session(store: Store, *, items: int = DEFAULT_ITEMS, real_share: float = DEFAULT_SHARE,
                repo: str | None = None, seed: int = 0,
                strategies: Sequence[str] = ()) -> tuple[BlindSession, Draw]:
    """Draw a session from the workspace and store it (one transaction)."""
    name = pick_repo(store, repo)
    picked = draw(store.blind_pool(name), items, real_share, seed, strategies,
                  salt=f"blindtest:{name}:{seed}:{items}")
    sid = store.create_blind_session(name, real_share, seed, picked.strategies, picked.items)
    return session(store, sid), picked


def session(store: Store, session_id: int | None = None) -> BlindSession:
    """Session ``session_id``, or the newest; a clear error when there is none."""
    sessions = store.blind_sessions()
    if not sessions:
        raise UsageError("no blind test set up in this workspace.\nStart one: bugfoundry "
                         "blindtest new --items 60 --real-share 0.5")
    if session_id is None:
        return sessions[0]
    for s in sessions:
        if s.session_id == session_id:
            return s
    raise UsageError(f"no blind test session {session_id} (there are: "
                     f"{', '.join(str(s.session_id) for s in sessions)}).\n"
                     "List them with: bugfoundry blindtest status")


def neutral_patch(patch: str) -> str:
    """The diff without ``index`` lines (blob hashes a curator could look up)."""
    return "".join(line for line in patch.splitlines(keepends=True)
                   if not line.startswith("index "))


def test_view(rec: Instance, item: BlindItem) -> BlindView:
    """The instance as the test shows it: the session's display id, the neutral diff."""
    view = blind_view(rec)
    return BlindView(view.instance_id, item.display_id, view.repo, view.file, view.entity,
                     view.n_f2p, view.n_p2p, view.lines_changed, neutral_patch(view.patch),
                     view.fail_to_pass, view.pass_to_pass, view.failures, "")


def curator_order(items: Sequence[BlindItem], curator: str, seed: int) -> list[BlindItem]:
    """The session's items in this curator's own order (seeded by the session and the name):
    everyone judges the same items, but fatigue and learning do not fall on the same ones."""
    digest = hashlib.sha256(f"{seed}\0{curator}".encode()).hexdigest()
    out = list(items)
    random.Random(int(digest[:16], 16)).shuffle(out)
    return out


def next_position(items: Sequence[BlindItem], answered: set[str]) -> int | None:
    """Where a curator resumes: the index of the first of ``items`` (in their order) they
    have not answered."""
    return next((k for k, it in enumerate(items) if it.instance_id not in answered), None)


def session_scores(store: Store, sess: BlindSession, root: Path | None, *, save: bool = True,
                   log: Log = quiet) -> dict[str, float]:
    """The realism score of every item (the latest stored; a scoring pass of the repo when
    some item has none, saved unless the store is read-only)."""
    ids = [it.instance_id for it in store.blind_items(sess.session_id)]
    stored = store.realism_scores(ids)
    if len(stored) == len(ids):
        return {i: s.score for i, s in stored.items()}
    from engine.realism.pipeline import score_repo

    log(f"blindtest: scoring {sess.repo} (some items have no realism score yet) ...")
    rr = score_repo(store, sess.repo, root, save=save, log=log)
    return {i: rr.scores[i].score for i in ids if i in rr.scores}
