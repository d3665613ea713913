"""Refresh a conftest (or another plugin module of the tree) in place, for the reload path.

A conftest that imports project objects (``from tests.base import User``, where
``tests/base.py`` holds project classes) must see the re-imported ones, but pytest cannot drop
it: it is a registered plugin, its fixture definitions and hook implementations hold its
functions, and items collected in the server resolved their fixtures to those definitions.
So the module object stays and its namespace is rebuilt: cleared (dunders kept) and its code
run again by its own loader (pytest's assertion rewriter for a conftest), which imports the
fresh helper and project modules. Then every ``FixtureDef`` and pluggy ``HookImpl`` that held
one of its old functions gets the new function of the same name, in place, so the items
collected in the server call it too.

That is exactly a fresh import only when nothing the module did before the fork depended on
the old objects. ``check`` refuses (``ReloadError``, the caller falls back to a new pytest
session) when a hook that already ran in the server (``pytest_configure``, collection hooks,
...) reaches a dropped module's objects, and ``refresh`` refuses when a fixture's decorator
arguments (params, ids, scope) are not equal after the change (items were parametrized with
the old ones), or when pytest holds one of its functions that cannot be matched by name.
Runs inside the target's interpreter; depends on nothing but pytest and pluggy.
"""

import types

# Hooks that only run while tests run (in the forked child) or while a re-collected module is
# collected there: whatever they did before the fork is redone with the refreshed functions.
RUNTIME_HOOKS = frozenset({
    "pytest_runtest_protocol", "pytest_runtest_logstart", "pytest_runtest_logfinish",
    "pytest_runtest_setup", "pytest_runtest_call", "pytest_runtest_teardown",
    "pytest_runtest_makereport", "pytest_runtest_logreport", "pytest_fixture_setup",
    "pytest_fixture_post_finalizer", "pytest_pyfunc_call", "pytest_assertrepr_compare",
    "pytest_assertion_pass", "pytest_report_teststatus", "pytest_warning_recorded",
    "pytest_exception_interact", "pytest_markeval_namespace", "pytest_sessionfinish",
    "pytest_terminal_summary", "pytest_unconfigure",
})
UNWRAP = ("_get_wrapped_function", "__pytest_wrapped__", "__wrapped__", "__func__")


class RefreshError(Exception):
    """The module cannot be refreshed soundly (the reload path raises ``ReloadError``)."""


def _dunder(key):
    return isinstance(key, str) and key.startswith("__") and key.endswith("__")


def _step(value, how):
    """``value`` unwrapped one level ``how`` (one of ``UNWRAP``), or None."""
    try:
        if how == "_get_wrapped_function":
            getter = getattr(type(value), how, None)
            return getter(value) if callable(getter) else None
        inner = getattr(value, how, None)
        if how == "__pytest_wrapped__":  # pytest < 8.4: a _PytestWrapper(obj)
            inner = getattr(inner, "obj", None)
        return inner
    except Exception:  # noqa: BLE001 - exotic descriptors: not a wrapper
        return None


def _unwrapped(value):
    """``value`` and what it wraps, each with the steps that reach it from ``value``."""
    out = [((), value)]
    seen = {id(value)}
    todo = [((), value)]
    while todo and len(out) < 20:
        steps, obj = todo.pop()
        for how in UNWRAP:
            inner = _step(obj, how)
            if inner is not None and id(inner) not in seen and len(steps) < 5:
                seen.add(id(inner))
                out.append(((*steps, how), inner))
                todo.append(((*steps, how), inner))
    return out


def _follow(value, steps):
    for how in steps:
        value = _step(value, how) if value is not None else None
    return value


def _marker(value):
    """The ``@pytest.fixture`` marker of a namespace value (any pytest), or None."""
    for attr in ("_fixture_function_marker", "_pytestfixturefunction"):
        marker = getattr(value, attr, None)
        if marker is not None:
            return marker
    return None


