"""detect_recipe on small fake projects written into tmp_path (no installs, no network)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engine.environments.detect import detect_recipe
from engine.environments.reqs import poetry_constraint, poetry_requirement, satisfies
from engine.models import Recipe

CURRENT = f"python{sys.version_info[0]}.{sys.version_info[1]}"


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return root


def pyproject(backend: str, requires: str, extra: str = "") -> str:
    return (
        f'[build-system]\nrequires = ["{requires}"]\nbuild-backend = "{backend}"\n\n'
        f'[project]\nname = "demo-pkg"\nversion = "1.0"\n' + textwrap.dedent(extra)
    )


def pytest_step(recipe: Recipe) -> list[str]:
    return recipe.steps[-1]


# ---------------------------------------------------------------- build backends


@pytest.mark.parametrize(
    ("module", "requires", "expected"),
    [
        ("setuptools.build_meta", "setuptools>=61", "setuptools"),
        ("hatchling.build", "hatchling", "hatch"),
        ("poetry.core.masonry.api", "poetry-core", "poetry"),
        ("flit_core.buildapi", "flit_core>=3.2", "flit"),
        ("pdm.backend", "pdm-backend", "pdm"),
        ("flit_scm:buildapi", "flit_scm", "flit"),
    ],
)
def test_backend_from_build_system(tmp_path: Path, module: str, requires: str, expected: str):
    write(tmp_path, {"pyproject.toml": pyproject(module, requires)})
    recipe = detect_recipe(tmp_path)
    assert recipe.backend == expected
    assert recipe.steps[0] == ["-e", "."]
    assert any(n.startswith(f"build backend: {expected}") for n in recipe.notes)


def test_plain_setup_py_is_legacy_setuptools(tmp_path: Path):
    write(tmp_path, {"setup.py": "from setuptools import setup\nsetup(name='x')\n"})
    recipe = detect_recipe(tmp_path)
    assert recipe.backend == "setup.py"
    assert recipe.steps[0] == ["-e", "."]


def test_no_packaging_installs_requirements_and_pytest(tmp_path: Path):
    write(tmp_path, {"requirements.txt": "six\n", "test_x.py": "def test_x(): pass\n"})
    recipe = detect_recipe(tmp_path)
    assert recipe.backend == "none"
    assert recipe.steps == [["-r", "requirements.txt"], ["pytest"]]
    assert recipe.source_roots == ["."]


def test_always_ensures_pytest(tmp_path: Path):
    write(tmp_path, {"pyproject.toml": pyproject("hatchling.build", "hatchling")})
    assert pytest_step(detect_recipe(tmp_path)) == ["pytest"]


# ---------------------------------------------------------------- extras and groups


def test_test_extra_from_optional_dependencies(tmp_path: Path):
    extra = """
        [project.optional-dependencies]
        tests = ["pytest", "freezegun"]
        docs = ["sphinx"]
        dev = ["pre-commit"]
    """
    write(tmp_path, {"pyproject.toml": pyproject("hatchling.build", "hatchling", extra)})
    recipe = detect_recipe(tmp_path)
    assert recipe.steps[0] == ["-e", ".[tests]"]
    assert "test extra: [tests] (pyproject [project.optional-dependencies])" in recipe.notes
    assert any("dev extras/groups/requirements skipped" in n for n in recipe.notes)


def test_dev_extra_used_when_no_test_extra(tmp_path: Path):
    extra = '[project.optional-dependencies]\ndev = ["pytest"]\n'
    write(tmp_path, {"pyproject.toml": pyproject("hatchling.build", "hatchling", extra)})
    assert detect_recipe(tmp_path).steps[0] == ["-e", ".[dev]"]


def test_setup_cfg_extras_require(tmp_path: Path):
    write(
        tmp_path,
        {
            "setup.py": "from setuptools import setup\nsetup()\n",
            "setup.cfg": """
                [metadata]
                name = demo
                [options.extras_require]
                testing = pytest
                    mock
            """,
        },
    )
    assert detect_recipe(tmp_path).steps[0] == ["-e", ".[testing]"]


def test_dependency_groups_with_include_group_and_self_reference(tmp_path: Path):
    extra = """
        [project.optional-dependencies]
        speedups = ["ujson"]

        [dependency-groups]
        base = ["hypothesis>=6"]
        test = [{include-group = "base"}, "pytest>=8", "demo_pkg[speedups]"]
        lint = ["ruff"]
    """
    write(tmp_path, {"pyproject.toml": pyproject("hatchling.build", "hatchling", extra)})
    recipe = detect_recipe(tmp_path)
    assert recipe.steps[0] == ["-e", ".[speedups]"]
    assert recipe.steps[1] == ["hypothesis>=6", "pytest>=8"]
    assert "ruff" not in sum(recipe.steps, [])


def test_poetry_groups_converted_to_pep508(tmp_path: Path):
    write(
        tmp_path,
        {
            "pyproject.toml": """
                [build-system]
                requires = ["poetry-core>=1.0"]
                build-backend = "poetry.core.masonry.api"

                [tool.poetry]
                name = "demo"
                version = "0.1.0"

                [tool.poetry.dependencies]
                python = "^3.8"

                [tool.poetry.group.test.dependencies]
                pytest = "^7.2"
                pytest-mock = {version = "~3.10", extras = ["x"]}
                anything = "*"

                [tool.poetry.dev-dependencies]
                black = "22.3.0"
            """,
        },
    )
    recipe = detect_recipe(tmp_path)
    assert recipe.backend == "poetry"
    assert recipe.steps[1] == ["pytest>=7.2,<8", "pytest-mock[x]>=3.10,<3.11", "anything"]
    assert "black==22.3.0" not in recipe.steps[1]  # dev tier skipped: a test group exists


def test_poetry_dev_dependencies_alone(tmp_path: Path):
    write(
        tmp_path,
        {
            "pyproject.toml": """
                [build-system]
                requires = ["poetry-core"]
                build-backend = "poetry.core.masonry.api"
                [tool.poetry]
                name = "demo"
                [tool.poetry.dev-dependencies]
                pytest = ">=6"
            """,
        },
    )
    assert detect_recipe(tmp_path).steps[1] == ["pytest>=6"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("^1.2.3", ">=1.2.3,<2"),
        ("^0.2.3", ">=0.2.3,<0.3"),
        ("^0.0.3", ">=0.0.3,<0.0.4"),
        ("~1.2.3", ">=1.2.3,<1.3"),
        ("~1", ">=1,<2"),
        ("1.2.3", "==1.2.3"),
        (">=1.0 <2.0", ">=1.0,<2.0"),
        ("*", ""),
        ("^1.0 || ^2.0", ""),
    ],
)
def test_poetry_constraint(text: str, expected: str):
    assert poetry_constraint(text) == expected


def test_poetry_requirement_forms():
    assert poetry_requirement("python", "^3.8") == "python>=3.8,<4"
    assert poetry_requirement("foo", {"git": "https://x/y.git", "rev": "abc"}) == (
        "foo @ git+https://x/y.git@abc"
    )
    assert poetry_requirement("foo", {"path": "../foo"}) is None
    assert poetry_requirement("foo", {"version": "^1", "markers": "sys_platform == 'linux'"}) == (
        "foo>=1,<2; sys_platform == 'linux'"
    )


# ---------------------------------------------------------------- requirements files and tox


def test_requirements_files(tmp_path: Path):
    write(
        tmp_path,
        {
            "setup.py": "from setuptools import setup\nsetup()\n",
            "requirements-test.txt": "pytest\n",
            "tests/requirements.txt": "responses\n",
            "requirements/tests.txt": "mock\n",
            "requirements-dev.txt": "black\n",
        },
    )
    recipe = detect_recipe(tmp_path)
    assert recipe.steps[1] == [
        "-r", "requirements-test.txt", "-r", "requirements/tests.txt",
        "-r", "tests/requirements.txt",
    ]  # fmt: skip


def test_dev_requirements_when_nothing_test_specific(tmp_path: Path):
    write(
        tmp_path,
        {"setup.py": "from setuptools import setup\nsetup()\n", "requirements-dev.txt": "x\n"},
    )
    assert detect_recipe(tmp_path).steps[1] == ["-r", "requirements-dev.txt"]


def test_tox_deps_extras_and_setenv(tmp_path: Path):
    write(
        tmp_path,
        {
            "setup.py": "from setuptools import setup\nsetup(name='demo-pkg')\n",
            "reqs/test.txt": "pytest\n",
            "tox.ini": """
                [tox]
                envlist = py311, docs

                [testenv]
                deps =
                    pytest-mock>=3
                    -r{toxinidir}/reqs/test.txt
                    -rmissing.txt
                    {[base]deps}
                    py311: hypothesis
                    docs: sphinx
                    -e .[fast]
                extras =
                    tests
                    mypy: typing
                setenv =
                    MY_FLAG = 1
                    COVERAGE_FILE = {toxworkdir}/.coverage
                commands = pytest {posargs}
            """,
        },
    )
    recipe = detect_recipe(tmp_path)
    assert recipe.steps[0] == ["-e", ".[fast,tests]"]
    assert recipe.steps[1] == ["pytest-mock>=3", "-r", "reqs/test.txt", "hypothesis"]
    assert recipe.env == {"MY_FLAG": "1"}
    notes = "\n".join(recipe.notes)
    assert "-rmissing.txt (file not found)" in notes
    assert "{[base]deps} (tox substitution)" in notes
    assert "COVERAGE_FILE skipped" in notes


def test_tox_native_toml(tmp_path: Path):
    extra = """
        [tool.tox.env_run_base]
        deps = ["pytest-randomly"]
        set_env = { FOO = "bar" }
    """
    write(tmp_path, {"pyproject.toml": pyproject("flit_core.buildapi", "flit_core", extra)})
    recipe = detect_recipe(tmp_path)
    assert recipe.steps[1] == ["pytest-randomly"]
    assert recipe.env == {"FOO": "bar"}


# ---------------------------------------------------------------- dynamic versions


HATCH_VCS = """
[build-system]
requires = ["hatchling", "hatch-vcs"]
build-backend = "hatchling.build"

