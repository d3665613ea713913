"""The docker backend's pure parts: Dockerfile, image naming and keys, settings, CA lookup,
and the error when no daemon answers (a real SDK call to a socket that does not exist)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.environments.docker_env import DockerEnvironment
from engine.environments.docker_exec import _Demux
from engine.environments.docker_image import (
    DEFAULT_BASE_IMAGE,
    DockerSettings,
    connect,
    docker_name,
    dockerfile,
    find_ca_bundle,
)
from engine.errors import EnvironmentBuildError
from engine.models import Recipe


def _recipe(**kw: object) -> Recipe:
    return Recipe(python="python3.11", steps=[["-e", ".[test]"], ["pytest<8", "pytest-mock"]],
                  env={"SETUPTOOLS_SCM_PRETEND_VERSION": "1.0"}, **kw)  # type: ignore[arg-type]


def test_dockerfile_runs_the_recipe_steps_as_layers() -> None:
    text = dockerfile("python:3.11-slim", _recipe(), "python3.11", ca=True, wheels=False)
    lines = text.splitlines()
    assert lines[0] == "FROM python:3.11-slim"
    runs = [ln for ln in lines if ln.startswith("RUN ") and "pip install" in ln]
    assert len(runs) == 2  # one cached layer per step
    assert runs[0].endswith("pip install --no-cache-dir -e '.[test]'")
    assert runs[1].endswith("'pytest<8' pytest-mock")  # quoted for the shell
    assert all("SETUPTOOLS_SCM_PRETEND_VERSION=1.0" in r and "PIP_CERT=" in r for r in runs)
    assert "COPY testbed /testbed" in lines and "WORKDIR /testbed" in lines
    assert "command -v python3.11 || command -v python3" in text


def test_dockerfile_offline_from_a_wheelhouse() -> None:
    text = dockerfile("img", _recipe(), "python3", ca=False, wheels=True,
                      index_vars=["PIP_INDEX_URL"])
    assert "--no-index --find-links /opt/bugfoundry/wheels" in text
    assert "PIP_CERT" not in text and "ARG PIP_INDEX_URL" in text


def test_image_names_keys_and_settings(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("BUGFOUNDRY_DOCKER_BASE", raising=False)
    repo = tmp_path / "repos" / "My_Repo"
    repo.mkdir(parents=True)
    env = DockerEnvironment(tmp_path / "env", repo, _recipe())
    env._commit = "0123456789abcdef0123"
    assert env.settings.base_image == DEFAULT_BASE_IMAGE
    assert env.image == f"bugfoundry/my_repo:0123456789ab-{env.image_key}"
    assert env.alias == "bugfoundry/my_repo:0123456789ab"
    other = DockerEnvironment(tmp_path / "env2", repo, _recipe(), base_image="local/base:1")
    other._commit = env._commit
    assert other.image != env.image  # another base image means another image
    changed = DockerEnvironment(tmp_path / "env", repo, Recipe(steps=[["pytest"]]))
    changed._commit = env._commit
    assert changed.image_key != env.image_key  # another recipe too
    monkeypatch.setenv("BUGFOUNDRY_DOCKER_BASE", "ci/base:2")
    assert DockerSettings.load(tmp_path / "none.json").base_image == "ci/base:2"
    (tmp_path / "s.json").write_text(json.dumps({"base_image": "kept:1", "pids": 64}))
    kept = DockerSettings.load(tmp_path / "s.json")
    assert (kept.base_image, kept.pids) == ("kept:1", 64)


def test_docker_name() -> None:
    assert docker_name("Foo Bar/baz") == "foo-bar-baz"
    assert docker_name("..") == "repo"


def test_ca_bundle_from_pip_config(tmp_path: Path, monkeypatch) -> None:
    for var in ("PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(var, raising=False)
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    conf = tmp_path / "pip.conf"
    conf.write_text(f"[global]\ncert = {bundle}\n")
    monkeypatch.setenv("PIP_CONFIG_FILE", str(conf))
    assert find_ca_bundle() == bundle
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    assert find_ca_bundle() == bundle


def test_no_daemon_is_a_two_line_error(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    with pytest.raises(EnvironmentBuildError) as info:
        connect(timeout=5)
    lines = str(info.value).splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("cannot reach the Docker daemon") and "--backend venv" in lines[1]


def test_demux_reassembles_frames_split_anywhere() -> None:
    frames = (b"\x01\x00\x00\x00\x00\x00\x00\x05hello" + b"\x02\x00\x00\x00\x00\x00\x00\x03err"
              + b"\x01\x00\x00\x00\x00\x00\x00\x01!")
    for cut in range(len(frames)):
        d = _Demux()
        got = d.feed(frames[:cut]) + d.feed(frames[cut:])
        assert got == [(1, b"hello"), (2, b"err"), (1, b"!")]
