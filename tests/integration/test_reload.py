"""The reload path: an import-time change validated in a fork of the warm server, by importing
the changed module and its holders anew, keeps exactly what a fresh pytest keeps."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.forge.setup import build_validator, ensure_baseline, ensure_environment, get_repo
from engine.models import Candidate, Verdict
from engine.store import Store
from engine.workspace import Workspace
from tests.integration.conftest import edit_candidate

pytestmark = pytest.mark.integration

MONEY = "ledgerkit/money.py"
CHANGES = [  # (what, old, new): each runs at import time, none is a function-body change
    ("a decorator's argument", "@dataclass(frozen=True)\nclass Money",
     "@dataclass(frozen=True, eq=False)\nclass Money"),
    ("a module-level constant used as defaults", 'DEFAULT_CURRENCY = "USD"',
     'DEFAULT_CURRENCY = "EUR"'),
    ("a no-op at module level", 'DEFAULT_CURRENCY = "USD"',
     'DEFAULT_CURRENCY = "US" + "D"'),
]


def _candidate(root: Path, old: str, new: str) -> Candidate:
    return edit_candidate(root, "sample", MONEY, old, new)


def _verdicts(ws: Workspace, mode: str, cands: list[Candidate]) -> list[Verdict]:
    with Store.open(ws.db_path) as store:
        repo = get_repo(store, "sample")
        env, recipe = ensure_environment(ws, store, repo)
        baseline = ensure_baseline(ws, store, repo, env, recipe)
        testmap = store.load_test_map(baseline.baseline_id)
        with build_validator(ws, repo, env, recipe, baseline, testmap, mode=mode,
                             workers=1) as validator:
            return [validator.validate(c) for c in cands]


def test_import_time_changes_take_the_reload_path_with_fresh_verdicts(sample_ws: Path) -> None:
    ws = Workspace.open(sample_ws)
    with Store.open(ws.db_path) as store:
        root = Path(get_repo(store, "sample").path)
    cands = [_candidate(root, old, new) for _what, old, new in CHANGES]
    reloaded = _verdicts(ws, "auto", cands)
    fresh = _verdicts(ws, "cold", cands)  # a new pytest process per candidate
    for (what, _o, _n), got, want in zip(CHANGES, reloaded, fresh, strict=True):
        assert got.path == "reload", (what, got)
        assert want.path == "cold", (what, want)
        assert (got.kept, got.reason, got.fail_to_pass) == (
            want.kept, want.reason, want.fail_to_pass), (what, got, want)
        assert got.cpu > 0
    eq, currency, noop = reloaded
    assert eq.kept and any("test_money.py" in t for t in eq.fail_to_pass), eq
    assert currency.kept and len(currency.fail_to_pass) >= 1, currency
    assert not noop.kept and noop.reason == "no_test_failed", noop
    # the new code ran: tests of modules that import Money through another module
    # (accounts, batch) ran in the reloaded child too
    assert any("test_money" not in t for t in eq.tests_run), eq.tests_run