[project]
name = "My.Cool_pkg"
dynamic = ["version"]

[tool.hatch.version]
source = "vcs"
"""


def test_scm_pretend_version_from_pkg_info(tmp_path: Path):
    write(
        tmp_path,
        {"pyproject.toml": HATCH_VCS, "PKG-INFO": "Metadata-Version: 2.1\nVersion: 4.11.0\n\nx\n"},
    )
    env = detect_recipe(tmp_path).env
    assert env["SETUPTOOLS_SCM_PRETEND_VERSION"] == "4.11.0"
    assert env["SETUPTOOLS_SCM_PRETEND_VERSION_FOR_MY_COOL_PKG"] == "4.11.0"


def test_scm_pretend_version_defaults_to_zero(tmp_path: Path):
    write(tmp_path, {"pyproject.toml": HATCH_VCS})
    assert detect_recipe(tmp_path).env["SETUPTOOLS_SCM_PRETEND_VERSION"] == "0.0.0"


def test_scm_left_alone_when_git_has_tags(tmp_path: Path):
    write(tmp_path, {"pyproject.toml": HATCH_VCS})
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run([*git, "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run([*git, "add", "."], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-qm", "x"], cwd=tmp_path, check=True)
    subprocess.run([*git, "tag", "v1.2.3"], cwd=tmp_path, check=True)
    recipe = detect_recipe(tmp_path)
    assert "SETUPTOOLS_SCM_PRETEND_VERSION" not in recipe.env
    assert any("git tags present" in n for n in recipe.notes)


def test_setuptools_scm_in_setup_py_and_pdm_scm(tmp_path: Path):
    write(tmp_path / "a", {"setup.py": "from setuptools import setup\nsetup(use_scm_version=True)"})
    assert detect_recipe(tmp_path / "a").env["SETUPTOOLS_SCM_PRETEND_VERSION"] == "0.0.0"
    extra = '[tool.pdm.version]\nsource = "scm"\n'
    write(tmp_path / "b", {"pyproject.toml": pyproject("pdm.backend", "pdm-backend", extra)})
    assert detect_recipe(tmp_path / "b").env == {"PDM_BUILD_SCM_VERSION": "0.0.0"}


# ---------------------------------------------------------------- pytest config


def test_addopts_plugins(tmp_path: Path):
    extra = """
        [tool.pytest.ini_options]
        addopts = "--cov=demo --cov-report=term -n auto --timeout=30 --benchmark-disable --doctest-modules -p no:cacheprovider -p pytest_randomly -p tests.localplugin"
        asyncio_mode = "auto"
        required_plugins = ["pytest-env>=1"]
    """  # noqa: E501
    write(tmp_path, {"pyproject.toml": pyproject("hatchling.build", "hatchling", extra)})
    recipe = detect_recipe(tmp_path)
    assert pytest_step(recipe) == [
        "pytest", "pytest-cov", "pytest-xdist", "pytest-timeout", "pytest-benchmark",
        "pytest-randomly", "pytest-asyncio", "pytest-env>=1",
    ]  # fmt: skip
    assert "addopts --cov needs pytest-cov" in recipe.notes


def test_ini_keys_and_precedence(tmp_path: Path):
    write(
        tmp_path,
        {
            "setup.py": "from setuptools import setup\nsetup()\n",
            "pytest.ini": "[pytest]\ntimeout = 60\ntestpaths = checks\n",
            "setup.cfg": "[tool:pytest]\naddopts = --cov=x\n",
            "checks/test_a.py": "def test_a(): pass\n",
            "tests/test_b.py": "def test_b(): pass\n",
        },
    )
    recipe = detect_recipe(tmp_path)
    assert pytest_step(recipe) == ["pytest", "pytest-timeout"]  # pytest.ini wins over setup.cfg
    assert recipe.test_paths == ["checks"]


def test_setup_cfg_and_tox_pytest_sections(tmp_path: Path):
    write(tmp_path / "a", {"setup.cfg": "[metadata]\nname=a\n[tool:pytest]\naddopts = -nauto\n"})
    assert pytest_step(detect_recipe(tmp_path / "a")) == ["pytest", "pytest-xdist"]
    write(tmp_path / "b", {"tox.ini": "[pytest]\naddopts = --reruns 2\n"})
    assert pytest_step(detect_recipe(tmp_path / "b")) == ["pytest", "pytest-rerunfailures"]


def test_conftest_pytest_plugins(tmp_path: Path):
    write(tmp_path, {"conftest.py": 'pytest_plugins = ["pytester", "pytest_mock"]\n'})
    assert pytest_step(detect_recipe(tmp_path)) == ["pytest", "pytest-mock"]


def test_conftest_pytest_plugins_multiline(tmp_path: Path):
    write(tmp_path, {"tests/conftest.py": 'pytest_plugins = (\n    "pytest_httpbin",\n)\n'})
    assert pytest_step(detect_recipe(tmp_path)) == ["pytest", "pytest-httpbin"]


def test_hatch_envs(tmp_path: Path):
    extra = """
        [project.optional-dependencies]
        test = ["pytest"]
        docs = ["sphinx"]

        [tool.hatch.envs.default]
        features = ["test", "docs"]
        dependencies = ["coverage"]
    """
    write(tmp_path, {"pyproject.toml": pyproject("hatchling.build", "hatchling", extra)})
    recipe = detect_recipe(tmp_path)
    assert recipe.steps[0] == ["-e", ".[test]"]
    assert recipe.steps[1] == ["coverage"]


def test_pytest_pinned_for_legacy_conftest_hooks(tmp_path: Path):
    write(tmp_path, {"tests/conftest.py": "def pytest_ignore_collect(path, config):\n    pass\n"})
    assert pytest_step(detect_recipe(tmp_path)) == ["pytest<9"]


def test_pytest_pinned_for_nose_style_setup(tmp_path: Path):
    test = "class TestX:\n    def setup(self):\n        self.x = 1\n"
    write(tmp_path, {"tests/test_x.py": test})
    assert pytest_step(detect_recipe(tmp_path)) == ["pytest<8"]


# ---------------------------------------------------------------- layout and python


def test_src_layout_and_tests_dir(tmp_path: Path):
    write(
        tmp_path,
        {
            "pyproject.toml": pyproject("hatchling.build", "hatchling"),
            "src/demo_pkg/__init__.py": "",
            "tests/test_x.py": "def test_x(): pass\n",
        },
    )
    recipe = detect_recipe(tmp_path)
    assert recipe.source_roots == ["src"]
    assert recipe.test_paths == ["tests"]


def test_src_layout_with_a_namespace_package(tmp_path: Path):
    """poetry-core: src/poetry has no __init__.py, only src/poetry/core/ does. Without src on
    the path the tests imported the repo copy the editable install names, never the tree."""
    write(tmp_path, {"pyproject.toml": pyproject("poetry.core.masonry.api", "poetry-core"),
                     "src/poetry/core/__init__.py": "", "src/poetry/core/factory.py": "",
                     "tests/test_x.py": ""})
    assert detect_recipe(tmp_path).source_roots == ["src"]


def test_flat_layout(tmp_path: Path):
    write(tmp_path, {"setup.py": "", "demo/__init__.py": "", "test/test_x.py": ""})
    recipe = detect_recipe(tmp_path)
    assert recipe.source_roots == ["."]
    assert recipe.test_paths == ["test"]


def test_setup_cfg_package_dir(tmp_path: Path):
    cfg = "[metadata]\nname = d\n[options]\npackage_dir =\n    = lib\n"
    write(tmp_path, {"setup.cfg": cfg, "lib/d/__init__.py": ""})
    assert detect_recipe(tmp_path).source_roots == ["lib"]


def test_python_defaults_to_running_interpreter(tmp_path: Path):
    extra = 'requires-python = ">=3.8"\n'
    write(tmp_path, {"pyproject.toml": pyproject("hatchling.build", "hatchling", extra)})
    assert detect_recipe(tmp_path).python == CURRENT
    assert detect_recipe(tmp_path, python="python3.99").python == "python3.99"


def test_unsatisfiable_requires_python_keeps_current(tmp_path: Path):
    extra = 'requires-python = "<3.0"\n'
    write(tmp_path, {"pyproject.toml": pyproject("hatchling.build", "hatchling", extra)})
    recipe = detect_recipe(tmp_path)
    assert recipe.python == CURRENT
    assert any("unmet" in n for n in recipe.notes)


@pytest.mark.parametrize(
    ("spec", "version", "ok"),
    [
        (">=3.8", (3, 11, 7), True),
        (">=3.8,<3.11", (3, 11, 7), False),
        (">=3.8, <3.11", (3, 10, 13), True),
        ("~=3.9", (3, 12, 0), True),
        ("~=3.9.1", (3, 10, 0), False),
        ("==3.11.*", (3, 11, 7), True),
        ("!=3.11.*", (3, 11, 7), False),
        (">3.11", (3, 11, 7), True),  # 3.11.7 > 3.11(.0)
        ("garbage", (3, 11, 7), True),
    ],
)
def test_satisfies(spec: str, version: tuple[int, ...], ok: bool):
    assert satisfies(spec, version) is ok


def test_recipe_roundtrips_and_notes_every_decision(tmp_path: Path):
    write(tmp_path, {"pyproject.toml": HATCH_VCS, "tests/test_x.py": ""})
    recipe = detect_recipe(tmp_path)
    assert Recipe.from_json(recipe.to_json()) == recipe
    for prefix in ("build backend:", "python:", "install project", "test paths:", "dynamic VCS"):
        assert any(n.startswith(prefix) for n in recipe.notes), prefix


def test_single_test_module_at_the_root(tmp_path: Path):
    """pytest's default patterns (test_*.py) miss a root ``tests.py``: it is named."""
    write(tmp_path, {"setup.py": "", "mod.py": "", "tests.py": ""})
    assert detect_recipe(tmp_path).test_paths == ["tests.py"]


