"""The venv backend against real installers (uv and pip); needs network access to PyPI."""

from __future__ import annotations

import shutil
import textwrap
import time
from pathlib import Path

import pytest

from engine.environments.detect import detect_recipe
from engine.environments.factory import make_environment
from engine.environments.processes import run_process
from engine.environments.venv import VenvEnvironment, installer_tail
from engine.errors import EnvironmentBuildError, UsageError
from tests.procs import new_marker, wait_gone

TINY = {
    "pyproject.toml": """
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "tiny"
        version = "0.1"

        [project.optional-dependencies]
        test = ["iniconfig"]

        [tool.pytest.ini_options]
        testpaths = ["tests"]
    """,
    "src/tiny/__init__.py": "def add(a, b):\n    return a + b\n",
    "tests/test_tiny.py": """
        import iniconfig  # from the [test] extra
        from tiny import add

        def test_add():
            assert add(2, 3) == 5
    """,
}


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return root


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> VenvEnvironment:
    base = tmp_path_factory.mktemp("venv-env")
    repo = write(base / "tiny", TINY)
    env = VenvEnvironment(base / "env", repo, detect_recipe(repo), cache_dir=base / "cache")
    env.build(log=lambda _: None)
    return env


@pytest.mark.integration
def test_build_and_run_pytest(built: VenvEnvironment):
    assert built.is_built()
    assert built.python_path.exists()
    assert (built.root / "build.log").read_text()
    res = built.run(["python", "-m", "pytest", "-q"], cwd=built.repo_root, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "1 passed" in res.stdout
    assert not res.timed_out


@pytest.mark.integration
def test_build_is_idempotent(built: VenvEnvironment):
    logged: list[str] = []
    started = time.monotonic()
    built.build(log=logged.append)
    assert time.monotonic() - started < 1
    assert any("up to date" in line for line in logged)


@pytest.mark.integration
def test_changed_recipe_means_not_built(built: VenvEnvironment):
    recipe = detect_recipe(built.repo_root)
    recipe.env["SOMETHING"] = "new"
    other = VenvEnvironment(built.root, built.repo_root, recipe)
    assert not other.is_built()


@pytest.mark.integration
def test_run_prefers_the_tree_in_cwd(built: VenvEnvironment, tmp_path: Path):
    """A worker's scratch copy shadows the editable install via PYTHONPATH."""
    copy = tmp_path / "copy"
    shutil.copytree(built.repo_root, copy)
    (copy / "src/tiny/__init__.py").write_text("def add(a, b):\n    return a - b\n")
    res = built.run(["python", "-m", "pytest", "-q"], cwd=copy, timeout=120)
    assert res.returncode == 1
    assert "1 failed" in res.stdout


@pytest.mark.integration
def test_install_failure_reports_tail(tmp_path: Path):
    repo = write(
        tmp_path / "broken",
        {
            "setup.py": "raise RuntimeError('boom: this project cannot be built')\n",
            "tests/test_x.py": "def test_x():\n    pass\n",
        },
    )
    env = VenvEnvironment(tmp_path / "env", repo, detect_recipe(repo))
    with pytest.raises(EnvironmentBuildError) as info:
        env.build(log=lambda _: None)
    first, second = str(info.value).split("\n")
    assert first == "could not install broken: -e ."
    assert second.startswith("installer said: ")
    assert "boom: this project cannot be built" in second
    assert "boom" in (tmp_path / "env" / "build.log").read_text()
    assert not env.is_built()


@pytest.mark.integration
def test_pip_fallback_without_uv(tmp_path: Path):
    repo = write(tmp_path / "tiny", TINY)
    env = VenvEnvironment(tmp_path / "env", repo, detect_recipe(repo), use_uv=False)
    env.build(log=lambda _: None)
    res = env.run(["python", "-m", "pytest", "-q"], cwd=repo, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr


@pytest.mark.integration
def test_timeout_kills_the_process_group(built: VenvEnvironment, tmp_path: Path):
    marker = new_marker()
    script = (
        "import subprocess, time\n"
        f"child = subprocess.Popen(['sh', '-c', 'sleep 120; : {marker}'])\n"
        "print(child.pid, flush=True)\n"
        "time.sleep(120)\n"
    )
    res = built.run(["python", "-c", script], cwd=tmp_path, timeout=2)
    assert res.timed_out
    assert res.duration < 15
    assert res.stdout.split()  # the child was started
    assert wait_gone(marker) == []


def test_run_process_plain(tmp_path: Path):
    res = run_process(["sh", "-c", "echo out; echo err >&2; exit 3"], cwd=tmp_path)
    assert (res.returncode, res.stdout, res.stderr, res.timed_out) == (3, "out\n", "err\n", False)


def test_make_environment(tmp_path: Path):
    recipe = detect_recipe(write(tmp_path / "r", {"setup.py": ""}))
    env = make_environment("venv", tmp_path / "e", tmp_path / "r", recipe)
    assert env.backend == "venv" and env.root == (tmp_path / "e").resolve()
    assert not env.is_built()
    docker = make_environment("docker", tmp_path / "d", tmp_path / "r", recipe,
                              base_image="example/base:1")
    assert docker.backend == "docker" and docker.settings.base_image == "example/base:1"
    with pytest.raises(UsageError):
        make_environment("conda", tmp_path / "e", tmp_path / "r", recipe)


def test_installer_tail_uv():
    out = """
Using Python 3.11.7 environment at: venv
  × Failed to build `broken @ file:///tmp/broken`
  ├─▶ The build backend returned an error
  ╰─▶ Call to `setuptools.build_meta.build_editable` failed (exit status: 1)

      [stderr]
      Traceback (most recent call last):
        File "<string>", line 14, in <module>
          requires = get_requires_for_build({})
      RuntimeError: boom

      hint: This usually indicates a problem with the package or the build environment.
"""
    assert installer_tail(out) == (
        "The build backend returned an error | "
        "Call to `setuptools.build_meta.build_editable` failed (exit status: 1) | "
        "RuntimeError: boom"
    )


def test_installer_tail_pip_resolution():
    out = """
ERROR: Could not find a version that satisfies the requirement nope-xyz (from versions: none)
ERROR: No matching distribution found for nope-xyz

[notice] A new release of pip is available
"""
    assert installer_tail(out, n=1) == "ERROR: No matching distribution found for nope-xyz"
