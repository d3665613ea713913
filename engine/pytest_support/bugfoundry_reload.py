"""Import-time changes in a forked child of the fork server (the ``reload`` path).

A candidate that changes a decorator, a class header, a default or module-level code cannot
swap code objects in: the change ran when the modules were imported. Instead the forked child
drops the changed modules and every module that holds one of their objects (transitively) from
``sys.modules``, imports them again with the candidate's source (served from memory, the tree
on disk is untouched), and re-collects the test modules among them, so the items it runs call
the new functions with the new fixtures and parameters. Everything else stays as imported.

Who holds what is indexed once in the server, after collection (``Holders``): a module holds
another's object when its namespace, one of its containers, classes, instances' ``__dict__``
or functions' defaults/closures reaches a module, function, class or instance owned by it
(``__module__``), or, for plain values (ints, strings, tuples), the very object another tree
module binds at top level (``from m import LIMIT``). When unsure this drops more, never less.

A conftest (or another registered plugin module of the tree) that holds such objects, e.g.
through a test helper module (``from tests.base import User``), is not dropped but refreshed in
place after the modules it imports are fresh (``bugfoundry_refresh``): its namespace is rebuilt
and pytest's fixture definitions and hook implementations get its new functions.

A reload is refused (``ReloadError``; the engine then runs a new pytest session) when a module
to drop lives outside the tree or is not Python source, is the main module, a changed module is
a registered pytest plugin, a plugin to refresh cannot be refreshed soundly, or when
re-importing or re-collecting raises. Each refusal names its ``kind`` so the engine can count
why. Runs inside the target's interpreter; depends on nothing but pytest.
"""

import contextlib
import importlib
import importlib.abc
import importlib.util
import linecache
import os
import sys
import types

import bugfoundry_codecache as codecache
from bugfoundry_refresh import RefreshError, check, refresh

PLAIN = (int, float, complex, str, bytes, tuple, frozenset)  # owned by "builtins"
SINGLETONS = (type(None), bool, type(Ellipsis), type(NotImplemented))
PYTEST = ("_pytest.", "pytest", "pluggy")
DEPTH = 3  # how far into containers, classes and instances the index looks


class ReloadError(Exception):
    """The reload cannot be made sound; the candidate takes a new pytest session instead.
    ``kind`` is a short, stable category of why (counted by the engine)."""

    def __init__(self, message, kind="other"):
        super().__init__(message)
        self.kind = kind


def _owner(value):
    """The module that owns ``value`` (its own name for a module), or None."""
    if isinstance(value, types.ModuleType):
        name = getattr(value, "__name__", None)
    elif isinstance(value, (type, types.FunctionType)):  # noqa: UP038 - any target Python
        try:
            name = value.__dict__.get("__module__") if isinstance(value, type) \
                else value.__module__
        except Exception:  # noqa: BLE001 - exotic metaclasses
            return None
    else:
        name = getattr(type(value), "__module__", None)
    return name if isinstance(name, str) else None


def _children(value):
    """What the index looks into below ``value``."""
    kind = type(value)
    if kind is dict:
        return [*value.keys(), *value.values()]
    if kind in (list, tuple, set, frozenset):
        return list(value)
    if isinstance(value, types.FunctionType):
        out = list(value.__defaults__ or ()) + list((value.__kwdefaults__ or {}).values())
        for cell in value.__closure__ or ():
            with contextlib.suppress(ValueError):
                out.append(cell.cell_contents)
        return out
    if isinstance(value, type):
        with contextlib.suppress(Exception):
            return list(vars(value).values())
        return []
    if isinstance(value, (types.ModuleType, types.BuiltinFunctionType)):  # noqa: UP038
        return []
    if str(getattr(kind, "__module__", "")).startswith(PYTEST):
        return []  # nodes, config, fixtures: what a re-collection replaces
    inner = getattr(value, "__dict__", None) if not isinstance(value, PLAIN) else None
    return list(inner.values()) if type(inner) is dict else []


