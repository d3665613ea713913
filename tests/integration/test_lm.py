"""The LM features against a real HTTP server on 127.0.0.1 standing in for the model.

The product code runs unchanged (the ``openai`` client, real sockets, the real store, real
validation on the sample repo); only the "model" is a small script: it plants a bug by
flipping one operator, and sometimes misbehaves on purpose.
"""

from __future__ import annotations

import ast
import hashlib
import re
import textwrap
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from engine.cli.main import main
from engine.entities import parse_file
from engine.lm.batch import Ask, BatchStats, ask_all
from engine.lm.client import BudgetSpent, LMClient, LMError, LMSettings
from engine.store import Store
from tests.integration.conftest import cli_json
from tests.lmstub import StubLM, prompt_of

pytestmark = pytest.mark.integration

MODEL = "gpt-4o-mini"  # priced from the default table, so budgets mean something
FLIPS = [(" > ", " >= "), (" < ", " <= "), (" >= ", " > "), (" <= ", " < "), (" == ", " != "),
         (" + ", " - "), (" - ", " + "), (" * ", " / "), (" and ", " or "), (" or ", " and ")]


def plant_bug(func: str) -> str:
    """Flip the first flippable operator in the body (after the docstring)."""
    node = ast.parse(textwrap.dedent(func)).body[0]
    body = node.body[1:] if ast.get_docstring(node) is not None and len(node.body) > 1 \
        else node.body
    lines = func.splitlines(keepends=True)
    for i in range(body[0].lineno - 1, len(lines)):
        for old, new in FLIPS:
            if old in lines[i] and "#" not in lines[i] and '"' not in lines[i]:
                lines[i] = lines[i].replace(old, new, 1)
                return "".join(lines)
    return func


class FakeModel:
    """Answers like a model would, from the prompt alone (plus the repo, for rewrites)."""

    def __init__(self, repo_root: Path) -> None:
        self.repo_root = repo_root
        self.leaky_statements = False

    def __call__(self, body: dict[str, Any]) -> str:
        prompt = prompt_of(body)
        if "GitHub issue" in prompt:
            return self.statement(prompt)
        if "has been replaced by" in prompt:
            path, qualname = re.search(r"In the file `([^`]+)` below, the body of `([^`]+)`",
                                       prompt).groups()
            func = self.original(path, qualname)
        else:
            func = re.search(r"```python\n(.*?)```", prompt, re.S).group(1)
        bugged = plant_bug(func)
        roll = int(hashlib.sha256(prompt.encode()).hexdigest(), 16) % 7
        if roll == 0:  # a model that cannot keep a secret
            bugged = "".join(line.rstrip("\n") + "  # BUG: flipped here\n" if a != b else line
                             for a, b, line in zip(func.splitlines(), bugged.splitlines(),
                                                   bugged.splitlines(keepends=True),
                                                   strict=False))
        elif roll == 1:  # a model that writes broken code
            bugged = bugged.replace("def ", "def (", 1)
        return f"Sure, here is the function:\n\n```python\n{bugged}```\n"

    def original(self, path: str, qualname: str) -> str:
        source = (self.repo_root / path).read_text()
        item = next(e for e in parse_file(path, source).entities
                    if e.entity.qualname == qualname)
        lines = source.splitlines(keepends=True)[item.entity.start_line - 1: item.entity.end_line]
        return textwrap.dedent("".join(lines))

    def statement(self, prompt: str) -> str:
        added = re.findall(r"^\+(?!\+\+)(.*)$", prompt, re.M)
        quote = f"\n\nI think `{added[0].strip()}` is wrong." if self.leaky_statements else ""
        return ("Totals are wrong after the last upgrade\n\n"
                "When I post a few transactions the reported numbers are off by one unit."
                f"{quote}\n")


