"""Validation on a Ray cluster (``forge --ray [ADDRESS]``, the optional ``bugfoundry[ray]``).

The forge itself does not change: the driver keeps the one DuckDB writer and commits each
verdict as it arrives (so a killed driver resumes as today); only the pool that validates is
another. ``RayPool`` starts one actor per worker slot (a CPU of the cluster), each holding a
warm validator of the repo on its node (``SlotWorker``: the repo's copy and, for docker, its
image, shipped to a node that lacks them (``engine.forge.ray_ship``); a venv built there from
the stored recipe; the baseline and test map shipped from the driver, never recomputed).
Candidates go out in shards; an actor streams its verdicts back one by one, and a shard whose
actor dies is re-queued without the verdicts it already sent.

Ray is imported only when ``--ray`` is given (here, in ``engine.forge.ray_ship``'s actors, and
the command's up-front check): the default install never needs it.
"""

from __future__ import annotations

import math
import queue
import threading
from collections.abc import Generator, Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from engine.errors import UsageError
from engine.forge.ray_ship import Shipment, ensure_image, node_workspace, one_node, ship
from engine.forge.setup import build_validator, repo_environment
from engine.logs import Log, quiet
from engine.models import Baseline, Candidate, Recipe, RepoRecord, Verdict
from engine.testmap import TestMap
from engine.validation.validator import Validator
from engine.workspace import Workspace

MIN_SHARD, MAX_SHARD = 1, 500
ACTOR_RESTARTS = 3  # per slot, before its shards go to the other slots only


def import_ray() -> Any:
    """The ``ray`` module, or a two-line error saying how to install it."""
    try:
        import ray
    except ImportError:
        raise UsageError("--ray needs Ray, an optional extra that is not installed.\n"
                         "Install it: pip install 'bugfoundry[ray]' (or: pip install ray)"
                         ) from None
    return ray


def connect(address: str = "") -> Any:
    """Ray, connected to the cluster at ``address`` ("" a local Ray) unless it already is:
    once per process, however many repos a forge validates there."""
    ray = import_ray()
    if not ray.is_initialized():
        ray.init(address=address or None, include_dashboard=False, log_to_driver=False,
                 configure_logging=False)
    return ray


@dataclass(frozen=True)
class SlotSpec:
    """What an actor needs to validate a repo on its node: shipped once, at its start."""

    home: str
    repo: RepoRecord
    backend: str
    recipe: Recipe
    baseline: Baseline
    testmap: TestMap | None
    mode: str
    timeout: float | None
    ship: Shipment | None = None  # what a node lacking the copy or the image gets


class SlotWorker:
    """The body of one Ray actor: one warm validator (one work tree, its fork server)."""

    def __init__(self, spec: SlotSpec, slot: int) -> None:
        import ray

        home, repo = node_workspace(spec.home, spec.repo, spec.ship, ray)
        ws = Workspace(home, scratch=home / "ray" / str(slot))
        env = repo_environment(ws, repo, spec.backend, spec.recipe)
        ensure_image(env, spec.ship, home, ray)
        if not env.is_built():  # a node of its own: replay the stored recipe there
            env.build(log=quiet)
        self.validator: Validator = build_validator(
            ws, repo, env, spec.recipe, spec.baseline, spec.testmap, mode=spec.mode,
            workers=1, timeout=spec.timeout)

    def validate(self, cands: list[Candidate]) -> Iterator[tuple[str, Verdict]]:
        """Stream (candidate id, verdict) as each one finishes."""
        for cand, verdict in self.validator.run(cands):
            yield cand.candidate_id, verdict

    def ping(self) -> bool:
        return True

    def close(self) -> None:
        self.validator.close()


@dataclass
class Slot:
    """The driver's view of a slot: its actor handle and what its servers said."""

    actor: Any
    restarts: int = 0
    off: dict[str, str] = field(default_factory=dict)


