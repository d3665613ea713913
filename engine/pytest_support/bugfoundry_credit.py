"""Cache credits for the test map (``bugfoundry_map``): a memoized function runs in the first
test that needs it only, yet with a cold cache (each test runs in a fresh process on the
validator's paths) every later test that reads the cached result runs it too. Two signs are
kept while the map records: which project function first called each function in a test
(``called_from``), and which tests hit one of the project's ``functools.lru_cache`` wrappers
(``scan_wrappers``, ``test_starts``/``test_ends``); ``cold_credit`` turns them into tests at
the end. Runs inside the target's interpreter; depends on nothing.
"""

import sys

OUTSIDE = ()  # what a describe function returns for code outside the project
COMPREHENSIONS = frozenset({"<listcomp>", "<setcomp>", "<dictcomp>", "<genexpr>"})
# callee key -> keys of the project functions that called it (at its first call per test)
callers: dict[tuple[str, str], set[tuple[str, str]]] = {}


def called_from(key, frame, describe):
    """Remember which project function called ``key``: through a cache (``functools.cache``,
    a dict filled on first use) a later test runs the caller but not ``key``, and only the
    caller's tests show who would run it with a cold cache. Frames outside the tree between
    the two (a C wrapper has none; ``cached_property.__get__`` has one) are skipped."""
    for _ in range(4):
        if frame is None:
            return
        code = frame.f_code
        info = describe(code)
        if info is not OUTSIDE and code.co_name in COMPREHENSIONS:
            frame = frame.f_back  # its function is the caller (the probes record no
            continue  # comprehension; a branch in it is a branch of its function)
        if info is not OUTSIDE:
            if info[0] != key:
                found = callers.get(key)
                if found is None:
                    found = callers[key] = set()
                found.add(info[0])
            return
        frame = frame.f_back


def cold_credit(contexts, spared):
    """Credit a function to the tests that ran its caller without it when it looks cached:
    it ran in the first test (or ``<import>``) that ran that caller, as a cache's first miss
    does. Repeated until nothing changes (a cache filler's own helpers follow it); returns
    the credits added.

    A function whose result is memoized runs in the first test that needs it only; a later
    test reaches its caller and reads the cached result. The map must name every test that
    sees a change to it (each test runs in a fresh process on the validator's paths, so its
    cache starts cold there), or those tests are never run and their failures are missed.
    A caller that skips the function on a branch also passes the rule when its first test
    took that branch: a few more tests to run, never a wrong verdict. ``spared`` (the map's
    ``<import>``) is never credited (that would send a change to the cold path)."""
    tests_of = {}  # key -> contexts that ran it (credited ones added as they come)
    firsts = {}  # key -> its first line
    opened = {}  # key -> the first context (in run order) that ran it
    for ctx, (funcs, _lines) in contexts.items():  # dicts keep the order tests ran in
        for key, first in funcs.items():
            tests_of.setdefault(key, set()).add(ctx)
            firsts[key] = first
            opened.setdefault(key, ctx)
    ran = {key: frozenset(found) for key, found in tests_of.items()}  # before any credit
    added = 0
    for _round in range(6):
        changed = False
        for key, by in callers.items():
            have = tests_of.setdefault(key, set())
            for caller in by:
                if opened.get(caller) not in ran.get(key, ()):
                    continue  # the caller's first run did without it: a branch, not a cache
                more = tests_of.get(caller, set()) - have
                more.discard(spared)
                if more:
                    for ctx in more:
                        contexts[ctx][0][key] = firsts[key]
                    have |= more
                    added += len(more)
                    changed = True
        if not changed:
            break
    return added


# functools.lru_cache/cache wrappers of the project's functions (a C wrapper: a hit runs no
# Python frame, so no tracer sees the test that used the cached result): (wrapper, key, first)
_wrappers: list[tuple[object, tuple[str, str], int]] = []
_scanned = [0, set()]  # len(sys.modules) at the last scan, ids of the wrappers found
_hits: list[int] = []  # each wrapper's hits when the current test started


def _lru_type():
    import functools

    return getattr(functools, "_lru_cache_wrapper", None)


_LRU = _lru_type()


def scan_wrappers(rel_of, describe):
    """Find the project's lru_cache wrappers in module globals and class bodies (again only
    when a module was imported since the last look)."""
    if _LRU is None or len(sys.modules) == _scanned[0]:
        return
    _scanned[0] = len(sys.modules)
    for mod in list(sys.modules.values()):
        file = getattr(mod, "__dict__", {}).get("__file__")
        if not isinstance(file, str) or rel_of(file) is None:
            continue
        for obj in list(vars(mod).values()):
            inner = list(vars(obj).values()) if isinstance(obj, type) else ()
            for found in (obj, *inner):
                found = getattr(found, "__func__", found) if type(found) in (
                    staticmethod, classmethod) else found
                if type(found) is not _LRU or id(found) in _scanned[1]:
                    continue
                code = getattr(found.__dict__.get("__wrapped__"), "__code__", None)
                info = describe(code) if code is not None else OUTSIDE
                if info is not OUTSIDE:
                    _scanned[1].add(id(found))
                    _wrappers.append((found, info[0], info[1]))


def _hits_now():
    return [w.cache_info().hits for w, _key, _first in _wrappers]


def test_starts():
    """Note each wrapper's hits so far."""
    _hits[:] = _hits_now()


def test_ends(funcs):
    """The test that ends read a cached result of these wrappers: it runs them with a cold
    cache."""
    for (_w, key, first), before, after in zip(_wrappers, _hits, _hits_now(), strict=False):
        if after > before and key not in funcs:
            funcs[key] = first