def test_session_args_neutralise_the_plugins_that_are_installed():
    from engine.environments.probe import EnvProbe, parse_probe, session_args

    bare = EnvProbe("3.11.7", "8.3.0", "", frozenset({"pytest"}))
    assert session_args(bare, "") == ["--continue-on-collection-errors", "-p",
                                      "no:cacheprovider"]
    full = EnvProbe("3.11.7", "8.3.0", "", frozenset(
        {"pytest", "pytest-cov", "pytest-xdist", "pytest-randomly", "pytest-random-order",
         "pytest-rerunfailures"}))
    args = session_args(full, "--cov=pkg -n auto --ff")
    assert args[:3] == ["--continue-on-collection-errors", "-o",
                        "cache_dir=.bugfoundry-pytest-cache"]  # --ff needs the cache plugin
    assert args[3:] == ["--no-cov", "-n", "0", "-p", "no:randomly",
                        "--random-order-bucket=none", "--reruns", "0"]
    # A config that sets randomly's own options keeps the plugin, in a fixed order.
    assert "--randomly-dont-reorganize" in session_args(full, "-p randomly --randomly-seed=3")
    assert "-n" not in session_args(full, "-p no:xdist")
    probe = parse_probe('noise\nBUGFOUNDRY-PROBE {"python": "3.9.1", "pytest_error": '
                        '"ModuleNotFoundError: no pytest", "dists": ["six"]}\n')
    assert probe is not None and not probe.pytest and probe.has("six")


