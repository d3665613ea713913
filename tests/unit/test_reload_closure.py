"""Which modules the reload path drops for an import-time change (``bugfoundry_reload``).

A small package is imported for real in this interpreter; the index must reach every module
holding the changed module's objects (imported names, plain constants, registries filled at
import, subclasses), transitively, and nothing else; and refuse what a reload cannot redo.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from engine.environments.base import PLUGIN_DIR

FILES = {
    "__init__.py": "from .base import Base\n",
    "base.py": "LIMIT = 123457\nclass Base:\n    pass\n",
    "models.py": "from .base import Base\n\n\nclass Model(Base):\n    pass\n",
    "consts.py": "from .base import LIMIT\n",  # a plain value, bound by identity
    "deep.py": "from . import models\n\nUSES = {'m': [models.Model]}\n",
    "hooks.py": "HANDLERS = []\n",
    "plugin.py": "from . import hooks\n\n\ndef handler():\n    return 1\n\n\n"
                 "hooks.HANDLERS.append(handler)\n",  # registers itself in another module
    "alone.py": "import json\n\nVALUE = json.dumps(7)\n",
}
PKG = "bfr_pkg"


@pytest.fixture()
def reload_mod() -> ModuleType:
    sys.path.insert(0, str(PLUGIN_DIR))
    try:
        return importlib.import_module("bugfoundry_reload")
    finally:
        sys.path.remove(str(PLUGIN_DIR))


@pytest.fixture()
def package(tmp_path: Path) -> Iterator[tuple[str, dict[str, ModuleType]]]:
    root = tmp_path / "tree"
    (root / PKG).mkdir(parents=True)
    for name, text in FILES.items():
        (root / PKG / name).write_text(text)
    sys.path.insert(0, str(root))
    try:
        for name in FILES:
            if name != "__init__.py":
                importlib.import_module(f"{PKG}.{name[:-3]}")
        mods = {n: m for n, m in sys.modules.items() if n == PKG or n.startswith(PKG + ".")}
        # What the index sees beyond the tree: a few modules that are not the project's.
        mods.update({n: sys.modules[n] for n in ("json", "os", "pytest")})
        yield os.path.realpath(root) + os.sep, mods
    finally:
        sys.path.remove(str(root))
        for n in [n for n in sys.modules if n == PKG or n.startswith(PKG + ".")]:
            del sys.modules[n]


def _names(closure: dict[str, str | None]) -> set[str]:
    return {n.removeprefix(PKG + ".") if n != PKG else "<pkg>" for n in closure}


def test_importers_of_classes_constants_and_their_holders_are_dropped(reload_mod, package):
    root, mods = package
    holders = reload_mod.Holders(root, mods)
    drop = holders.closure([f"{PKG}.base"])
    # models subclasses Base, consts holds LIMIT, deep holds Model (a container two levels
    # down), the package holds Base; alone and the registry pair share nothing with it.
    assert _names(drop) == {"base", "models", "consts", "deep", "<pkg>"}, drop
    assert drop[f"{PKG}.deep"] == f"{PKG}.models"  # reached through models
    assert holders.refuse(drop) is None


def test_a_module_a_change_registers_into_is_dropped_with_it(reload_mod, package):
    root, mods = package
    holders = reload_mod.Holders(root, mods)
    # plugin.py appended its handler to hooks.HANDLERS at import: re-running it alone would
    # register a second handler, so hooks (and whoever holds hooks' objects) goes too.
    assert _names(holders.closure([f"{PKG}.plugin"])) == {"plugin", "hooks"}


def test_a_package_attribute_for_its_submodule_is_no_dependency(reload_mod, package):
    root, mods = package
    holders = reload_mod.Holders(root, mods)
    assert getattr(mods[PKG], "alone", None) is mods[f"{PKG}.alone"]
    assert _names(holders.closure([f"{PKG}.alone"])) == {"alone"}


def test_what_a_reload_cannot_redo_is_refused(reload_mod, package):
    root, mods = package
    holders = reload_mod.Holders(root, mods)
    drop = holders.closure([f"{PKG}.base"])
    # A changed module that is a registered plugin cannot be reloaded; a plugin that only
    # holds the changed module's objects (a conftest) is refreshed in place instead.
    assert holders.refuse(drop, plugins={f"{PKG}.base"}) == (
        "changed_plugin", f"{PKG}.base is a registered pytest plugin")
    assert holders.refuse(drop, plugins={f"{PKG}.models"}) is None
    outside = reload_mod.Holders(root, {**mods, "elsewhere": _holding(mods[f"{PKG}.base"])})
    why = outside.refuse(outside.closure([f"{PKG}.base"]))
    assert why == ("outside",
                   f"elsewhere holds objects of {PKG}.base but is not a module of the tree")


def _holding(base: ModuleType) -> ModuleType:
    """A module outside the tree that keeps the project's class in a registry."""
    mod = ModuleType("elsewhere")
    mod.REGISTRY = {"base": base.Base}  # type: ignore[attr-defined]
    return mod


def _conftest(source: str) -> ModuleType:
    mod = ModuleType("conftest_like")
    exec(compile(source, "conftest_like.py", "exec"), mod.__dict__)  # noqa: S102
    return mod


def test_a_plugin_hook_that_ran_with_dropped_objects_refuses_the_refresh(reload_mod, package):
    """A conftest is refreshed in place only when none of its hooks that ran before the fork
    (configure, collection) reached a dropped module's objects; run-time hooks are redone."""
    import pluggy

    root, mods = package
    refresh_mod = sys.modules["bugfoundry_refresh"]
    class Manager(pluggy.PluginManager):  # like pytest's: any pytest_* function is a hook
        def parse_hookimpl_opts(self, plugin, name):  # type: ignore[no-untyped-def]
            if name.startswith("pytest_"):
                return {}  # type: ignore[return-value]
            return super().parse_hookimpl_opts(plugin, name)

    pm = Manager("pytest")

    class Spec:
        @pluggy.HookspecMarker("pytest")
        def pytest_configure(self, config): ...

        @pluggy.HookspecMarker("pytest")
        def pytest_runtest_setup(self, item): ...

    pm.add_hookspecs(Spec)
    prelude = f"from {PKG}.base import Base\nfrom {PKG} import hooks\n"
    cases = {  # hook source -> refused
        "def pytest_configure(config):\n    config.marker = 'slow'\n": False,
        "def pytest_configure(config):\n    config.base = Base\n": True,
        "def helper():\n    return Base\n\n"
        "def pytest_configure(config):\n    config.base = helper()\n": True,  # via a helper
        f"def pytest_configure(config):\n    import {PKG}.base\n": True,
        "def pytest_runtest_setup(item):\n    item.base = Base\n": False,  # runs in the child
    }
    dropped = {f"{PKG}.base", f"{PKG}.models"}
    for source, refused in cases.items():
        mod = _conftest(prelude + source)
        pm.register(mod)
        try:
            refresh_mod.check(mod, pm, dropped, reload_mod._owner)
            assert not refused, source
        except refresh_mod.RefreshError as exc:
            assert refused, (source, exc)
        finally:
            pm.unregister(mod)