class RayPool:
    """A validator pool on Ray with ``Validator``'s interface for the forge (``run``,
    ``paths``, ``workers``, ``close``)."""

    def __init__(self, ws: Workspace, repo: RepoRecord, backend: str, recipe: Recipe,
                 baseline: Baseline, testmap: TestMap | None, *, mode: str,
                 timeout: float | None, address: str = "", slots: int | None = None,
                 shard: int = 100, registry: str = "", node_home: str = "",
                 node_image: str = "", release_idle: bool = False,
                 log: Log = quiet) -> None:
        self.ray = connect(address)
        cpus = int(self.ray.cluster_resources().get("CPU", 1))
        image = str(getattr(repo_environment(ws, repo, backend, recipe), "image", ""))
        # One node, the driver's own: it has the copy and the image; nothing to ship.
        self.shipment = None if not (node_home or node_image) and one_node(self.ray) else ship(
            self.ray, repo, image, node_image=node_image, registry=registry,
            eager=address.startswith("ray://"))
        self.spec = SlotSpec(node_home or str(ws.home), repo, backend, recipe, baseline,
                             testmap, mode, timeout, self.shipment)
        self.shard = max(MIN_SHARD, min(shard, MAX_SHARD))
        self._actor = self.ray.remote(num_cpus=1)(SlotWorker)
        self.workers = [Slot(self._start(i)) for i in range(max(1, min(slots or cpus, cpus)))]
        self.paths: dict[str, int] = {}
        self.log = log
        # Other repos' pools wait for CPUs: a slot with no shard left gives its CPU back (a
        # later run starts its actor again).
        self.release_idle = release_idle
        self.requeued = 0  # candidates sent again after their actor died
        self._results: queue.Queue[tuple[str, Verdict] | BaseException] = queue.Queue()

    def _start(self, slot: int) -> Any:
        return self._actor.remote(self.spec, slot)

    def shard_size(self, total: int) -> int:
        """``shard`` candidates per shard, fewer when that would leave slots idle (four
        shards per slot at least, so a slow shard does not hold the end of the run)."""
        per = math.ceil(total / (4 * len(self.workers))) if total else 1
        return max(MIN_SHARD, min(self.shard, per))

    def run(self, candidates: Iterable[Candidate]
            ) -> Generator[tuple[Candidate, Verdict], None, None]:
        """Yield (candidate, verdict) as actors stream them; every candidate exactly once."""
        cands = {c.candidate_id: c for c in candidates}
        for i, slot in enumerate(self.workers):  # stopped by an earlier run: start afresh
            if slot.actor is None:
                slot.actor = self._start(i)
        size = self.shard_size(len(cands))
        work: queue.Queue[list[Candidate]] = queue.Queue()
        ordered = list(cands.values())
        for i in range(0, len(ordered), size):
            work.put(ordered[i:i + size])
        results: queue.Queue[tuple[str, Verdict] | BaseException] = queue.Queue()
        self._results = results
        stop = threading.Event()
        threads = [threading.Thread(target=self._feed, args=(i, work, results, stop),
                                    name=f"bf-ray-{i}", daemon=True)
                   for i in range(len(self.workers))]
        for t in threads:
            t.start()
        got = 0
        try:
            while got < len(cands):
                try:
                    item = results.get(timeout=1.0)
                except queue.Empty:
                    if not any(t.is_alive() for t in threads):
                        raise RuntimeError(
                            f"every Ray actor died {ACTOR_RESTARTS} times; "
                            f"{len(cands) - got} candidates were left without a verdict") from None
                    continue
                if isinstance(item, BaseException):
                    raise item
                cid, verdict = item
                got += 1
                self.paths[verdict.path or "checks"] = self.paths.get(verdict.path or "checks",
                                                                      0) + 1
                yield cands[cid], verdict
        finally:
            stop.set()
            early = got < len(cands)
            if early:  # stopped early: the actors' test runs must end now
                self._kill_all()
            for t in threads:
                t.join(timeout=5)
            if early:  # an actor that died just before the stop may have been restarted
                self._kill_all()

    def backlog(self) -> int:
        """Verdicts streamed back and not yet taken by the forge (it commits them together)."""
        return self._results.qsize()

    def _feed(self, i: int, work: queue.Queue[list[Candidate]],
              results: queue.Queue[tuple[str, Verdict] | BaseException],
              stop: threading.Event) -> None:
        """One slot's loop: take a shard, stream its verdicts; if the actor dies, re-queue
        what it did not send and start another."""
        ray = self.ray
        slot = self.workers[i]
        while not stop.is_set():
            try:
                shard = work.get_nowait()
            except queue.Empty:
                if self.release_idle:
                    self._stop_slot(slot)
                return
            sent: set[str] = set()
            try:
                for ref in slot.actor.validate.remote(shard):
                    cid, verdict = ray.get(ref)
                    sent.add(cid)
                    results.put((cid, verdict))
                    if stop.is_set():
                        return
            except ray.exceptions.RayActorError:
                if stop.is_set():  # killed by a stopped run (_kill_all): no new actor
                    return
                rest = [c for c in shard if c.candidate_id not in sent]
                self.requeued += len(rest)
                if rest:
                    work.put(rest)
                if slot.restarts >= ACTOR_RESTARTS:
                    return
                slot.restarts += 1
                slot.actor = self._start(i)
            except BaseException as exc:  # noqa: BLE001 - the driver raises it
                results.put(exc)
                return

    def _kill_all(self) -> None:
        """Kill every actor, and with it its running tests, so nothing of a stopped run goes
        on; a later ``run`` starts fresh ones."""
        for slot in self.workers:
            if slot.actor is not None:
                self.ray.kill(slot.actor)
                slot.actor = None

    def _stop_slot(self, slot: Slot) -> None:
        """Close the slot's validator and end its actor (its CPU goes back to the cluster)."""
        actor, slot.actor = slot.actor, None
        if actor is None:
            return
        with suppress(Exception):  # a dead actor has nothing left to close
            self.ray.get(actor.close.remote(), timeout=60)
        self.ray.kill(actor)

    def close(self) -> None:
        for slot in self.workers:
            self._stop_slot(slot)
        if self.shipment is not None and self.shipment.depot is not None:
            self.ray.kill(self.shipment.depot)