def test_tox_requirement_files_keep_each_dash_r(tmp_path: Path):
    """Two requirement files from two places: each keeps its own -r."""
    write(tmp_path, {
        "setup.py": "", "requirements/test.txt": "pytest\n", "requirements/codspeed.txt": "x\n",
        "requirements-test.txt": "pytest\n",
        "tox.ini": "[testenv]\ndeps =\n  -r requirements/codspeed.txt\n"
                   "  -r requirements/test.txt\n",
    })
    step = detect_recipe(tmp_path).steps[1]
    assert step.count("-r") == step.count("requirements/test.txt") + step.count(
        "requirements/codspeed.txt") + step.count("requirements-test.txt")
    assert "requirements/codspeed.txt" in step
    assert step[step.index("requirements/codspeed.txt") - 1] == "-r"


def test_nox_only_test_dependencies(tmp_path: Path):
    """Dependencies declared only in a noxfile's test session (read, never run)."""
    write(tmp_path, {
        "setup.py": "", "requirements/tests.txt": "pytest\n",
        "noxfile.py": (
            "import nox\n\n\n@nox.session(python=['3.11'])\ndef tests(session):\n"
            "    session.install('-e', '.[cli]')\n"
            "    session.install('hypothesis', 'pytest-mock', '-r', 'requirements/tests.txt')\n"
            "    session.run('pytest')\n\n\n@nox.session\ndef lint(session):\n"
            "    session.install('ruff')\n"),
    })
    recipe = detect_recipe(tmp_path)
    assert recipe.steps[0] == ["-e", ".[cli]"]
    # (the requirements file was found on its own too, and is named once)
    assert recipe.steps[1] == ["-r", "requirements/tests.txt", "hypothesis", "pytest-mock"]
    assert "ruff" not in str(recipe.steps)


