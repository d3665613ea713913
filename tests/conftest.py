from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_BUNDLE = ROOT / "data" / "sample.bundle"


@pytest.fixture(scope="session")
def sample_bundle() -> Path:
    assert SAMPLE_BUNDLE.exists(), "data/sample.bundle is missing (python data/make_sample_repo.py)"
    return SAMPLE_BUNDLE


@pytest.fixture(scope="session")
def local_ray() -> Iterator[ModuleType]:
    """One local Ray (2 CPUs: two actors) for every Ray test of the session; its start costs
    seconds. Without Ray (the optional extra) the tests skip, except in CI (CI=true), which
    installs it (./test.sh: bootstrap.sh dev,ray) and must run them."""
    try:
        import ray
    except ImportError:
        why = "Ray (the optional extra) is not installed: pip install 'bugfoundry[ray]'"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the Ray tests, but {why}")
        pytest.skip(why)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()