# ----------------------------------------------------------------- the client, over HTTP
def _client(stub: StubLM, **kw: Any) -> LMClient:
    settings = LMSettings(model=MODEL, base_url=stub.base_url, api_key="test", backoff=0.01,
                          timeout=kw.pop("timeout", 5.0), **kw)
    return LMClient(settings, sleep=lambda s: time.sleep(min(s, 0.05)))


HELLO = [{"role": "user", "content": "hello"}]


@pytest.mark.parametrize(("script", "attempts"), [
    (["429"], 2), (["500", "503"], 3), (["malformed"], 2), (["slow"], 2),
])
def test_transient_failures_are_retried(script: list[str], attempts: int) -> None:
    with StubLM(lambda b: "fine", slow_seconds=1.5) as stub:
        stub.script[:] = script
        answer = _client(stub, timeout=0.5).complete(HELLO)
        assert answer.text == "fine" and answer.attempts == attempts
        assert len(stub.requests) == attempts
        assert answer.prompt_tokens > 0 and answer.cost > 0


def test_persistent_failure_gives_up_with_a_reason() -> None:
    with StubLM(lambda b: "never") as stub:
        stub.script[:] = ["500"] * 10
        with pytest.raises(LMError) as info:
            _client(stub, max_retries=2).complete(HELLO)
        assert info.value.reason == "http_500" and len(stub.requests) == 3


def test_budget_stops_new_requests_and_keeps_paid_answers(tmp_path: Path) -> None:
    with StubLM(lambda b: "x" * 4000) as stub, Store.open(tmp_path / "db.duckdb") as store:
        client = _client(stub, max_cost=0.0004, concurrency=1)  # about one answer's worth
        stats = BatchStats()
        asks = [Ask([{"role": "user", "content": f"q{i}"}], "test") for i in range(6)]
        answers = ask_all(client, store, asks, stats=stats)
        paid = [a for a in answers if not isinstance(a, LMError)]
        assert stats.budget_stopped and stats.not_sent >= 1
        assert 1 <= len(paid) < 6 and len(stub.requests) == len(paid)
        assert all(isinstance(a, LMError) and a.reason == "budget_spent"
                   for a in answers[len(paid):])
        assert client.budget.spent == pytest.approx(sum(a.cost for a in paid))
        with pytest.raises(BudgetSpent):
            client.complete(HELLO)
        # The paid answers were cached as they arrived: asking again costs nothing.
        again = ask_all(_client(stub), store, asks[: len(paid)])
        assert all(a.cached for a in again) and len(stub.requests) == len(paid)


# ----------------------------------------------------------------- forge, end to end
@pytest.fixture(scope="module")
def lm_ws(tmp_path_factory: pytest.TempPathFactory, sample_bundle: Path) -> Path:
    ws = tmp_path_factory.mktemp("lm-ws")
    assert main(["repo", "add", str(sample_bundle), "--name", "sample",
                 "--workspace", str(ws)]) == 0
    return ws


def _forge(capsys: pytest.CaptureFixture[str], ws: Path, stub: StubLM) -> dict[str, Any]:
    return cli_json(capsys, "forge", "sample", "--strategy", "lm_modify,lm_rewrite",
                    "--max", "24", "--workers", "2", "--model", MODEL,
                    "--base-url", stub.base_url, "--workspace", str(ws))


