"""Small purpose-built repositories, each with one shape that real projects have and that once
broke bugfoundry (coverage in addopts, unstable test ids, collection errors, chance)."""

from __future__ import annotations

from pathlib import Path

from tests.gitrepo import GitRepo

CORE = '''\
DEFAULT_HIGH = int("10")


def clamp(value, low=0, high=DEFAULT_HIGH):
    if value < low:
        return low
    if value > high:
        return high
    return value


def total(items):
    result = 0
    for item in items:
        result = result + item
    return result


def mean(items):
    if not items:
        raise ValueError("mean of nothing")
    return total(items) / len(items)


class Counter:
    def __init__(self):
        self.counts = {}

    def add(self, key, n=1):
        self.counts[key] = self.counts.get(key, 0) + n
        return self.counts[key]

    def most(self):
        best = None
        for key, n in self.counts.items():
            if best is None or n > self.counts[best]:
                best = key
        return best
'''

CORE_TESTS = '''\
import pytest

from {pkg}.core import Counter, clamp, mean, total


@pytest.mark.parametrize("value,expected", [(-5, 0), (5, 5), (50, 10)])
def test_clamp(value, expected):
    assert clamp(value, 0, 10) == expected


def test_clamp_default():
    assert clamp(50) == 10


def test_total():
    assert total([1, 2, 3]) == 6
    assert total([]) == 0


def test_mean():
    assert mean([2, 4]) == 3
    with pytest.raises(ValueError):
        mean([])


def test_counter():
    c = Counter()
    assert c.add("a") == 1
    assert c.add("a", 2) == 3
    c.add("b")
    assert c.most() == "a"
'''


def plugins_repo(path: Path) -> GitRepo:
    """src layout; its pytest config turns on coverage and xdist, and pytest-randomly is
    installed (shuffles by default): the three plugins a run must neutralise."""
    repo = GitRepo(path)
    repo.commit("plugin-heavy project", {
        "pyproject.toml": (
            '[build-system]\nrequires = ["setuptools>=61"]\n'
            'build-backend = "setuptools.build_meta"\n\n'
            '[project]\nname = "plugpkg"\nversion = "0.1"\n\n'
            '[project.optional-dependencies]\n'
            'test = ["pytest", "pytest-cov", "pytest-xdist", "pytest-randomly"]\n\n'
            '[tool.pytest.ini_options]\n'
            'addopts = "--cov=plugpkg --cov-report=term-missing -n 2"\n'
            'testpaths = ["tests"]\n'
            'filterwarnings = ["error"]\n'),
        "src/plugpkg/__init__.py": "",
        "src/plugpkg/core.py": CORE,
        "tests/test_core.py": CORE_TESTS.format(pkg="plugpkg"),
    })
    return repo


IDS_CODE = '''\
class Money:
    def __init__(self, cents):
        self.cents = cents


def double(money):
    return Money(money.cents * 2)


def label(pair):
    name, number = pair
    return name + ":" + str(number)


def shout(word):
    if not word:
        return ""
    return word.upper() + "!"
'''

IDS_TESTS = '''\
import pytest

from idspkg.things import Money, double, label, shout

# ids from the default repr: they hold a memory address, different in every process
@pytest.mark.parametrize("money", [Money(1), Money(5)], ids=repr)
def test_double(money):
    assert double(money).cents == 2 * money.cents


# ids by position over a set: which pair is pair0 follows the hash seed
PAIRS = {("apple", 1), ("banana", 2), ("cherry", 3), ("damson", 4), ("elder", 5)}


@pytest.mark.parametrize("pair", PAIRS)
def test_label(pair):
    assert label(pair) == pair[0] + ":" + str(pair[1])


@pytest.mark.parametrize("word,expected", [("hi", "HI!"), ("", "")])
def test_shout(word, expected):
    assert shout(word) == expected
'''


def ids_repo(path: Path) -> GitRepo:
    """Test ids that change from run to run (object reprs, set order)."""
    repo = GitRepo(path)
    repo.commit("unstable ids", {
        "setup.py": "from setuptools import setup\nsetup(name='idspkg', version='0.1', "
                    "packages=['idspkg'])\n",
        "idspkg/__init__.py": "",
        "idspkg/things.py": IDS_CODE,
        "tests/test_things.py": IDS_TESTS,
    })
    return repo


