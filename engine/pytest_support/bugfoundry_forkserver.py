"""A warm pytest that collects once and forks per candidate (``-p bugfoundry_forkserver``).

Runs inside the *target* repo's interpreter and depends on nothing but pytest. Instead of the
normal test loop it serves JSON-line commands read from its stdin and answers on its stdout
(both duplicated at import time, before pytest's capture redirects them). For each ``run``:

1. fork; the child makes itself a process group, sets a CPU rlimit, compiles the patched file
   whole (so line numbers, future flags and ``__class__`` cells match) and installs the new
   code objects into the live functions (``func.__code__ = new``), nested closures included;
2. the child runs only the requested, already-collected items through the normal
   ``pytest_runtest_protocol`` hook (fixtures, markers and plugins behave as usual) and writes
   per-test reports with ``bugfoundry_report``'s reporter, line by line;
3. the parent waits up to the timeout, kills the child's group when it is over, and answers
   with the status and the child's CPU time.

A request with ``reload`` (an import-time change: decorators, class headers, defaults, module
level) instead has the child import the changed modules, and every module holding their
objects, anew and re-collect the test modules among them (``bugfoundry_reload``); the server
indexes who holds what once, after collection.

Every child starts from the same pristine parent, so candidates never leak into each other.
"""

import abc
import contextlib
import gc
import json
import os
import signal
import sys
import threading
import time
import traceback
import types

import pytest
from bugfoundry_childwait import enter_child, wait_child
from bugfoundry_codecache import compile_tree
from bugfoundry_reload import Holders, ReloadError, reload
from bugfoundry_report import _Reporter
from bugfoundry_rewritecache import install as install_rewrite_cache
from bugfoundry_tracebacks import memoize_statement_ranges, warm_module_map
from bugfoundry_watch import start as start_watch

# Keep the real stdin/stdout for the protocol; pytest's output goes nowhere.
_CMD_FD = os.dup(0)
_OUT_FD = os.dup(1)
_NULL = os.open(os.devnull, os.O_RDWR)
os.dup2(_NULL, 0)
os.dup2(_NULL, 1)
_ROOT = os.path.realpath(os.getcwd()) + os.sep

SWAP_FAILED = 3
CHILD_ERROR = 4
RELOAD_FAILED = 5


def _send(msg):
    data = (json.dumps(msg) + "\n").encode()
    while data:
        n = os.write(_OUT_FD, data)
        data = data[n:]


def _codes(code):
    """Code objects nested in ``code``, depth first in source order."""
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield const
            yield from _codes(const)


def _warm_source_caches(items):
    """Fill, once in the parent, the caches every child's tracebacks would otherwise refill:
    ``inspect``'s file -> module map (a realpath per loaded module on the first lookup),
    ``linecache`` and pytest's parsed statement ranges for the collected test files."""
    import linecache

    warm_module_map()
    for path in {str(getattr(item, "path", getattr(item, "fspath", ""))) for item in items}:
        if path:
            linecache.getlines(path)
    src = memoize_statement_ranges()
    if src is None:
        return
    seen = set()
    for item in items:  # parse and walk each test file once, here, for every child
        code = getattr(getattr(item, "obj", None), "__code__", None)
        if code is None or code.co_filename in seen:
            continue
        seen.add(code.co_filename)
        with contextlib.suppress(Exception):
            source = src.findsource(code)[0]
            if source is not None:
                src.getstatementrange_ast(code.co_firstlineno - 1, source)


