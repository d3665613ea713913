from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import RepoError
from engine.repos import classify, sanitize_name


def test_classify_sources(tmp_path: Path) -> None:
    assert classify("pypi:cachetools==5.5.0").kind == "pypi"
    assert classify("pypi:cachetools==5.5.0").default_name == "cachetools"
    assert classify("https://example.invalid/org/proj.git").default_name == "proj"
    assert classify("git@host:org/proj.git").kind == "git"
    bundle = tmp_path / "x.bundle"
    bundle.write_bytes(b"")
    assert classify(str(bundle)).kind == "bundle"
    assert classify(str(tmp_path)).kind == "path"


def test_bad_pypi_spec_and_names() -> None:
    with pytest.raises(RepoError):
        classify("pypi:cachetools")
    assert sanitize_name("my repo!") == "my-repo"
    with pytest.raises(RepoError):
        sanitize_name("///")
