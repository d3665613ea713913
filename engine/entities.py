"""Find the functions, methods and classes of a repo that bug-forging strategies may mutate.

Unlike SWE-smith, async functions are entities and nested functions are *not*: a nested function
is part of its parent, so mutating both would yield the same diff under two ids. The file walk is
sorted so a seed pins the output on every machine.
"""

from __future__ import annotations

import ast
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

FUNCTION_KINDS = frozenset({"function", "async_function", "method", "async_method"})

_TEST_DIRS = frozenset({"tests", "test", "testing"})
# Vendored copies of other projects (poetry-core's _vendor: fastjsonschema, lark, packaging)
# are not the project's code: a bug there is not one its authors would make.
_NON_SOURCE_DIRS = frozenset({"docs", "doc", "examples", "benchmarks", "bench", "scripts",
                              "_vendor", "vendor", "_vendored", "vendored", "third_party"})
_NON_SOURCE_FILES = frozenset({"setup.py", "noxfile.py", "conftest.py", "_version.py"})
# Only for the rglob fallback: git already ignores these in a real checkout.
_ENV_DIRS = frozenset(
    {"venv", "env", "site-packages", "build", "dist", "node_modules", "__pycache__"}
)


@dataclass(frozen=True)
class Entity:
    """One mutable unit of code; lines are 1-based, inclusive and include decorators."""

    file: str  # repo-relative posix path
    qualname: str  # "parse_rows", "Ledger", "Ledger.post", "Outer.Inner.method"
    kind: str  # function | async_function | method | async_method | class
    start_line: int
    end_line: int
    complexity: int


@dataclass(frozen=True)
class EntityNode:
    """An entity together with its libcst node inside ``ParsedFile.wrapper.module``."""

    entity: Entity
    node: cst.FunctionDef | cst.ClassDef


@dataclass(frozen=True)
class ParsedFile:
    """A parsed source file; node identities match the wrapper's metadata."""

    rel: str
    source: str
    wrapper: MetadataWrapper
    entities: list[EntityNode]

    @property
    def module(self) -> cst.Module:
        return self.wrapper.module


def _is_candidate_path(rel: str, repo_root: Path) -> bool:
    """True for files that are library code (not tests, docs, packaging or tooling)."""
    path = PurePosixPath(rel)
    if path.suffix != ".py":
        return False
    dirs = path.parts[:-1]
    if any(d.startswith(".") for d in path.parts):
        return False
    if any(d in _TEST_DIRS or d in _NON_SOURCE_DIRS for d in dirs):
        return False
    name = path.name
    if name in _NON_SOURCE_FILES or name.startswith("test_") or name.endswith("_test.py"):
        return False
    if rel == "conf.py":  # a Sphinx config at the root, unless it is a runnable script
        try:
            text = (repo_root / rel).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return False
        return "__main__" in text
    return True


def _listed_files(repo_root: Path) -> list[str] | None:
    """Tracked ``*.py`` files via git, or None when ``repo_root`` is not inside a git work tree."""
    try:
        proc = subprocess.run(
            ["git", "-c", "core.quotepath=off", "ls-files", "-z", "--", "*.py"],
            cwd=repo_root,
            capture_output=True,
            check=False,
        )
    except OSError:
        return None
    if proc.returncode != 0:
        return None
    return [p for p in proc.stdout.decode("utf-8", "surrogateescape").split("\0") if p]


def iter_source_files(repo_root: Path) -> list[str]:
    """Repo-relative posix paths of the Python files worth mutating, sorted.

    Sorting (not file-system order) is what makes a seed reproducible across machines.
    """
    repo_root = Path(repo_root)
    listed = _listed_files(repo_root)
    if not listed:  # not a git work tree (or nothing tracked under it)
        listed = [p.relative_to(repo_root).as_posix() for p in repo_root.rglob("*.py")]
        listed = [p for p in listed if not _ENV_DIRS.intersection(PurePosixPath(p).parts[:-1])]
    return sorted(
        rel
        for rel in set(listed)
        if (repo_root / rel).is_file() and _is_candidate_path(rel, repo_root)
    )


class _Complexity(cst.CSTVisitor):
    """SWE-smith-like cyclomatic estimate, so thresholds mean the same as in the paper."""

    def __init__(self) -> None:
        self.score = 1

    def visit_If(self, node: cst.If) -> None:
        self.score += 1

    def visit_For(self, node: cst.For) -> None:
        self.score += 1

    def visit_While(self, node: cst.While) -> None:
        self.score += 1

    def visit_BooleanOperation(self, node: cst.BooleanOperation) -> None:
        # libcst nests `a and b and c` as two binary nodes; ast has one node with 3 values.
        self.score += 1

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        self.score += 1

    def visit_ExceptStarHandler(self, node: cst.ExceptStarHandler) -> None:
        self.score += 1

    def visit_Comparison(self, node: cst.Comparison) -> None:
        self.score += len(node.comparisons)


