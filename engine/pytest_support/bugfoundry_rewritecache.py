"""A content-addressed cache of the test modules pytest's assertion rewriter makes.

The servers run with ``PYTHONDONTWRITEBYTECODE``: the worker trees stay clean, and a pyc
checked by timestamp and size could serve stale code for a file rewritten within the same
second at the same size (a flipped operator). So every warm or confirming child parsed and
assertion-rewrote each test module it collected, again: on marshmallow two large test modules
took 0.44 CPU-s of a 0.74 CPU-s confirming run, and that for every candidate.

Here the rewritten code is kept in a directory the environment owns, keyed by the file's path
and exact bytes, pytest's version, the interpreter's bytecode magic number and the one setting
the rewrite reads (``enable_assertion_pass_hook``): a hit is the code pytest would have made
of those bytes, and a file that changed is a miss. Entries are written atomically (a temporary
file renamed), so children and servers share them safely. Runs inside the target's
interpreter; depends on nothing but pytest.
"""

import hashlib
import importlib.util
import marshal
import os
import sys
import tempfile

ENV = "BUGFOUNDRY_REWRITE_CACHE"


def install(directory=None):
    """Serve pytest's ``_rewrite_test`` from ``directory`` (default: ``$BUGFOUNDRY_REWRITE_
    CACHE``). Only while bytecode is not written: what the wrapper returns first (the source
    hash) is used by pytest only to write a pyc. Returns whether it is installed."""
    directory = directory or os.environ.get(ENV)
    if not directory or not sys.dont_write_bytecode:
        return False
    try:
        import pytest
        from _pytest.assertion import rewrite
    except ImportError:
        return False
    original = getattr(rewrite, "_rewrite_test", None)
    if original is None or getattr(original, "bugfoundry_cache", None):
        return bool(original)
    salt = b"\0".join([importlib.util.MAGIC_NUMBER, pytest.__version__.encode()])

    def cached(fn, config):
        with open(fn, "rb") as fh:
            source = fh.read()
        try:
            hook = str(bool(config.getini("enable_assertion_pass_hook"))).encode()
        except Exception:  # noqa: BLE001 - an older pytest without the option
            hook = b"-"
        key = hashlib.sha256(b"\0".join([salt, hook, os.fsencode(str(fn)), source])).hexdigest()
        path = os.path.join(directory, key[:2], key)
        try:
            with open(path, "rb") as fh:
                return importlib.util.source_hash(source), marshal.loads(fh.read())
        except (OSError, EOFError, ValueError, TypeError):
            pass
        result = original(fn, config)
        with open(fn, "rb") as fh:
            if fh.read() != source:  # changed while being rewritten: not worth keeping
                return result
        store(path, marshal.dumps(result[1]))
        return result

    cached.bugfoundry_cache = directory
    rewrite._rewrite_test = cached
    return True


def store(path, data):
    """Write ``data`` to ``path`` atomically (a temporary file renamed): readers in other
    processes see the whole entry or none."""
    folder = os.path.dirname(path)
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except OSError:  # a full disk or a read-only place: the cache is an optimisation only
        pass
