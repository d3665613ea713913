"""What becomes a candidate out of a model's answer, and what is rejected and why."""

from __future__ import annotations

import pytest

from engine.dataset.statements import find_leaks, template_statement
from engine.lm.client import LMSettings, load_settings
from engine.lm.parsing import (
    Rejected,
    accept_function,
    extract_code,
    splice_function,
    stub_function,
)
from tests.records import instance

FILE = '''import math


class Account:
    @property
    def balance(self, fee: int = 0) -> int:
        """The balance after fees."""
        total = 0
        for amount in self.amounts:  # every posting
            if amount > 0:
                total += amount
        return total - fee

    def close(self):
        return None
'''
ORIGINAL = FILE.split("    @property\n", 1)[1].split("\n\n    def close", 1)[0]
ORIGINAL = "@property\n" + "\n".join(line[4:] for line in ORIGINAL.splitlines()) + "\n"
BUGGY = ORIGINAL.replace("amount > 0", "amount >= 0")


def _fence(code: str, lang: str = "python") -> str:
    return f"Here you go:\n```{lang}\n{code}```\nThe bug is subtle."


def test_good_answer_is_spliced_with_the_original_indentation() -> None:
    new = accept_function(_fence(BUGGY), ORIGINAL, file_source=FILE)
    spliced = splice_function(FILE, 5, 12, new.source)
    assert spliced == FILE.replace("amount > 0", "amount >= 0")
    compile(spliced, "x.py", "exec")


def test_answer_that_repeats_the_whole_file_is_accepted_when_only_the_function_changed() -> None:
    whole = FILE.replace("amount > 0", "amount >= 0")
    new = accept_function(_fence(whole), ORIGINAL, file_source=FILE)
    assert "amount >= 0" in new.source and new.source.startswith("@property")


@pytest.mark.parametrize(("answer", "reason"), [
    ("I cannot help with that.", "no_code"),
    (_fence("def balance(self, fee: int = 0) -> int:\n    return (\n"), "does_not_parse"),
    (_fence("def other():\n    return 1\n"), "missing_function"),
    (_fence(BUGGY.replace("fee: int = 0", "fee: int = 1")), "signature_changed"),
    (_fence(BUGGY.replace("The balance after fees.", "Buggy now.")), "docstring_changed"),
    (_fence(BUGGY.replace("amount >= 0:", "amount >= 0:  # BUG: includes zero")),
     "revealing_comment"),
    (_fence("import os\n\n" + BUGGY), "adds_imports"),
    (_fence(BUGGY + "\n\ndef helper():\n    return 2\n"), "touches_other_entities"),
    (_fence(ORIGINAL), "unchanged"),
    (_fence(ORIGINAL.replace("# every posting", "")), "unchanged"),
])
def test_rejections_carry_a_reason(answer: str, reason: str) -> None:
    with pytest.raises(Rejected) as info:
        accept_function(answer, ORIGINAL, file_source=FILE)
    assert info.value.reason == reason


def test_extract_code_prefers_the_block_defining_the_function() -> None:
    text = "```python\nx = 1\n```\nthen\n```py\ndef balance(self):\n    pass\n```"
    assert extract_code(text, "balance").startswith("def balance")


def test_stub_keeps_signature_and_docstring() -> None:
    stubbed = stub_function(FILE, 5, 12)
    assert '"""The balance after fees."""\n        raise NotImplementedError\n' in stubbed
    assert "total = 0" not in stubbed and "def close(self):" in stubbed
    compile(stubbed, "x.py", "exec")


def test_leak_check_flags_quoted_changed_lines_and_test_names() -> None:
    patch = ("diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n@@ -1,2 +1,2 @@\n"
             " def f(x):\n-    return x * 100 + 1\n+    return x * 100 - 1\n")
    assert find_leaks("f(2) gives 199, I expected 201.", patch, ["t.py::test_f"]) == []
    leaks = find_leaks("The line `return x * 100 - 1` is wrong; see test_f in pytest.",
                       patch, ["t.py::test_f"])
    assert leaks == ["quotes `return x * 100 - 1`", "names the failing test test_f",
                     "mentions pytest"]


def test_template_statement_names_the_symptom_not_the_tests() -> None:
    rec = instance(entity="Ledger.post", file="src/ledgerkit/ledger.py",
                   failures={"tests/t.py::test_post": "E   KeyError: 'usd'"},
                   fail_to_pass=["tests/t.py::test_post"])
    text = template_statement(rec)
    assert "KeyError" in text and "ledgerkit.ledger" in text and "test_post" not in text


def test_settings_flags_beat_environment_beat_config(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    (tmp_path / "config.toml").write_text(
        '[lm]\nmodel = "from-config"\nbase_url = "http://config/v1"\nconcurrency = 2\n'
        '[lm.prices]\n"from-config" = [1.0, 2.0]\n')
    monkeypatch.delenv("BUGFOUNDRY_LM_MODEL", raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://env/v1")
    s = load_settings(tmp_path)
    assert (s.model, s.base_url, s.concurrency) == ("from-config", "http://env/v1", 2)
    assert s.cost(1_000_000, 500_000) == pytest.approx(2.0)
    s = load_settings(tmp_path, model="gpt-4o-mini-2024-07-18", base_url="http://flag/v1")
    assert s.base_url == "http://flag/v1"
    assert s.price() == (0.15, 0.60)  # a dated name is priced by its longest known prefix
    assert LMSettings(model="llama3").price() == (0.0, 0.0)  # a local model costs nothing


def test_undo_answers_must_parse_differ_and_keep_quiet() -> None:
    from engine.lm.undo import check_undo

    current = "def fee(x):\n    return x * 2  # doubled\n"
    assert check_undo("```python\ndef fee(x):\n    return x * 3  # doubled\n```", current) == (
        "def fee(x):\n    return x * 3  # doubled\n")
    for answer, reason in [
        ("```python\ndef fee(x):\n    return x *\n```", "does_not_parse"),
        ("```python\ndef fee(x):\n    return x * 2\n```", "unchanged"),
        ("```python\ndef fee(x):\n    return x * 3  # the old bug\n```", "revealing_comment"),
    ]:
        with pytest.raises(Rejected) as info:
            check_undo(answer, current)
        assert info.value.reason == reason
