"""The reload path when a conftest imports a test helper module that holds project objects
(``from helpers import TEN``, ``helpers`` holding a ``Money`` made at import): the conftest is
refreshed in place instead of refused, and the verdicts equal a whole-suite run's."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from engine.cli.main import main
from engine.forge.setup import build_validator, ensure_baseline, ensure_environment, get_repo
from engine.models import Candidate, Verdict
from engine.store import Store
from engine.workspace import Workspace
from tests.integration.conftest import edit_candidate

pytestmark = pytest.mark.integration

MONEY = "ledgerkit/money.py"
FILES = {
    # Objects of the project made at import, and a function reading a project class.
    "tests/helpers.py": 'from ledgerkit.money import Money\n\nTEN = Money("10.00")\n\n\n'
                        'def euros(amount):\n    return Money(amount, "EUR")\n',
    "tests/conftest.py": "import pytest\n\nfrom helpers import TEN, euros\n\n\n"
                         "@pytest.fixture\ndef ten():\n    return TEN\n\n\n"
                         "@pytest.fixture\ndef twenty_eur():\n    return euros(\"20.00\")\n",
    # A stale conftest would hand these tests a Money of the class from before the reload.
    "tests/test_fixtures.py": "from ledgerkit.money import Money\n\n\n"
                              "def test_ten_is_money(ten):\n"
                              "    assert isinstance(ten, Money)\n"
                              "    assert ten == Money(\"10.00\")\n\n\n"
                              "def test_euros_add(twenty_eur):\n"
                              "    assert isinstance(twenty_eur, Money)\n"
                              "    assert twenty_eur + twenty_eur == Money(\"40.00\", \"EUR\")\n",
}
CHANGES = [  # (what, old, new): each runs at import time
    ("a decorator's argument", "@dataclass(frozen=True)\nclass Money",
     "@dataclass(frozen=True, eq=False)\nclass Money"),
    ("a no-op at module level", 'DEFAULT_CURRENCY = "USD"', 'DEFAULT_CURRENCY = "US" + "D"'),
]


@pytest.fixture(scope="module")
def conftest_ws(tmp_path_factory: pytest.TempPathFactory, sample_bundle: Path) -> Path:
    """A workspace with the sample repo plus a conftest, a helper module and a test using
    its fixtures (one more commit on the sample's history)."""
    src = tmp_path_factory.mktemp("conftested") / "ledgerkit"
    subprocess.run(["git", "clone", "-q", str(sample_bundle), str(src)], check=True)
    for rel, text in FILES.items():
        (src / rel).write_text(text)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "add", "-A"], cwd=src, check=True)
    subprocess.run([*git, "commit", "-qm", "conftest with helpers"], cwd=src, check=True)
    ws = tmp_path_factory.mktemp("conftested-ws")
    assert main(["repo", "add", str(src), "--name", "conftested", "--workspace", str(ws)]) == 0
    return ws


def _candidate(root: Path, old: str, new: str) -> Candidate:
    return edit_candidate(root, "conftested", MONEY, old, new)


def _verdicts(ws: Workspace, mode: str) -> tuple[list[Verdict], dict[str, int]]:
    with Store.open(ws.db_path) as store:
        repo = get_repo(store, "conftested")
        env, recipe = ensure_environment(ws, store, repo)
        baseline = ensure_baseline(ws, store, repo, env, recipe)
        testmap = store.load_test_map(baseline.baseline_id)
    cands = [_candidate(Path(repo.path), old, new) for _what, old, new in CHANGES]
    with build_validator(ws, repo, env, recipe, baseline, testmap, mode=mode,
                         workers=1) as validator:
        return [validator.validate(c) for c in cands], dict(validator.fallbacks)


def test_a_conftest_holding_helper_objects_is_refreshed_not_refused(conftest_ws: Path) -> None:
    ws = Workspace.open(conftest_ws)
    reloaded, fallbacks = _verdicts(ws, "auto")
    full, _ = _verdicts(ws, "full")  # a fresh pytest on the whole suite per candidate
    assert fallbacks == {}, fallbacks
    for (what, _o, _n), got, want in zip(CHANGES, reloaded, full, strict=True):
        assert got.path == "reload", (what, got)
        assert want.path == "full", (what, want)
        assert (got.kept, got.reason, sorted(got.fail_to_pass)) == (
            want.kept, want.reason, sorted(want.fail_to_pass)), (what, got, want)
    eq, noop = reloaded
    # eq=False: Money compares by identity, the conftest's fixture test among the failures
    assert eq.kept and "tests/test_fixtures.py::test_ten_is_money" in eq.fail_to_pass, eq
    assert "tests/test_fixtures.py::test_euros_add" in eq.fail_to_pass, eq
    # nothing changed: the fixtures' Money is the re-imported class (isinstance holds)
    assert not noop.kept and noop.reason == "no_test_failed", noop
    assert "tests/test_fixtures.py::test_ten_is_money" in noop.tests_run, noop.tests_run