def complexity(node: cst.CSTNode) -> int:
    """1 + ifs/loops + (boolean operands - 1) + except handlers + comparison operators."""
    visitor = _Complexity()
    node.visit(visitor)
    return visitor.score


def _dotted_tail(node: cst.BaseExpression) -> str:
    """Last component of a dotted name (``typing.TYPE_CHECKING`` -> ``TYPE_CHECKING``)."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        return node.attr.value
    return ""


def _is_main_string(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.SimpleString) and node.evaluated_value == "__main__"


def is_guard_if(node: cst.If) -> bool:
    """``if TYPE_CHECKING:`` or ``if __name__ == "__main__":`` - code no test ever runs."""
    test = node.test
    if _dotted_tail(test) == "TYPE_CHECKING":
        return True
    if isinstance(test, cst.Comparison) and len(test.comparisons) == 1:
        left, right = test.left, test.comparisons[0].comparator
        names = {_dotted_tail(left), _dotted_tail(right)}
        return "__name__" in names and (_is_main_string(left) or _is_main_string(right))
    return False


class _Collector(cst.CSTVisitor):
    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, rel: str) -> None:
        self.rel = rel
        self.scope: list[str] = []  # enclosing class names
        self.found: list[EntityNode] = []

    def _add(self, node: cst.FunctionDef | cst.ClassDef, qualname: str, kind: str) -> None:
        pos = self.get_metadata(PositionProvider, node)
        start = pos.start.line
        for dec in node.decorators:
            start = min(start, self.get_metadata(PositionProvider, dec).start.line)
        entity = Entity(self.rel, qualname, kind, start, pos.end.line, complexity(node))
        self.found.append(EntityNode(entity, node))

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        is_async = node.asynchronous is not None
        if self.scope:
            kind = "async_method" if is_async else "method"
        else:
            kind = "async_function" if is_async else "function"
        self._add(node, ".".join([*self.scope, node.name.value]), kind)
        return False  # nested functions and classes belong to this entity

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        self._add(node, ".".join([*self.scope, node.name.value]), "class")
        self.scope.append(node.name.value)
        return True

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self.scope.pop()

    def visit_If(self, node: cst.If) -> bool:
        return not is_guard_if(node)


def parse_file(rel: str, source: str) -> ParsedFile:
    """Parse ``source`` and collect its entities, sorted by position. Raises on syntax errors."""
    wrapper = MetadataWrapper(cst.parse_module(source))
    collector = _Collector(rel)
    wrapper.visit(collector)
    found = sorted(collector.found, key=lambda e: (e.entity.start_line, e.entity.qualname))
    return ParsedFile(rel, source, wrapper, found)


def read_source(path: Path) -> str | None:
    """The file's text with line ends untouched, or None if it is not readable UTF-8."""
    try:
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    if text.startswith("\ufeff"):
        return None  # a BOM would be lost on round-trip; such files are rare
    return text


def extract_entities(repo_root: Path, files: Iterable[str]) -> list[Entity]:
    """Entities of ``files`` (repo-relative), sorted by file, line and name.

    Files that do not decode or parse are skipped: a strategy cannot mutate them anyway.
    """
    out: list[Entity] = []
    for rel in sorted(set(files)):
        source = read_source(Path(repo_root) / rel)
        if source is None:
            continue
        try:
            parsed = parse_file(rel, source)
        except (cst.ParserSyntaxError, RecursionError):
            continue
        out.extend(e.entity for e in parsed.entities)
    return out


def touched_entities(rel: str, source: str, lines: Iterable[int]) -> list[str]:
    """Qualnames of the innermost entities (as ``extract_entities`` names them) that hold
    ``lines`` (1-based), in file order; module-level lines name nothing. Names a diff that was
    not forged on one entity (a real fix). Uses ``ast``, not libcst: a real fix may sit in a
    file of thousands of lines, and this runs once per mined commit."""
    try:
        tree = ast.parse(source, rel)
    except (SyntaxError, ValueError, RecursionError):
        return []
    spans: list[tuple[int, int, str]] = []

    def walk(body: list[ast.stmt], scope: tuple[str, ...]) -> None:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                qual = ".".join([*scope, node.name])
                spans.append((first, node.end_lineno or node.lineno, qual))
                if isinstance(node, ast.ClassDef):  # nested functions belong to their parent
                    walk(node.body, (*scope, node.name))
            else:
                for child in ast.iter_child_nodes(node):
                    if isinstance(child, ast.stmt):
                        walk([child], scope)

    walk(tree.body, ())
    names: list[str] = []
    for line in sorted(set(lines)):
        holders = [s for s in spans if s[0] <= line <= s[1]]
        if holders:
            inner = min(holders, key=lambda s: s[1] - s[0])[2]
            if inner not in names:
                names.append(inner)
    return names
