"""A real repository nobody here wrote: a pinned PyPI sdist that ships its tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.cli import main

from .conftest import cli_json

pytestmark = pytest.mark.integration

SDIST = "pypi:cachetools==5.5.0"


def test_real_sdist_forges_at_least_20_instances(tmp_path: Path, capsys) -> None:
    ws = str(tmp_path / "ws")
    assert main(["repo", "add", SDIST, "--workspace", ws]) == 0
    summary = cli_json(
        capsys, "forge", "cachetools", "--max", "48", "--workers", "2", "--workspace", ws
    )
    assert summary["baseline_passing"] > 100
    assert summary["kept_total"] >= 20, summary
    instances = cli_json(capsys, "instances", "--repo", "cachetools", "--workspace", ws)
    assert len(instances) == summary["kept_total"]
    assert all(i["FAIL_TO_PASS"] and i["patch"].startswith("diff --git") for i in instances)
