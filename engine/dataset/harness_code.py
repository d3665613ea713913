"""The registration code an export writes for the harnesses that need per-repo code.

swebench 4.x looks a repo up in its own tables (``MAP_REPO_VERSION_TO_SPECS``,
``MAP_REPO_TO_EXT``, ``MAP_REPO_TO_PARSER``) and SWE-smith in a registry of repo profiles; both
stop on a repo they do not know. The export therefore writes, into its ``harness/`` folder,
one module per harness that fills those tables for the export's repos and then runs the
harness's own command line, unchanged (``runpy``): using it is one command. swebench 5 and
mini-swe-agent read everything from the rows and need nothing here. The modules are written
from data (``json`` literals), never from text a user typed, so nothing can be injected.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SWEBENCH4 = "bf_swebench4.py"
SWESMITH = "bf_swesmith.py"
README = "README.md"

_SWEBENCH4 = '''"""Register this export's repos with swebench 4.x, then run its evaluation.

    python {name} -d {data} -p gold --run_id gold --namespace bugfoundry --cache_level instance

Every argument goes to ``python -m swebench.harness.run_evaluation``. The instances' images
(``bugfoundry/sweb.eval.x86_64.<id>``) are local: ``--namespace bugfoundry`` makes the harness
use them, and ``--cache_level instance`` keeps it from removing them.
"""

import runpy
import sys

from swebench.harness.constants import MAP_REPO_TO_EXT, MAP_REPO_VERSION_TO_SPECS
from swebench.harness.log_parsers import MAP_REPO_TO_PARSER
from swebench.harness.log_parsers.python import parse_log_pytest

# repo -> version -> the test command (run in /testbed of the instance's image)
REPOS = {repos}


def register():
    for repo, versions in REPOS.items():
        specs = MAP_REPO_VERSION_TO_SPECS.setdefault(repo, {{}})
        for version, command in versions.items():
            # "python" is read when the harness builds its test spec; no image is built here.
            specs[version] = {{"python": "3", "test_cmd": command}}
        MAP_REPO_TO_EXT[repo] = "py"
        MAP_REPO_TO_PARSER[repo] = parse_log_pytest


if __name__ == "__main__":
    register()
    sys.argv[0] = "swebench.harness.run_evaluation"
    runpy.run_module("swebench.harness.run_evaluation", run_name="__main__", alter_sys=True)
'''

_SWESMITH = '''"""SWE-smith profiles for this export's repos; run SWE-smith's own tools with them.

    python {name} eval -d {data} -p gold --run_id gold
    python {name} valid PATCHES.json

``eval`` and ``valid`` run ``python -m swesmith.harness.eval`` / ``.valid`` with every other
argument, after registering one profile per repo and clean commit: its image is the export's
per-repo image (every instance a branch: the bug, then its FAIL_TO_PASS test files removed),
its test command the one bugfoundry validated with, and it never asks GitHub anything.
"""

import runpy
import sys
from dataclasses import dataclass

from swesmith.profiles import registry
from swesmith.profiles.python import PythonProfile

PROFILES = {profiles}


def _profile(spec):
    @dataclass
    class Profile(PythonProfile):
        owner: str = spec["owner"]
        repo: str = spec["name"]
        commit: str = spec["commit"]
        org_gh: str = spec["owner"]
        test_cmd: str = spec["command"]
        timeout: int = 900
        timeout_ref: int = 1800

        @property
        def image_name(self):
            return spec["repo_image"]

        def _is_repo_private(self):
            return False

    Profile.__name__ = Profile.__qualname__ = spec["class_name"]
    return Profile


def register():
    for spec in PROFILES:
        registry.register_profile(_profile(spec))


if __name__ == "__main__":
    register()
    tool = sys.argv[1] if len(sys.argv) > 1 else ""
    if tool not in ("eval", "valid"):
        sys.exit(f"usage: python {{sys.argv[0]}} eval|valid ARGS (swesmith.harness.eval/valid)")
    module = "swesmith.harness." + tool
    sys.argv = [module, *sys.argv[2:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
'''


def _class_name(spec: dict[str, Any]) -> str:
    raw = f"Bugfoundry_{spec['owner']}_{spec['name']}_{spec['commit'][:8]}"
    return "".join(c if c.isalnum() else "_" for c in raw)


def write(folder: Path, registrations: Sequence[dict[str, Any]], data: Path) -> list[str]:
    """Write the harness modules for ``registrations`` (one per repo and clean commit, see
    ``engine.dataset.export._registrations``); returns the file names written."""
    folder.mkdir(parents=True, exist_ok=True)
    rel = _relative(data, folder)
    repos: dict[str, dict[str, str]] = {}
    for spec in registrations:
        repos.setdefault(spec["slug"], {})[spec["version"]] = spec["command"]
    profiles = [{**{k: spec[k] for k in ("owner", "name", "commit", "command", "repo_image")},
                 "class_name": _class_name(spec)} for spec in registrations]
    files = {
        SWEBENCH4: _SWEBENCH4.format(name=SWEBENCH4, data=rel,
                                     repos=json.dumps(repos, indent=4, sort_keys=True)),
        SWESMITH: _SWESMITH.format(name=SWESMITH, data=rel,
                                   profiles=json.dumps(profiles, indent=4)),
        README: usage(rel),
    }
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return sorted(files)


def _relative(data: Path, folder: Path) -> str:
    return Path(os.path.relpath(data, folder)).as_posix()


def usage(data: str) -> str:
    """How to run this export in each harness (the folder's README)."""
    return f"""# Running this export in the harnesses

Run from this folder; images are local (`bugfoundry/...`), built by `bugfoundry export`.

- swebench 5.x: `python -m swebench.harness.run_evaluation -d {data} -p gold --run_id gold`
- swebench 4.x: `python {SWEBENCH4} -d {data} -p gold --run_id gold --namespace bugfoundry
  --cache_level instance`
- SWE-smith 0.0.9: `python {SWESMITH} eval -d {data} -p gold --run_id gold`
- mini-swe-agent 2.x: `mini-extra swebench --subset DATASET_DIR --split test
  -c swebench.yaml ...`
- Hugging Face datasets: `load_dataset(DATASET_DIR, split="test")`

SWE-bench rows name each instance's image (`image`, `image_name`): it starts with the bug in
`/testbed`, a git work tree at `base_commit`. SWE-smith rows' `repo` is the profile that
`{SWESMITH}` registers; its image holds every instance as a branch.
"""