class Holders:
    """Which loaded module holds objects of which tree module (built in the server)."""

    def __init__(self, root, modules=None):
        self.root = root
        modules = list((modules if modules is not None else sys.modules).items())
        self.order = [name for name, _m in modules]
        self.local = {}  # module name -> realpath of its file, for modules in the tree
        self.by_path = {}  # realpath -> module names (a file may be imported twice)
        for name, mod in modules:
            path = _file_of(mod)
            if path is not None and path.startswith(root):
                self.local[name] = path
                self.by_path.setdefault(path, []).append(name)
        # Plain values bound at top level by tree modules, by identity.
        bound = {}
        for name in self.local:
            for key, value in _namespace(dict(modules)[name]).items():
                if not _dunder(key) and isinstance(value, PLAIN) and not isinstance(value, bool):
                    bound.setdefault(id(value), set()).add(name)
        self.held_by = {}  # owner module -> modules holding its objects
        for name, mod in modules:
            for owner in self._owners(name, mod, bound):
                self.held_by.setdefault(owner, set()).add(name)

    def _owners(self, name, mod, bound):
        found = set()
        local = name in self.local
        seen = set()
        todo = []
        for key, value in _namespace(mod).items():
            if _dunder(key) or isinstance(value, SINGLETONS) or value is sys.modules:
                continue
            if (isinstance(value, types.ModuleType)
                    and getattr(value, "__name__", "") == f"{name}.{key}"):
                continue  # a package's attribute for its submodule: the import system's own
            todo.append((value, 0))
        while todo:
            value, depth = todo.pop()
            if id(value) in seen or isinstance(value, SINGLETONS):
                continue
            seen.add(id(value))
            if isinstance(value, PLAIN):
                if local and depth == 0:
                    found |= bound.get(id(value), set())
            else:
                owner = _owner(value)
                if owner in self.local:
                    found.add(owner)
            if depth < DEPTH:
                with contextlib.suppress(Exception):
                    todo.extend((child, depth + 1) for child in _children(value))
        found.discard(name)
        return found

    def closure(self, changed):
        """Every module to drop so that nothing keeps an object of the ``changed`` modules,
        each with the module whose objects it holds (None for a changed one)."""
        seen = {}
        todo = [(name, None) for name in changed]
        while todo:
            name, why = todo.pop()
            if name not in seen:
                seen[name] = why
                todo.extend((holder, name) for holder in self.held_by.get(name, ()))
        return seen

    def refuse(self, names, plugins=()):
        """Why dropping ``names`` (a ``closure``) cannot be sound, as (kind, message), or
        None. ``plugins`` are the registered pytest plugins among them: a changed one cannot
        be reloaded, a holder one (a conftest) is refreshed in place instead of dropped."""
        for name in sorted(names):
            path = self.local.get(name)
            if path is None:
                return ("outside", f"{name} holds objects of {names[name]} but is not a "
                        "module of the tree")
            if not path.endswith(".py"):
                return "not_source", f"{name} is not Python source ({os.path.basename(path)})"
            if name == "__main__":
                return "main", f"{name} is the main module"
            if name in plugins and names[name] is None:
                return "changed_plugin", f"{name} is a registered pytest plugin"
            if os.path.basename(path) == "conftest.py" and name not in plugins:
                return "conftest", f"{name} is a conftest pytest did not register"
        return None


def _dunder(key):
    return isinstance(key, str) and key.startswith("__") and key.endswith("__")


def _namespace(mod):
    try:
        ns = vars(mod)
    except TypeError:
        return {}
    return dict(ns) if isinstance(ns, dict) else {}


def _file_of(mod):
    path = getattr(mod, "__file__", None) if isinstance(mod, types.ModuleType) else None
    return os.path.realpath(path) if isinstance(path, str) else None