def _code_names(code, out):
    out.update(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _code_names(const, out)


def _reaches(func, namespace, dropped, owner_of):
    """Whether ``func``'s code (and the module functions it calls by name) names a dropped
    module or a global bound to an object of one."""
    todo, seen = [func], set()
    while todo:
        f = todo.pop()
        code = getattr(f, "__code__", None)
        if code is None or id(code) in seen:
            continue
        seen.add(id(code))
        names = set()
        _code_names(code, names)
        for name in names:
            if name in dropped or any(d.startswith(name + ".") for d in dropped):
                return name  # ``import name`` inside the function
            value = namespace.get(name)
            if value is None:
                continue
            if owner_of(value) in dropped:
                return name
            if isinstance(value, types.FunctionType) and value.__globals__ is namespace:
                todo.append(value)
    return ""


def check(module, pluginmanager, dropped, owner_of):
    """Raise ``RefreshError`` when a hook of ``module`` that ran before the fork reached an
    object the reload replaces (its effects would keep the old objects)."""
    namespace = vars(module)
    for caller in pluginmanager.get_hookcallers(module) or ():
        if caller.name in RUNTIME_HOOKS:
            continue
        for impl in caller.get_hookimpls():
            if impl.plugin is not module:
                continue
            name = _reaches(impl.function, namespace, dropped, owner_of)
            if name:
                raise RefreshError(f"{module.__name__}'s {caller.name} ran before the fork "
                                   f"with {name} of a dropped module")


def _fixturedefs(manager):
    """Every FixtureDef the fixture manager holds (pytest 6 to 9)."""
    tables = [getattr(manager, a, None) for a in ("_arg2node2fixturedefs",
                                                  "_arg2nodeid2fixturedefs")]
    flat = getattr(manager, "_arg2fixturedefs", None)
    found = False
    for table in tables:
        if isinstance(table, dict):
            found = True
            for per_node in table.values():
                for defs in per_node.values():
                    yield from defs
    if isinstance(flat, dict):
        found = True
        for defs in flat.values():
            yield from defs
    if not found:
        raise RefreshError("this pytest keeps fixtures in an unknown layout")


def refresh(module, config, code=None):
    """Run ``module``'s code again (``code`` when the server compiled it) in its own
    namespace and point pytest's fixture definitions and hook implementations at the new
    functions."""
    spec = getattr(module, "__spec__", None)
    loader = getattr(spec, "loader", None)
    if loader is None or not hasattr(loader, "exec_module"):
        raise RefreshError(f"{module.__name__} has no loader to run it again")
    namespace = module.__dict__
    old = dict(namespace)
    where = {}  # id(old function or what it wraps) -> (attribute, unwrap steps)
    for key, value in old.items():
        if not _dunder(key):
            for steps, obj in _unwrapped(value):
                where.setdefault(id(obj), (key, steps))
    manager = config.pluginmanager.get_plugin("funcmanage")
    if manager is None:
        raise RefreshError("no fixture manager")
    ours = [d for d in _fixturedefs(manager) if id(getattr(d, "func", None)) in where
            or getattr(getattr(d, "func", None), "__globals__", None) is namespace]
    hooks = [impl for caller in config.pluginmanager.get_hookcallers(module) or ()
             for impl in caller.get_hookimpls() if impl.plugin is module]
    keep = {k: v for k, v in old.items() if _dunder(k)}
    namespace.clear()
    namespace.update(keep)
    if code is not None:
        exec(code, namespace)  # noqa: S102 - the module's own code, as its loader runs it
    else:
        loader.exec_module(module)  # raises as an import would; the caller refuses then
    for d in ours:
        key, steps = where.get(id(d.func), ("", ()))
        if not key or key not in namespace:
            raise RefreshError(f"fixture {d.argname} of {module.__name__} is not bound by name")
        try:
            same = _marker(old[key]) == _marker(namespace[key])
        except Exception:  # noqa: BLE001 - params that cannot be compared
            same = False
        if not same:
            raise RefreshError(f"fixture {d.argname} of {module.__name__} has new parameters")
        new = _follow(namespace[key], steps)
        if not callable(new):
            raise RefreshError(f"fixture {d.argname} of {module.__name__} is not found again")
        d.func = new
    for impl in hooks:
        key, steps = where.get(id(impl.function), ("", ()))
        new = _follow(namespace.get(key), steps) if key else None
        if not callable(new):
            raise RefreshError(f"hook {impl.function!r} of {module.__name__} is not found again")
        impl.function = new
