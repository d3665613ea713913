"""A small setuptools-scm repo whose package imports the version file its build writes."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests.gitrepo import GitRepo

VERSION_FILE = "src/scmpkg/_version.py"

PYPROJECT = """
    [build-system]
    requires = ["setuptools>=64", "setuptools-scm>=8"]
    build-backend = "setuptools.build_meta"

    [project]
    name = "scmpkg"
    dynamic = ["version"]

    [tool.setuptools_scm]
    {key} = "src/scmpkg/_version.py"

    [tool.pytest.ini_options]
    testpaths = ["tests"]
"""

PACKAGE = """
    from ._version import version

    __all__ = ["version", "clamp", "initials", "mean", "median", "words"]


    def clamp(x, lo, hi):
        if x < lo:
            return lo
        if x > hi:
            return hi
        return x


    def mean(xs):
        if not xs:
            raise ValueError("empty")
        return sum(xs) / len(xs)


    def words(text):
        return [w for w in text.split(" ") if w]


    def median(xs):
        s = sorted(xs)
        n = len(s)
        if n % 2 == 1:
            return s[n // 2]
        return (s[n // 2 - 1] + s[n // 2]) / 2


    def initials(name):
        return "".join(w[0].upper() for w in words(name) if w[0].isalpha())
"""

TESTS = """
    import pytest

    import scmpkg
    from scmpkg import clamp, initials, mean, median, words


    def test_version():
        assert scmpkg.version


    def test_clamp():
        assert clamp(5, 0, 3) == 3
        assert clamp(-1, 0, 3) == 0
        assert clamp(2, 0, 3) == 2


    def test_mean():
        assert mean([1, 2, 3]) == 2
        with pytest.raises(ValueError):
            mean([])


    def test_words():
        assert words("a  b c") == ["a", "b", "c"]


    def test_median():
        assert median([3, 1, 2]) == 2
        assert median([4, 1, 3, 2]) == 2.5


    def test_initials():
        assert initials("ada  lovelace") == "AL"
        assert initials("1st place") == "P"
"""


def scm_repo(path: Path, key: str = "version_file") -> Path:
    """A git repo (no tags) whose package imports the version file the build writes
    (setuptools-scm's ``version_file``, or the older ``write_to``)."""
    repo = GitRepo(path)
    repo.commit("init", {
        "pyproject.toml": textwrap.dedent(PYPROJECT).lstrip().format(key=key),
        ".gitignore": "src/scmpkg/_version.py\n__pycache__/\n*.egg-info/\n",
        "src/scmpkg/__init__.py": textwrap.dedent(PACKAGE).lstrip(),
        "tests/test_scmpkg.py": textwrap.dedent(TESTS).lstrip(),
    })
    return path