class _Source(importlib.abc.Loader):
    """Loads one module from the candidate's source held in memory."""

    def __init__(self, path, source):
        self.path = path
        self.source = source

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        code = compile(self.source, self.path, "exec", dont_inherit=True)
        exec(code, module.__dict__)  # noqa: S102 - the candidate's module, as an import runs it

    def get_source(self, _name):
        return self.source


class _Prefilled(importlib.abc.Loader):
    """A dropped package's own loader, with its kept submodules set as attributes before its
    code runs (the import system sets them only when it loads a submodule, and these stay)."""

    def __init__(self, inner, children):
        self.inner = inner
        self.children = children

    def create_module(self, spec):
        return self.inner.create_module(spec) if hasattr(self.inner, "create_module") else None

    def exec_module(self, module):
        for attr, child in self.children.items():
            if not hasattr(module, attr):
                setattr(module, attr, child)
        self.inner.exec_module(module)

    def __getattr__(self, name):
        return getattr(self.inner, name)


class _Finder(importlib.abc.MetaPathFinder):
    """Serves the candidate's files from memory, and the other dropped modules from the code
    the server compiled (``codes``); every other import goes on as usual."""

    def __init__(self, sources, prefill, codes=None, dropped=()):
        self.sources = sources  # realpath -> new source
        self.prefill = prefill  # dropped package -> {attribute: kept submodule}
        self.codes = codes or {}  # realpath -> (source bytes, code) compiled in the server
        self.dropped = set(dropped) if self.codes else set()
        self.stems = {os.path.basename(os.path.dirname(p)) if p.endswith("__init__.py")
                      else os.path.basename(p)[:-3] for p in sources}

    def find_spec(self, name, path=None, target=None):
        cached = name in self.dropped
        if (name.rpartition(".")[2] not in self.stems and name not in self.prefill
                and not cached):
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            if type(finder).__name__ == codecache.REWRITER and not cached:
                continue  # never a changed file (they are not test files)
            spec = finder.find_spec(name, path, target)
            if spec is None:
                continue
            origin = codecache.realpath(spec)
            code = codecache.fresh(self.codes, origin) if cached else None
            if origin in self.sources:
                spec = importlib.util.spec_from_file_location(
                    name, spec.origin, loader=_Source(spec.origin, self.sources[origin]),
                    submodule_search_locations=spec.submodule_search_locations)
            elif code is not None and spec.loader is not None:
                spec.loader = codecache.Code(code, spec.loader)
            elif name not in self.prefill and not cached:
                return None
            if name in self.prefill and spec.loader is not None:
                spec.loader = _Prefilled(spec.loader, self.prefill[name])
            return spec
        return None


