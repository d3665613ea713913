"""Static import graph of a tree: which test files (transitively) import a given module.

A change that runs at import time (module level, class bodies, decorators, signatures) can
affect every test whose module imports the changed file, directly or through other modules
or the ``conftest.py`` files above it. Resolution is by file: module names are looked up
under the source roots and beside the importing file (pytest's rootdir insertion).
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path, PurePosixPath


def _module_name(rel: str) -> str:
    parts = list(PurePosixPath(rel).with_suffix("").parts)
    if parts and parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


class ImportGraph:
    """Files of one tree and the repo files each of them imports (pure after construction)."""

    def __init__(self, root: Path, files: list[str], source_roots: list[str]) -> None:
        self.root = root
        self.files = sorted(f for f in files if f.endswith(".py"))
        self.roots = [r.strip("./") for r in source_roots] or [""]
        self._by_name: dict[str, str] = {}
        for rel in self.files:
            for sr in [*self.roots, ""]:
                prefix = (sr + "/") if sr else ""
                if rel.startswith(prefix):
                    self._by_name.setdefault(_module_name(rel[len(prefix):]), rel)
        self._fileset = set(self.files)
        self._edges: dict[str, set[str]] = {}

    def _resolve(self, name: str, importer: str) -> list[str]:
        """Files executed by importing ``name``: the module and its parent packages."""
        out: list[str] = []
        parts = name.split(".")
        base = str(PurePosixPath(importer).parent)
        for i in range(1, len(parts) + 1):
            dotted = ".".join(parts[:i])
            rel = self._by_name.get(dotted)
            if rel is None and base not in ("", "."):  # rootdir insertion beside the importer
                for cand in (f"{base}/{dotted.replace('.', '/')}.py",
                             f"{base}/{dotted.replace('.', '/')}/__init__.py"):
                    if cand in self._fileset:
                        rel = cand
                        break
            if rel is not None:
                out.append(rel)
        return out

    def imports_of(self, rel: str) -> set[str]:
        if rel in self._edges:
            return self._edges[rel]
        found: set[str] = set()
        try:
            tree = ast.parse((self.root / rel).read_bytes(), rel)
        except (SyntaxError, ValueError, OSError):
            self._edges[rel] = found
            return found
        package = _module_name(rel).split(".")
        if not rel.endswith("__init__.py"):
            package = package[:-1]
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    found.update(self._resolve(alias.name, rel))
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    anchor = package[: len(package) - (node.level - 1)] if node.level > 1 \
                        else package
                    mod = ".".join([*anchor, *(node.module.split(".") if node.module else [])])
                else:
                    mod = node.module or ""
                targets = [mod] + [f"{mod}.{a.name}" if mod else a.name for a in node.names]
                for t in targets:
                    if t:
                        found.update(self._resolve(t, rel))
        found.discard(rel)
        self._edges[rel] = found
        return found

    def closure(self, start: list[str]) -> set[str]:
        seen: set[str] = set()
        todo = list(start)
        while todo:
            rel = todo.pop()
            if rel in seen:
                continue
            seen.add(rel)
            todo.extend(self.imports_of(rel) - seen)
        return seen

    def conftests_for(self, test_file: str) -> list[str]:
        out = []
        parent = PurePosixPath(test_file).parent
        for anc in [parent, *parent.parents]:
            cand = "conftest.py" if str(anc) in ("", ".") else f"{anc}/conftest.py"
            if cand in self._fileset:
                out.append(cand)
        return out

    def test_files_importing(self, changed: str, test_files: list[str]) -> set[str]:
        return {tf for tf in test_files if changed in self._closure_of_test(tf)}

    @cache  # noqa: B019 - one graph per validation run, bounded by files
    def _closure_of_test(self, test_file: str) -> frozenset[str]:
        return frozenset(self.closure([test_file, *self.conftests_for(test_file)]))
