from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_BUNDLE = ROOT / "data" / "sample.bundle"


@pytest.fixture(scope="session")
def sample_bundle() -> Path:
    assert SAMPLE_BUNDLE.exists(), "data/sample.bundle is missing (python data/make_sample_repo.py)"
    return SAMPLE_BUNDLE
