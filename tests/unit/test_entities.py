"""Entity extraction and source-file selection for the mutation strategies."""

from __future__ import annotations

import subprocess
from pathlib import Path

from engine.entities import Entity, complexity, extract_entities, iter_source_files

SOURCE = '''\
"""Module."""
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    def only_for_types() -> None: ...


@decorator
@other(1)
def parse_rows(rows):
    def helper(r):
        return r.strip()

    class Local:
        def m(self):
            return 1

    return [helper(r) for r in rows if r and r != "x"]


async def fetch(url):
    async with session() as s:
        return await s.get(url)


class Ledger(Base):
    rate = 2

    def post(self, amount):
        try:
            if amount < 0 or amount > 10 and amount != 5:
                raise ValueError
        except KeyError:
            pass
        for _ in range(3):
            while False:
                pass

    async def flush(self):
        return None

    class Entry:
        def total(self):
            return 0
'''


def _write(root: Path, rel: str, text: str = "x = 1\n") -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _entities(tmp_path: Path) -> dict[str, Entity]:
    _write(tmp_path, "pkg/mod.py", SOURCE)
    return {e.qualname: e for e in extract_entities(tmp_path, ["pkg/mod.py"])}


def test_entity_kinds_and_qualnames(tmp_path: Path) -> None:
    found = _entities(tmp_path)
    assert {q: e.kind for q, e in found.items()} == {
        "parse_rows": "function",
        "fetch": "async_function",
        "Ledger": "class",
        "Ledger.post": "method",
        "Ledger.flush": "async_method",
        "Ledger.Entry": "class",
        "Ledger.Entry.total": "method",
    }


def test_nested_functions_and_classes_belong_to_their_parent(tmp_path: Path) -> None:
    found = _entities(tmp_path)
    assert not any("helper" in q or "Local" in q for q in found)


def test_type_checking_block_is_not_mined(tmp_path: Path) -> None:
    assert "only_for_types" not in _entities(tmp_path)


def test_lines_include_decorators_and_are_inclusive(tmp_path: Path) -> None:
    found = _entities(tmp_path)
    lines = SOURCE.splitlines()
    rows = found["parse_rows"]
    assert lines[rows.start_line - 1] == "@decorator"
    assert lines[rows.end_line - 1].strip().startswith("return [helper(r)")
    assert found["fetch"].file == "pkg/mod.py"
    post = found["Ledger.post"]
    assert lines[post.start_line - 1].strip().startswith("def post")
    assert lines[post.end_line - 1].strip() == "pass"


def test_complexity_counts_like_swe_smith(tmp_path: Path) -> None:
    found = _entities(tmp_path)
    # 1 + if + for + while + 2 boolops ("or", "and") + 1 except + 3 comparisons
    assert found["Ledger.post"].complexity == 1 + 1 + 1 + 1 + 2 + 1 + 3
    # 1 + comprehension condition is not an if statement: "and" + "!="
    assert found["parse_rows"].complexity == 1 + 1 + 1
    assert found["Ledger.flush"].complexity == 1
    import libcst as cst

    assert complexity(cst.parse_module("a < b < c\n")) == 3


def test_extract_skips_unparsable_files(tmp_path: Path) -> None:
    _write(tmp_path, "bad.py", "def f(:\n")
    _write(tmp_path, "good.py", "def g():\n    return 1\n")
    found = extract_entities(tmp_path, ["good.py", "bad.py"])
    assert [e.qualname for e in found] == ["g"]


LAYOUT = [
    "pkg/__init__.py",
    "pkg/core.py",
    "pkg/sub/util.py",
    "pkg/tests/test_core.py",
    "pkg/testing/helpers.py",
    "tests/test_a.py",
    "test/x.py",
    "pkg/core_test.py",
    "pkg/test_inline.py",
    "conftest.py",
    "docs/conf.py",
    "doc/x.py",
    "examples/demo.py",
    "benchmarks/b.py",
    "bench/b.py",
    "scripts/release.py",
    "setup.py",
    "noxfile.py",
    "conf.py",
    ".github/hook.py",
    "pkg/_version.py",
    "src/pkg/_vendor/lark/lexer.py",  # vendored copies of other projects
    "pkg/vendor/six.py",
]
EXPECTED = ["pkg/__init__.py", "pkg/core.py", "pkg/sub/util.py"]


def test_iter_source_files_without_git(tmp_path: Path) -> None:
    for rel in LAYOUT:
        _write(tmp_path, rel)
    _write(tmp_path, ".venv/lib/site.py")
    _write(tmp_path, "venv/lib/x.py")
    assert iter_source_files(tmp_path) == EXPECTED


def test_iter_source_files_uses_git_and_sorts(tmp_path: Path) -> None:
    for rel in reversed(LAYOUT):
        _write(tmp_path, rel)
    _write(tmp_path, "pkg/untracked.py")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "add", *LAYOUT], cwd=tmp_path, check=True)
    assert iter_source_files(tmp_path) == EXPECTED


def test_root_conf_py_kept_when_it_is_a_script(tmp_path: Path) -> None:
    _write(tmp_path, "conf.py", "if __name__ == '__main__':\n    pass\n")
    _write(tmp_path, "pkg/conf.py")
    assert iter_source_files(tmp_path) == ["conf.py", "pkg/conf.py"]