def test_forge_with_lm_strategies_validates_and_reruns_from_cache(
        lm_ws: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    model = FakeModel(lm_ws / "repos" / "sample")
    with StubLM(model) as stub:
        first = _forge(capsys, lm_ws, stub)
        sent = len(stub.requests)
        assert sent == first["lm"]["lm_modify"]["requested"] + first["lm"]["lm_rewrite"][
            "requested"] and sent >= 20
        for strategy in ("lm_modify", "lm_rewrite"):
            d = first["lm"][strategy]
            assert d["candidates"] >= 5 and d["cost"] > 0, d
        rejected = {**first["lm"]["lm_modify"]["rejected"]}
        for k, v in first["lm"]["lm_rewrite"]["rejected"].items():
            rejected[k] = rejected.get(k, 0) + v
        assert rejected.get("revealing_comment") and rejected.get("does_not_parse"), rejected
        assert first["kept_total"] >= 6, first

        second = _forge(capsys, lm_ws, stub)
        assert len(stub.requests) == sent  # every answer came from the cache
        assert second["already_done"] == first["candidates"] == second["candidates"]
        assert second["lm"]["lm_modify"]["cached"] == first["lm"]["lm_modify"]["targets"]

    with Store.open(lm_ws / "bugfoundry.duckdb") as store:
        rows = store.list_instances("sample")
        kinds = {r.strategy for r in rows}
        assert kinds == {"lm_modify", "lm_rewrite"}
        rec = store.get_instance(rows[0].instance_id)
        assert rec.modifier == "gpt-4o-mini" and rec.meta["lm"]["cost"] > 0
        assert rec.meta["lm"]["prompt_tokens"] > 0 and rec.fail_to_pass
        calls = store.lm_call_summary("sample")
        reasons = {(p, s, r) for p, s, r, _n, _c in calls}
        assert ("lm_modify", "rejected", "revealing_comment") in reasons or (
            "lm_rewrite", "rejected", "revealing_comment") in reasons


def test_statements_from_the_model_and_offline(
        lm_ws: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    model = FakeModel(lm_ws / "repos" / "sample")
    model.leaky_statements = True
    with StubLM(model) as stub:
        out = cli_json(capsys, "statements", "sample", "--model", MODEL, "--max", "3",
                       "--base-url", stub.base_url, "--workspace", str(lm_ws))
        assert out["written"] == {"lm": 3} and out["requested"] == 3 and out["cost"] > 0
        assert out["leaking"] == 3  # the stub quoted a changed line each time
    # The forge wrote an offline statement for every instance (statements by default): the
    # model's replaced three of them, an offline run finds nothing left to write.
    offline = cli_json(capsys, "statements", "sample", "--mode", "tests", "--max", "2",
                       "--workspace", str(lm_ws))
    assert offline["written"] == {} and offline["skipped_existing"] >= 5
    with Store.open(lm_ws / "bugfoundry.duckdb") as store:
        sts = store.latest_statements()
        kinds = Counter(s.kind for s in sts.values())
        assert kinds["lm"] == 3 and len(sts) == offline["skipped_existing"]
        assert set(kinds) <= {"lm", "tests", "template"} and kinds["tests"] >= 1
        lm_one = next(s for s in sts.values() if s.kind == "lm")
        assert lm_one.model == MODEL and lm_one.leaks and lm_one.leaks[0].startswith("quotes")
        rec = store.get_instance(lm_one.instance_id)
        assert rec.problem_statement == lm_one.text and rec.statement.cost > 0
        tests_one = next(s for s in sts.values() if s.kind == "tests")
        assert "It now fails with" in tests_one.text and "pytest" not in tests_one.text
        assert not any("names the failing test" in leak for leak in tests_one.leaks)


def test_max_cost_stops_the_forge_cleanly(
        lm_ws: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    with StubLM(FakeModel(lm_ws / "repos" / "sample")) as stub:
        out = cli_json(capsys, "forge", "sample", "--strategy", "lm_modify,lm_rewrite",
                       "--seed", "7", "--max", "40", "--workers", "1", "--model", MODEL,
                       "--lm-concurrency", "1", "--max-cost", "0.0006",
                       "--base-url", stub.base_url, "--workspace", str(lm_ws))
        d = out["lm"]["lm_modify"]
        assert d["budget_stopped"] and d["not_sent"] > 0 and "lm_rewrite" not in out["lm"]
        assert len(stub.requests) == d["requested"] < d["targets"]
        assert 0.0006 <= d["cost"] < 0.0006 + 0.0004  # at most one answer over the line
        # What was paid for is validated (an answer equal to an earlier run's was judged then).
        assert out["validated_now"] + out["already_done"] == out["candidates"] >= 1


# ----------------------------------------------------------------- PR mirroring, route c
def _git(repo: Path, *args: str) -> None:
    import subprocess

    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
                   cwd=repo, check=True, capture_output=True)


def _history_needing_route_c(root: Path) -> Path:
    """A fix that neither reverse-applies today (the line changed since) nor can be run at
    its own commit (the package moved to src/ since): only a model can put the bug back."""
    repo = root / "calc"
    (repo / "calc").mkdir(parents=True)
    (repo / "tests").mkdir()
    (repo / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=68"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "calc"\nversion = "0.1"\n'
        '[project.optional-dependencies]\ntest = ["pytest"]\n')
    mean = ("def mean(xs):\n    total = 0\n    for x in xs:\n        total += x\n"
            "    return total / (len(xs) - 1)\n")
    (repo / "calc" / "__init__.py").write_text(mean)
    (repo / "tests" / "test_calc.py").write_text(
        "from calc import mean\n\n\ndef test_mean_of_one_pair():\n    assert mean([2, 2]) > 0\n")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "Add mean()")
    (repo / "calc" / "__init__.py").write_text(mean.replace("(len(xs) - 1)", "len(xs)"))
    (repo / "tests" / "test_calc.py").write_text(
        "from calc import mean\n\n\ndef test_mean_of_one_pair():\n    assert mean([2, 2]) > 0\n"
        "\n\ndef test_mean_divides_by_the_count():\n    assert mean([1, 2, 3]) == 2\n")
    _git(repo, "commit", "-qam", "Fix mean() dividing by n - 1 (closes #1)")
    (repo / "src").mkdir()
    _git(repo, "mv", "calc", "src/calc")
    with (repo / "pyproject.toml").open("a") as fh:
        fh.write('[tool.setuptools.packages.find]\nwhere = ["src"]\n')
    _git(repo, "commit", "-qam", "Move to a src layout")
    path = repo / "src" / "calc" / "__init__.py"
    path.write_text(path.read_text().replace("total", "acc"))
    _git(repo, "commit", "-qam", "Rename the accumulator")
    return repo


def undo_answer(body: dict[str, Any]) -> str:
    """The stub's route-c answer: today's file with the old bug put back."""
    current = re.search(r"current version:\n\n```python\n(.*?)```", prompt_of(body), re.S)
    assert current is not None
    return "```python\n" + current.group(1).replace("/ len(xs)", "/ (len(xs) - 1)") + "```\n"


def test_pr_mirror_route_c_asks_the_model_to_undo_the_fix(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    ws = str(tmp_path / "ws")
    source = _history_needing_route_c(tmp_path)
    assert main(["repo", "add", str(source), "--name", "calc", "--workspace", ws]) == 0
    with StubLM(undo_answer) as stub:
        out = cli_json(capsys, "forge", "calc", "--strategy", "pr_mirror", "--workers", "1",
                       "--model", MODEL, "--base-url", stub.base_url, "--workspace", ws)
        assert len(stub.requests) == 1
    assert isinstance(out, dict)
    assert out["mirror"]["recovered"] == {"a": 0, "b": 0, "c": 1}, out["mirror"]
    assert {"a", "b"} <= set(out["mirror"]["commits"][0]["failed"])  # why a and b could not
    assert out["kept_total"] == 1
    with Store.open(Path(ws) / "bugfoundry.duckdb") as store:
        (row,) = store.list_instances("calc")
        rec = store.get_instance(row.instance_id)
    assert rec.meta["route"] == "c" and rec.strategy == "pr_mirror"
    assert rec.fail_to_pass == ["tests/test_calc.py::test_mean_divides_by_the_count"]
    assert "+    return acc / (len(xs) - 1)" in rec.patch
    assert "mean() dividing by n - 1" in rec.problem_statement
