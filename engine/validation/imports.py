"""Static import graph of a tree: which test files (transitively) import a given module.

A change that runs at import time (module level, class bodies, decorators, signatures) can
affect every test whose module imports the changed file, directly or through other modules
or the ``conftest.py`` files above it. Resolution is by file: module names are looked up
under the source roots and beside the importing file (pytest's rootdir insertion).

Parsing is the cost (boltons: 1.1 s for 100 files, paid by the first import-time candidate of
every forge), so what each file imports is cached on disk by the file's git blob id
(``ImportCache``): a file that did not change is never parsed again, by any forge, shard or
stage of this workspace.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import subprocess
import tempfile
from functools import cache
from pathlib import Path, PurePosixPath

# What one file imports, before resolution: (level, module, names); ``import a.b`` is
# (0, "a.b", []), ``from ..x import y`` is (2, "x", ["y"]).
Imports = list[tuple[int, str, list[str]]]
IMPORT_CACHE = "imports.json"  # under the workspace's cache dir


def tree_blobs(root: Path) -> dict[str, str]:
    """Tracked file -> git blob id of the checkout at ``root`` (the index's, one process)."""
    res = subprocess.run(["git", "ls-files", "-s", "-z"], cwd=root, capture_output=True,
                         timeout=120)
    out: dict[str, str] = {}
    for entry in res.stdout.decode(errors="replace").split("\0"):
        meta, _tab, rel = entry.partition("\t")
        parts = meta.split()
        if rel and len(parts) >= 2:
            out[rel] = parts[1]
    return out


class ImportCache:
    """Blob id -> what the file imports, kept in one JSON file (written whole, atomically;
    two writers at once lose only each other's new entries, which are parsed again)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, Imports] = {}
        self.added = 0
        with contextlib.suppress(OSError, ValueError, TypeError):
            data = json.loads(path.read_text(encoding="utf-8"))
            self.entries = {k: [(int(a), str(b), list(c)) for a, b, c in v]
                            for k, v in data.items()}

    def get(self, blob: str) -> Imports | None:
        return self.entries.get(blob)

    def put(self, blob: str, imports: Imports) -> None:
        self.entries[blob] = imports
        self.added += 1

    def save(self) -> None:
        if not self.added:
            return
        tmp = ""
        try:  # a cache that cannot be written only costs a parse next time
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".imports-")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(self.entries, fh, separators=(",", ":"))
            os.replace(tmp, self.path)
            self.added = 0
        except OSError:
            if tmp:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)


def parse_imports(data: bytes, rel: str) -> Imports:
    """Every import statement of a file, anywhere in it (functions included)."""
    try:
        tree = ast.parse(data, rel)
    except (SyntaxError, ValueError):
        return []
    out: Imports = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((0, alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            out.append((node.level, node.module or "", [a.name for a in node.names]))
    return out


def _module_name(rel: str) -> str:
    parts = list(PurePosixPath(rel).with_suffix("").parts)
    if parts and parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


class ImportGraph:
    """Files of one tree and the repo files each of them imports (pure after construction)."""

    def __init__(self, root: Path, files: list[str], source_roots: list[str], *,
                 blobs: dict[str, str] | None = None,
                 cache: ImportCache | None = None) -> None:
        self.root = root
        self.blobs = blobs or {}  # file -> blob id, for ``cache``
        self.cache = cache
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

    def _imports(self, rel: str) -> Imports:
        blob = self.blobs.get(rel)
        if self.cache is not None and blob:
            known = self.cache.get(blob)
            if known is not None:
                return known
        try:
            data = (self.root / rel).read_bytes()
        except OSError:
            return []
        found = parse_imports(data, rel)
        if self.cache is not None and blob:
            self.cache.put(blob, found)
        return found

    def imports_of(self, rel: str) -> set[str]:
        if rel in self._edges:
            return self._edges[rel]
        found: set[str] = set()
        package = _module_name(rel).split(".")
        if not rel.endswith("__init__.py"):
            package = package[:-1]
        for level, module, names in self._imports(rel):
            if level:
                anchor = package[: len(package) - (level - 1)] if level > 1 else package
                mod = ".".join([*anchor, *(module.split(".") if module else [])])
            else:
                mod = module
            targets = [mod] + [f"{mod}.{a}" if mod else a for a in names]
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
        out = {tf for tf in test_files if changed in self._closure_of_test(tf)}
        if self.cache is not None:
            self.cache.save()
        return out

    def warm(self, test_files: list[str]) -> None:
        """Parse (or read from the cache) every file the tests reach, as the first
        import-time candidate of a forge would."""
        self.test_files_importing("", test_files)

    @cache  # noqa: B019 - one graph per validation run, bounded by files
    def _closure_of_test(self, test_file: str) -> frozenset[str]:
        return frozenset(self.closure([test_file, *self.conftests_for(test_file)]))