def collection_repo(path: Path) -> GitRepo:
    """Two test modules; one imports a module that runs code at import time, so a bug there
    breaks the collection of that module only."""
    repo = GitRepo(path)
    repo.commit("collection", {
        "pyproject.toml": (
            '[build-system]\nrequires = ["setuptools>=61"]\n'
            'build-backend = "setuptools.build_meta"\n\n'
            '[project]\nname = "colpkg"\nversion = "0.1"\n'),
        "colpkg/__init__.py": "",
        "colpkg/core.py": CORE,
        "colpkg/table.py": 'WIDTH = int("8")\n\n\ndef pad(text):\n'
                           '    return text.ljust(WIDTH)\n',
        "tests/test_core.py": CORE_TESTS.format(pkg="colpkg"),
        "tests/test_table.py": "from colpkg.table import pad\n\n\ndef test_pad():\n"
                               "    assert pad('ab') == 'ab      '\n\n\ndef test_pad_long():\n"
                               "    assert pad('abcdefghij') == 'abcdefghij'\n",
        "colpkg/cache.py": (
            "import random\n\n\ndef evict(cache):\n    key = random.choice(sorted(cache))\n"
            "    del cache[key]\n    return key\n"),
        "tests/test_cache.py": (
            "from colpkg.cache import evict\n\n\ndef test_evict():\n"
            "    cache = {'a': 1, 'b': 2, 'c': 3}\n    key = evict(cache)\n"
            "    assert key not in cache and len(cache) == 2\n"),
    })
    return repo


def plugin_repo(path: Path) -> GitRepo:
    """A project that is itself a pytest plugin (an entry point in ``pytest11``): pytest, and
    any process that pre-imports pytest's plugins, loads its modules before a test runs."""
    repo = GitRepo(path)
    repo.commit("a pytest plugin", {
        "pyproject.toml": (
            '[build-system]\nrequires = ["setuptools>=61"]\n'
            'build-backend = "setuptools.build_meta"\n\n'
            '[project]\nname = "plugkit"\nversion = "0.1"\n\n'
            '[project.entry-points.pytest11]\nplugkit = "plugkit.plugin"\n'),
        "plugkit/__init__.py": "",
        "plugkit/core.py": 'ANSWER = int("42")\n\n\ndef double(x):\n    return 2 * x\n',
        "plugkit/plugin.py": ("import pytest\n\nfrom plugkit.core import ANSWER\n\n\n"
                              "@pytest.fixture\ndef answer():\n    return ANSWER\n"),
        "tests/test_plugin.py": ("from plugkit.core import double\n\n\n"
                                 "def test_answer(answer):\n    assert answer == 42\n\n\n"
                                 "def test_double():\n    assert double(21) == 42\n"),
    })
    return repo


REGISTRY = '''\
HANDLERS = []


def register(handler):
    HANDLERS.append(handler)
    return handler


def unregister(handler):
    if handler in HANDLERS:
        HANDLERS.remove(handler)


def handle(value):
    for handler in HANDLERS:
        out = handler(value)
        if out is not None:
            return out
    return None
'''

REGISTRY_TESTS = '''\
from regpkg.registry import handle, register, unregister


def _handler(tag):
    return lambda value: tag if isinstance(value, int) else None


def test_p():
    h = register(_handler("p"))
    assert handle(1) == "p"
    unregister(h)


def test_x():
    h = register(_handler("x"))
    assert handle(1) == "x"
    unregister(h)


def test_k():
    h = register(_handler("k"))
    assert handle(1) == "k"
    unregister(h)
'''


def registry_repo(path: Path) -> GitRepo:
    """Tests that share a global registry: a bug that leaves a handler registered makes each
    test fail only when another test ran before it in the same process."""
    repo = GitRepo(path)
    repo.commit("registry", {
        "setup.py": "from setuptools import setup\nsetup(name='regpkg', version='0.1', "
                    "packages=['regpkg'])\n",
        "regpkg/__init__.py": "",
        "regpkg/registry.py": REGISTRY,
        "tests/test_registry.py": REGISTRY_TESTS,
    })
    return repo


def order_repo(path: Path) -> GitRepo:
    """A test that passes only after an earlier one stored what it reads: alone, on the
    clean tree, it fails."""
    repo = GitRepo(path)
    repo.commit("order", {
        "setup.py": "from setuptools import setup\nsetup(name='ordpkg', version='0.1', "
                    "packages=['ordpkg'])\n",
        "ordpkg/__init__.py": "",
        "ordpkg/store.py": ("DATA = {}\n\n\ndef put(key, value):\n    DATA[key] = value\n\n\n"
                            "def size():\n    return len(DATA)\n\n\n"
                            "def get(key):\n    return DATA.get(key)\n"),
        "tests/test_store.py": ("from ordpkg.store import get, put, size\n\n\n"
                                "def test_put():\n    put('a', 1)\n    assert size() == 1\n\n\n"
                                "def test_get_after_put():\n    assert get('a') == 1\n"),
    })
    return repo