def test_requirements_for_one_old_python_are_skipped(tmp_path: Path):
    """click 8.1.8 ships requirements/tests.txt (pytest==8.3.4) and tests37.txt (pytest==7.4.4)
    for Python 3.7: both together cannot be installed."""
    write(tmp_path, {"setup.py": "", "requirements/tests.txt": "pytest==8.3.4\n",
                     "requirements/tests37.txt": "pytest==7.4.4\n"})
    recipe = detect_recipe(tmp_path)
    assert recipe.steps[1] == ["-r", "requirements/tests.txt"]
    assert any("tests37.txt (for one Python version" in n for n in recipe.notes)


def test_nox_install_options_take_their_value(tmp_path: Path):
    """stamina: ``session.install(pkg, "coverage[toml]", "--group", "tests")`` names a
    dependency group; "tests" is not a package to install."""
    write(tmp_path, {
        "pyproject.toml": pyproject("hatchling.build", "hatchling",
                                    '\n[dependency-groups]\nci = ["anyio", "dirty-equals"]\n'),
        "noxfile.py": (
            "import nox\n\n\n@nox.session\ndef tests(session):\n"
            "    session.install(pkg, 'coverage[toml]', '--group', 'ci', '-i', 'http://x')\n"),
    })
    steps = str(detect_recipe(tmp_path).steps)
    assert "'anyio'" in steps and "'dirty-equals'" in steps and "coverage[toml]" in steps
    assert "'ci'" not in steps and "http://x" not in steps
