"""Shared, expensive fixtures: real workspaces forged once per session."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from engine.cli import main

pytestmark = pytest.mark.integration

# One uv cache for every workspace the tests create, so each environment downloads once.
UV_CACHE = Path(
    os.environ.get("BUGFOUNDRY_TEST_CACHE", Path.home() / ".cache" / "bugfoundry-tests")
)


@pytest.fixture(autouse=True, scope="session")
def _shared_uv_cache() -> None:
    UV_CACHE.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("UV_CACHE_DIR", str(UV_CACHE / "uv"))
    os.environ.setdefault("BUGFOUNDRY_SDIST_CACHE", str(UV_CACHE / "sdists"))


def cli_json(capsys: pytest.CaptureFixture[str], *argv: str) -> object:
    capsys.readouterr()
    code = main([*argv, "--json"])
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out)


@pytest.fixture(scope="session")
def sample_ws(tmp_path_factory: pytest.TempPathFactory, sample_bundle: Path) -> Path:
    """A workspace with the sample repo forged in full (every procedural candidate)."""
    ws = tmp_path_factory.mktemp("sample-ws")
    assert (
        main(["repo", "add", str(sample_bundle), "--name", "sample", "--workspace", str(ws)]) == 0
    )
    assert (
        main(
            [
                "forge",
                "sample",
                "--strategy",
                "procedural",
                "--workers",
                "2",
                "--workspace",
                str(ws),
                "--json",
            ]
        )
        == 0
    )
    return ws


SDIST = "pypi:cachetools==5.5.0"


@pytest.fixture(scope="session")
def cachetools_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with a real sdist (cachetools, nobody here wrote it) forged on 48 candidates."""
    ws = tmp_path_factory.mktemp("cachetools-ws")
    assert main(["repo", "add", SDIST, "--workspace", str(ws)]) == 0
    assert main(["forge", "cachetools", "--max", "48", "--workers", "2",
                 "--workspace", str(ws), "--json"]) == 0
    return ws