HANG_CODE = '''\
import time


def settle(ticks):
    """Wait until the ticks run out, a short sleep each."""
    while ticks > 0:
        ticks = ticks - 1
        time.sleep(0.05)
    return "settled"


def scale(values, factor):
    return [v * factor for v in values]
'''

HANG_TESTS = '''\
import subprocess

from hangkit.core import scale, settle


def test_settle_with_a_helper():
    helper = subprocess.Popen(["sleep", "1000"])  # a grandchild of the test run
    try:
        assert settle(3) == "settled"
    finally:
        helper.kill()
        helper.wait()


def test_settle():
    assert settle(2) == "settled"


def test_scale():
    assert scale([1, 2], 3) == [3, 6]
'''


def hang_repo(path: Path) -> GitRepo:
    """Bugs that hang in a sleep loop (``settle`` never counting down) while a test's helper
    process (``sleep 1000``) is alive: what a kill -9 must not leave behind."""
    repo = GitRepo(path)
    repo.commit("hang", {
        "pyproject.toml": (
            '[build-system]\nrequires = ["setuptools>=61"]\n'
            'build-backend = "setuptools.build_meta"\n\n'
            '[project]\nname = "hangkit"\nversion = "0.1"\n'),
        "hangkit/__init__.py": "",
        "hangkit/core.py": HANG_CODE,
        "tests/test_core.py": HANG_TESTS,
    })
    return repo


LAZY_CODE = '''\
def to_hsv(red, green, blue):
    """Hue, saturation and value, rounded; colorsys is imported only when needed."""
    import colorsys

    hue, sat, value = colorsys.rgb_to_hsv(red / 255, green / 255, blue / 255)
    return round(hue * 360), round(sat * 100), round(value * 100)


def is_grey(red, green, blue):
    hue, sat, value = to_hsv(red, green, blue)
    return sat == 0


def brighten(channels, amount):
    result = []
    for channel in channels:
        result.append(min(255, channel + amount))
    return tuple(result)
'''

LAZY_TESTS = '''\
import sys

import pytest

from lazykit.colors import brighten, is_grey, to_hsv

# A parametrized id of 160,000 characters (semver has one of 200,069): as one argument to
# exec it would fail with E2BIG.
LONG = "z" * 160_000


def test_colorsys_is_imported_lazily():
    assert "colorsys" not in sys.modules


def test_brighten():
    assert brighten((10, 250, 0), 10) == (20, 255, 10)


@pytest.mark.parametrize("word", [LONG], ids=[LONG])
def test_brighten_by_length(word):
    assert brighten((0, 0, 0), len(word) // 32_000) == (5, 5, 5)


def test_to_hsv():
    assert to_hsv(255, 0, 0) == (0, 100, 100)
    assert to_hsv(0, 0, 255) == (240, 100, 100)


def test_is_grey():
    assert is_grey(40, 40, 40)
    assert not is_grey(40, 50, 40)
'''


def lazy_repo(path: Path) -> GitRepo:
    """A test that checks a module is not imported yet (six's ``test_lazy``): it passes only
    when the tests that import it run after it, in the suite's own order. One test id is
    160,000 characters long."""
    repo = GitRepo(path)
    repo.commit("lazy", {
        "setup.py": "from setuptools import setup\nsetup(name='lazykit', version='0.1', "
                    "packages=['lazykit'])\n",
        "lazykit/__init__.py": "",
        "lazykit/colors.py": LAZY_CODE,
        "tests/test_colors.py": LAZY_TESTS,
    })
    return repo


def core_repo(path: Path) -> GitRepo:
    """The plainest project: a flat package of pure functions and their deterministic tests
    (a second repo beside the sample one, for runs over several repos)."""
    repo = GitRepo(path)
    repo.commit("core", {
        "pyproject.toml": (
            '[build-system]\nrequires = ["setuptools>=61"]\n'
            'build-backend = "setuptools.build_meta"\n\n'
            '[project]\nname = "corekit"\nversion = "0.1"\n'),
        "corekit/__init__.py": "",
        "corekit/core.py": CORE,
        "tests/test_core.py": CORE_TESTS.format(pkg="corekit"),
    })
    return repo