def reload(holders, changes, modules_of_nodes, config, wanted=None, codes=None):
    """Drop and re-import what ``changes`` (realpath -> source) reaches. Returns the new test
    items by node id and the node ids of the re-collected test modules (their old items must
    not run). ``modules_of_nodes`` maps ``id(module)`` to the collected Module nodes of it;
    of the test modules to drop, only those in ``wanted`` (node ids; None: all) are collected
    again, the others only imported (their import-time effects, as in the server). ``codes``
    (``bugfoundry_codecache.compile_tree``) spares compiling the unchanged ones again."""
    changed = [n for path in changes for n in holders.by_path.get(path, [])]
    drop = holders.closure(changed)
    plugins = {n for n in drop
               if config.pluginmanager.is_registered(sys.modules.get(n, object()))}
    why = holders.refuse(drop, plugins)
    if why:
        raise ReloadError(why[1], why[0])
    for name in sorted(plugins):  # holders, by refuse: refreshed in place, never dropped
        try:
            check(sys.modules[name], config.pluginmanager, set(drop) - plugins, _owner)
        except RefreshError as exc:
            raise ReloadError(str(exc), "plugin_hook") from exc
    nodes = {}
    if wanted is None:
        wanted = {n.nodeid for ns in modules_of_nodes.values() for n in ns}
    for name in drop:
        for node in modules_of_nodes.get(id(sys.modules.get(name)), ()):
            nodes[name] = node
    for path, source in changes.items():
        lines = source.splitlines(keepends=True)
        linecache.cache[path] = (len(source), None, lines, path)
    refreshed = {name: sys.modules[name] for name in plugins}
    for name in drop:
        if name not in refreshed:
            sys.modules.pop(name, None)
    prefill = {}
    for name in list(sys.modules):
        parent = name.rpartition(".")[0]
        if parent in drop and parent not in refreshed:
            prefill.setdefault(parent, {})[name.rpartition(".")[2]] = sys.modules[name]
    sys.meta_path.insert(0, _Finder(changes, prefill, codes,
                                    [n for n in drop if n not in refreshed]))
    importlib.invalidate_caches()
    fresh = {}
    for name in [n for n in holders.order if n in drop]:
        try:
            if name in refreshed:  # what it imports from the dropped ones is imported anew
                refresh(refreshed[name], config,
                        codecache.fresh(codes or {}, holders.local.get(name, "")))
            elif name in nodes:  # imported again through its fresh node, even if already done
                fresh.update(_recollect(nodes[name], config, nodes[name].nodeid in wanted))
            elif name not in sys.modules:  # else imported again by an earlier one
                importlib.import_module(name)
        except ReloadError:
            raise
        except RefreshError as exc:
            raise ReloadError(str(exc), "refresh") from exc
        except BaseException as exc:  # noqa: BLE001 - the new session reports it as pytest would
            raise ReloadError(f"re-importing {name} raised {exc!r}", "import") from exc
    return fresh, {node.nodeid for node in nodes.values()}


def _recollect(node, config, collect=True):
    """The test items of a fresh Module node for ``node``'s file, by node id; its old fixture
    definitions are forgotten first so the new ones (and only they) apply. Without
    ``collect`` the module is only imported."""
    import pytest

    _forget_fixtures(node.session._fixturemanager, node.nodeid)
    try:
        new = type(node).from_parent(node.parent, path=node.path)
    except TypeError:
        new = type(node).from_parent(node.parent, fspath=node.fspath)
    items = []
    if not collect:
        new.obj  # noqa: B018 - imports the test module the way pytest does
        return {}

    def walk(collector):
        for child in collector.collect():
            if isinstance(child, pytest.Item):
                items.append(child)
            else:
                walk(child)

    walk(new)
    config.hook.pytest_collection_modifyitems(session=node.session, config=config,
                                              items=list(items))
    return {item.nodeid: item for item in items}


def _forget_fixtures(manager, nodeid):
    """Forget the fixtures a test module (and its classes) defined by node id, so its new
    node's take their place. Fixtures keyed by node object (pytest 9) need nothing: the new
    node's items never see the old node's."""
    prefix = nodeid + "::"

    def ours(key):
        return key == nodeid or str(key).startswith(prefix)

    by_node = getattr(manager, "_arg2node2fixturedefs", None)
    by_id = getattr(manager, "_arg2nodeid2fixturedefs", None)  # pytest 9's legacy half
    flat = getattr(manager, "_arg2fixturedefs", None)  # pytest 6 to 8
    autouse = getattr(manager, "_nodeid_autousenames", None)
    if isinstance(by_node, dict) and isinstance(by_id, dict):
        for per_id in by_id.values():
            for key in [k for k in per_id if ours(k)]:
                del per_id[key]
    elif isinstance(flat, dict):
        for name, fixturedefs in list(flat.items()):
            keep = [d for d in fixturedefs if not ours(getattr(d, "baseid", ""))]
            if len(keep) != len(fixturedefs):
                flat[name] = keep
    else:
        raise ReloadError("this pytest keeps fixtures in an unknown layout", "pytest")
    if isinstance(autouse, dict):
        for key in [k for k in autouse if ours(k)]:
            del autouse[key]
