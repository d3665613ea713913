"""One forge, one validator: its fork server starts once and serves every stage.

``Validator.run`` used to close the validator at the end of each call, so every stage of a
forge (the first batch, then combine) stopped its fork servers and started them again. A real
forge of the sample repo over two stages, with the fork server's starts and stops recorded at
its own methods and the moment the second stage begins.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from engine.cli.main import main
from engine.forge.run import STAGES, ForgeOptions, forge
from engine.forge.stages import ForgeRun
from engine.store import Store
from engine.validation.forkserver import ForkServer
from engine.workspace import Workspace

pytestmark = pytest.mark.integration


def test_one_forge_over_two_stages_starts_the_fork_server_once(
        tmp_path: Path, sample_bundle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws_dir = tmp_path / "ws"
    assert main(["repo", "add", str(sample_bundle), "--name", "sample",
                 "--workspace", str(ws_dir)]) == 0
    events: list[str] = []
    real_start, real_close = ForkServer.start, ForkServer.close

    def start(self: ForkServer) -> None:
        events.append("start")
        real_start(self)

    def close(self: ForkServer) -> None:
        if self.alive:
            events.append("stop")
        real_close(self)

    combine = STAGES["combine"]
    run_combine: Callable[[ForgeRun], None] = combine.run  # type: ignore[assignment]

    def second_stage(run: ForgeRun) -> None:
        server = run.head_validator(1).workers[0].servers.get("forkserver")
        events.append(f"combine (fork server up: {server is not None and server.alive})")
        run_combine(run)

    monkeypatch.setattr(ForkServer, "start", start)
    monkeypatch.setattr(ForkServer, "close", close)
    monkeypatch.setitem(STAGES, "combine", replace(combine, run=second_stage))
    ws = Workspace.open(ws_dir)
    with Store.open(ws.db_path) as store:
        summary = forge(ws, store, "sample", ["procedural", "combine"],
                        ForgeOptions(max_candidates=4, workers=1))
    # Both stages validated on the pinned commit's validator, the first on the hot path.
    assert summary.candidates > 4, summary.to_dict()
    assert summary.validated_now == summary.candidates
    assert summary.combine["kinds"], summary.combine
    assert summary.paths.get("hot", 0) >= 2, summary.paths
    # One worker: its fork server started in the first stage and was still up when the
    # second began (it is stopped once, when the forge ends, if it is still alive then).
    assert events[:2] == ["start", "combine (fork server up: True)"], events
    assert events.count("start") == 1 and events.count("stop") <= 1, events
