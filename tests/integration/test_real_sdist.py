"""A real repository nobody here wrote: a pinned PyPI sdist that ships its tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import cli_json

pytestmark = pytest.mark.integration


def test_real_sdist_forges_at_least_20_instances(cachetools_ws: Path, capsys) -> None:
    ws = str(cachetools_ws)
    # The fixture forged these 48 already: a rerun resumes and validates nothing new.
    summary = cli_json(
        capsys, "forge", "cachetools", "--max", "48", "--workers", "2", "--workspace", ws
    )
    assert summary["already_done"] == 48 and summary["validated_now"] == 0
    assert summary["baseline_passing"] > 100
    assert summary["kept_total"] >= 20, summary
    instances = cli_json(capsys, "instances", "--repo", "cachetools", "--workspace", ws)
    assert len(instances) == summary["kept_total"]
    assert all(i["FAIL_TO_PASS"] and i["patch"].startswith("diff --git") for i in instances)
