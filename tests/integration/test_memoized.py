"""Memoized code on the fast paths: the hot way finds the same FAIL_TO_PASS as the full suite.

A function whose result is cached (a dict filled on first use, ``functools.lru_cache``) runs
only in the first test that needs it, so the test map once named that test alone, and the hot
and cold ways missed every other test that fails with a bug in it (marshmallow's memoized URL
regex: 2 FAIL_TO_PASS on the hot way, 101 on the full one). A tiny real repo with both kinds
of cache, validated the full and the auto way on hand-made bugs in the cached functions.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.cli.main import main
from engine.diffs import make_patch
from engine.forge.setup import build_validator, ensure_baseline, ensure_environment, get_repo
from engine.models import Candidate
from engine.store import Store
from engine.workspace import Workspace
from tests.gitrepo import GitRepo

pytestmark = pytest.mark.integration

PACKAGE = '''\
import functools
import re


class _Memo:
    def __init__(self):
        self._memoized = {}

    def _generate(self, strict):
        return re.compile(r"^[a-z]+$" if strict else r"^[a-z0-9]+$")

    def __call__(self, strict):
        if strict not in self._memoized:
            self._memoized[strict] = self._generate(strict)
        return self._memoized[strict]


_pattern = _Memo()


def is_word(text, strict=True):
    return bool(_pattern(strict).match(text))


@functools.lru_cache(maxsize=None)
def scale(unit):
    return {"k": 1000, "m": 1000000}[unit]


def amount(text):
    return int(text[:-1]) * scale(text[-1])
'''

TESTS = '''\
from memopkg import amount, is_word, scale


def test_word():
    assert is_word("abc")


def test_not_word():
    assert not is_word("ab1")


def test_loose():
    assert is_word("ab1", strict=False)


def test_word_again():
    assert is_word("xyz") and not is_word("")


def test_kilo():
    assert amount("3k") == 3000


def test_mega():
    assert amount("2m") == 2000000


def test_scale_direct():
    assert scale("k") == 1000
'''

PYPROJECT = '''\
[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "memopkg"
version = "0.1"

[tool.setuptools]
packages = ["memopkg"]
'''


def _bug(rel: str, source: str, old: str, new: str) -> Candidate:
    assert old in source
    return Candidate(repo="memopkg", strategy="procedural", modifier="handmade",
                     patch=make_patch(rel, source, source.replace(old, new, 1)), file=rel)


def test_memoized_functions_fail_the_same_tests_hot_and_full(tmp_path: Path) -> None:
    src = GitRepo(tmp_path / "memopkg")
    src.commit("memopkg", {"pyproject.toml": PYPROJECT, "memopkg/__init__.py": PACKAGE,
                           "tests/test_memo.py": TESTS})
    ws_dir = tmp_path / "ws"
    assert main(["repo", "add", str(src.path), "--workspace", str(ws_dir)]) == 0
    ws = Workspace.open(ws_dir)
    with Store.open(ws.db_path) as store:
        repo = get_repo(store, "memopkg")
        env, recipe = ensure_environment(ws, store, repo)
        baseline = ensure_baseline(ws, store, repo, env, recipe)
        testmap = store.load_test_map(baseline.baseline_id)
    assert testmap is not None
    rel = "memopkg/__init__.py"
    # the dict-memoized regex (reached through __call__) and the lru_cache'd scale (also
    # called straight from a test, where no Python caller is seen)
    regex = _bug(rel, PACKAGE, 'r"^[a-z]+$" if strict', 'r"^[a-z]*$" if strict')
    units = _bug(rel, PACKAGE, '"k": 1000,', '"k": 1024,')
    got = {}
    for mode in ("full", "auto"):
        with build_validator(ws, repo, env, recipe, baseline, testmap, mode=mode,
                             workers=1) as validator:
            got[mode] = {c.candidate_id: v for c, v in validator.run([regex, units])}
    for cand, wanted in ((regex, {"test_word_again"}),
                         (units, {"test_kilo", "test_scale_direct"})):
        full, hot = got["full"][cand.candidate_id], got["auto"][cand.candidate_id]
        assert hot.path == "hot", (hot.path, hot.detail)
        assert full.kept and hot.kept, (full.detail, hot.detail)
        assert {n.rsplit("::", 1)[1] for n in full.fail_to_pass} == wanted
        assert sorted(hot.fail_to_pass) == sorted(full.fail_to_pass), hot.detail