class _Server:
    def __init__(self, config):
        self.config = config
        self.items = []
        self.index = {}  # (realpath, qualname) -> [function objects]
        self.holders = None  # who holds which tree module's objects (the reload path)
        self.holders_cpu = -1.0  # CPU seconds the index took (-1: not built yet)
        self.test_modules = {}  # id(test module) -> [its collected Module nodes]
        self.codes = {}  # realpath -> (source, code) of the tree's modules, for reloads

    def pytest_collection_finish(self, session):
        self.items = list(session.items)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session):
        by_id = {item.nodeid: i for i, item in enumerate(self.items)}
        self._build_index()
        _warm_source_caches(self.items)
        gc.collect()
        gc.freeze()  # keep the parent's pages shared with every child
        # ``cpu``: what starting cost (interpreter, collection, index), paid once per forge
        _send({"event": "ready", "collected": len(self.items), "pid": os.getpid(),
               "threads": threading.active_count(), "functions": len(self.index),
               "hot": hasattr(types.CodeType, "co_qualname"),
               "cpu": round(time.process_time(), 6)})
        reader = os.fdopen(_CMD_FD, "r", encoding="utf-8")
        for line in reader:
            if not line.strip():
                continue
            cmd = json.loads(line)
            if cmd.get("op") == "quit":
                break
            try:
                _send(_fork_cost(cmd) if cmd.get("op") == "fork_cost" else self._run(cmd, by_id))
            except Exception as exc:  # noqa: BLE001 - report, keep serving
                _send({"id": cmd.get("id"), "status": "server_error", "message": repr(exc)})
        return True

    def _build_index(self):
        real = {}
        for obj in gc.get_objects():
            if type(obj) is not types.FunctionType:
                continue
            code = obj.__code__
            path = real.get(code.co_filename)
            if path is None:
                path = real[code.co_filename] = os.path.realpath(code.co_filename)
            if path.startswith(_ROOT):
                qual = getattr(code, "co_qualname", code.co_name)
                self.index.setdefault((path, qual), []).append(obj)

    def _index_modules(self):
        """Index, on the first reload request, the test modules' nodes and who holds which
        tree module's objects (here in the parent, once, for every later child)."""
        started = time.process_time()
        for item in self.items:
            node = item.getparent(pytest.Module)
            module = None
            with contextlib.suppress(Exception):
                module = node.obj if node is not None else None
            if module is not None and node not in self.test_modules.get(id(module), []):
                self.test_modules.setdefault(id(module), []).append(node)
        try:
            self.holders = Holders(_ROOT)
        except Exception:  # noqa: BLE001 - no reload path; the engine falls back
            self.holders = None
        if self.holders is not None:
            self.codes = compile_tree(self.holders.local, self.config)
        self.holders_cpu = round(time.process_time() - started, 3)

    def _reload(self, changes, selected):
        """The items to run once the changed modules are imported anew (``ReloadError``
        when that cannot be done soundly)."""
        if self.holders is None:
            raise ReloadError("the server could not index its modules", "index")
        changes = {os.path.realpath(path): source for path, source in changes.items()}
        wanted = {node.nodeid for item in selected
                  if (node := item.getparent(pytest.Module)) is not None}
        fresh, redone = reload(self.holders, changes, self.test_modules, self.config, wanted,
                               self.codes)
        out = []
        for item in selected:
            node = item.getparent(pytest.Module)
            if node is None or node.nodeid not in redone:
                out.append(item)
            elif item.nodeid in fresh:  # a test the change removed is not run, as afresh
                out.append(fresh[item.nodeid])
        return out

    def _run(self, cmd, by_id):
        positions = sorted(by_id[n] for n in cmd["tests"] if n in by_id)
        selected = [self.items[i] for i in positions]
        indexed = bool(cmd.get("reload")) and self.holders_cpu < 0
        if indexed:
            self._index_modules()
        started = time.monotonic()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child never returns
            self._child(cmd, selected)
        timed_out, status, usage = wait_child(pid, float(cmd["timeout"]))
        code = os.waitstatus_to_exitcode(status)
        if timed_out or code in (-signal.SIGXCPU, -signal.SIGKILL):
            state = "timeout"  # the wall clock or the CPU rlimit stopped it
        else:
            state = {0: "ok", SWAP_FAILED: "swap_failed",
                     RELOAD_FAILED: "reload_failed"}.get(code, "crashed")
        return {"id": cmd.get("id"), "status": state, "exit": code,
                "cpu": round(usage.ru_utime + usage.ru_stime, 6),
                "wall": round(time.monotonic() - started, 6), "selected": len(selected),
                "index_cpu": self.holders_cpu if indexed else 0.0}

    def _child(self, cmd, selected):
        code = 0
        try:
            enter_child(float(cmd["timeout"]))
            reporter = _Reporter(cmd["report"])
            if cmd.get("reload"):
                try:
                    started = time.process_time()
                    selected = self._reload(cmd["reload"], selected)
                    reporter._write({"event": "reloaded",
                                     "cpu": round(time.process_time() - started, 6)})
                except ReloadError as exc:
                    reporter._write({"event": "reload_error", "message": str(exc),
                                     "kind": getattr(exc, "kind", "other")})
                    code = RELOAD_FAILED
                    return
            error = self._swap(cmd.get("swaps", []))
            if error:
                reporter._write({"event": "swap_error", "message": error})
                code = SWAP_FAILED
                return
            self.config.pluginmanager.register(reporter, "bugfoundry-child-reporter")
            if cmd.get("limits"):  # per-test hang limits: a watcher in this child's group
                start_watch(cmd["report"], cmd["limits"])
            self.config.option.tbstyle = cmd.get("tb", "no")
            for i, item in enumerate(selected):
                nxt = selected[i + 1] if i + 1 < len(selected) else None
                item.config.hook.pytest_runtest_protocol(item=item, nextitem=nxt)
            reporter._write({"event": "finished", "exitstatus": 0})
        except BaseException:  # noqa: BLE001 - the child must always reach os._exit
            code = CHILD_ERROR
            with contextlib.suppress(Exception):
                sys.__stderr__.write(traceback.format_exc())
        finally:
            os._exit(code)

    def _swap(self, swaps):
        """Install the patched functions; returns an error message or ""."""
        import linecache

        for sw in swaps:
            path = os.path.realpath(sw["path"])
            if sw.get("classes"):
                error = self._swap_classes(path, sw)
                if error:
                    return error
            try:
                module = compile(sw["source"], sw["path"], "exec", dont_inherit=True)
            except (SyntaxError, ValueError) as exc:
                return f"patched file does not compile: {exc}"
            by_qual = {}
            for c in _codes(module):
                by_qual.setdefault(getattr(c, "co_qualname", c.co_name), []).append(c)
            for qual, first, index in sw["units"]:
                news = by_qual.get(qual, [])
                if index >= len(news):
                    return f"{qual}: not found in the patched file"
                new = news[index]
                live = [f for f in self.index.get((path, qual), [])
                        if f.__code__.co_firstlineno == first]
                if not live:
                    return f"{qual}: no live function (its module was not imported)"
                old = live[0].__code__
                nested_old = {id(c) for c in _codes(old)}
                nested_new = {}
                for c in _codes(new):
                    nested_new.setdefault(getattr(c, "co_qualname", c.co_name), []).append(c)
                try:
                    for f in live:
                        f.__code__ = new
                    prefix = qual + ".<locals>."
                    for (p, q), funcs in self.index.items():
                        if p != path or not q.startswith(prefix):
                            continue
                        for f in funcs:
                            if id(f.__code__) not in nested_old:
                                continue
                            repl = nested_new.get(q, [])
                            if len(repl) != 1:
                                return f"{q}: nested function is ambiguous after the change"
                            f.__code__ = repl[0]
                except ValueError as exc:  # different free variables: not swappable
                    return f"{qual}: {exc}"
            linecache.checkcache(path)
        return ""


    def _swap_classes(self, path, sw):
        """Re-run each changed class statement in its module's namespace and move the result
        into the live class object, so existing instances, subclasses and every reference to
        the class see the new body. Returns an error message or ""."""
        import ast

        module = next((m for m in list(sys.modules.values())
                       if os.path.realpath(getattr(m, "__file__", None) or "") == path), None)
        if module is None:
            return "the module was not imported"
        tree = ast.parse(sw["source"], sw["path"])
        future = [n for n in tree.body
                  if isinstance(n, ast.ImportFrom) and n.module == "__future__"]
        namespace = module.__dict__
        for name, removed in sw["classes"]:
            node = next((n for n in tree.body
                         if isinstance(n, ast.ClassDef) and n.name == name), None)
            live = namespace.get(name)
            if node is None or not isinstance(live, type):
                return f"class {name}: not found"
            code = compile(ast.Module([*future, node], []), sw["path"], "exec",
                           dont_inherit=True)
            try:
                exec(code, namespace)  # noqa: S102 - the candidate's own class statement
                new = namespace[name]
            except Exception as exc:  # noqa: BLE001 - the class statement itself fails
                return f"class {name}: {exc!r}"
            finally:
                namespace[name] = live
            if new.__bases__ != live.__bases__:
                return f"class {name}: bases differ"
            subclasses = _subclasses(live)
            if subclasses and ("__dataclass_fields__" in live.__dict__
                               or "__init_subclass__" in new.__dict__
                               or "__init_subclass__" in live.__dict__):
                # Subclasses derived state from this body when they were created.
                return f"class {name}: subclasses derived state from the old body"
            for value in new.__dict__.values():
                for func in _functions_in(value):
                    free = func.__code__.co_freevars
                    if "__class__" in free and func.__closure__:  # zero-arg super()
                        func.__closure__[free.index("__class__")].cell_contents = live
            try:
                for key in removed:
                    if key in live.__dict__:
                        delattr(live, key)
                for key, value in new.__dict__.items():
                    if key not in ("__dict__", "__weakref__", "__module__", "__qualname__"):
                        setattr(live, key, value)
            except (AttributeError, TypeError) as exc:  # enums, read-only attributes
                return f"class {name}: {exc}"
            # Abstract methods are computed when a class is created: recompute them for the
            # class and every subclass, bases first, as a fresh import would have.
            if isinstance(live, abc.ABCMeta):
                if not hasattr(abc, "update_abstractmethods"):
                    return f"class {name}: cannot recompute abstract methods (Python < 3.10)"
                for cls in [live, *subclasses]:
                    abc.update_abstractmethods(cls)
        return ""


def _fork_cost(cmd):
    """CPU of one bare fork + exit + wait of this warm parent, both sides (the floor's fixed
    cost per candidate), averaged over ``n`` forks."""
    import resource

    def cpu():
        me, kids = (resource.getrusage(w) for w in (resource.RUSAGE_SELF,
                                                     resource.RUSAGE_CHILDREN))
        return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime

    n = max(1, int(cmd.get("n", 5)))
    start = cpu()
    for _ in range(n):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child only exits
            os._exit(0)
        os.waitpid(pid, 0)
    return {"id": cmd.get("id"), "status": "ok", "cpu": round((cpu() - start) / n, 6)}


def _subclasses(cls):
    """Every subclass, breadth first (bases before the classes derived from them)."""
    seen, order, todo = set(), [], list(type.__subclasses__(cls))
    while todo:
        sub = todo.pop(0)
        if id(sub) in seen:
            continue
        seen.add(id(sub))
        order.append(sub)
        todo.extend(type.__subclasses__(sub))
    return order


def _functions_in(value):
    if isinstance(value, (staticmethod, classmethod)):  # noqa: UP038 - any target Python
        value = value.__func__
    funcs = [value.fget, value.fset, value.fdel] if isinstance(value, property) else [value]
    for func in funcs:
        seen = 0
        while isinstance(func, types.FunctionType) and seen < 10:
            yield func
            func = getattr(func, "__wrapped__", None)
            seen += 1


def pytest_configure(config):
    install_rewrite_cache()  # before collection rewrites the test modules
    if not config.pluginmanager.has_plugin("bugfoundry-forkserver"):
        config.pluginmanager.register(_Server(config), "bugfoundry-forkserver")
