"""The sandbox's pure parts: which variables are secrets, sizes, and the bind lists."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.environments import sandbox
from engine.errors import UsageError


@pytest.mark.parametrize("name", ["OPENAI_API_KEY", "AWS_REGION", "GITHUB_TOKEN", "DB_PASSWORD",
                                  "MY_SECRET", "SSH_AUTH_SOCK", "HF_HOME", "SESSION_COOKIE",
                                  "ANTHROPIC_API_KEY", "GH_PAT", "npm_config_authtoken"])
def test_secrets_are_scrubbed(name: str) -> None:
    assert sandbox.is_secret(name)
    assert sandbox.scrub({name: "x", "PATH": "/bin"}) == {"PATH": "/bin"}


@pytest.mark.parametrize("name", ["PATH", "PWD", "LANG", "GIT_AUTHOR_NAME", "PYTHONHASHSEED",
                                  "TOKENIZERS_PARALLELISM", "MONKEYPATCH_MODE", "VIRTUAL_ENV"])
def test_ordinary_variables_stay(name: str) -> None:
    assert not sandbox.is_secret(name)


def test_sizes() -> None:
    assert sandbox.parse_size("3G") == 3 * 2**30
    assert sandbox.parse_size("512MiB") == 512 * 2**20
    assert sandbox.parse_size("0") is None
    for bad in ("lots", "1K"):
        with pytest.raises(UsageError):
            sandbox.parse_size(bad)
    assert sandbox.parse_count("0") is None
    with pytest.raises(UsageError):
        sandbox.parse_count("-3")


def test_bwrap_binds_outer_directories_first(tmp_path: Path) -> None:
    box = sandbox.Sandbox("bwrap", sandbox.Settings(), "/usr/bin/bwrap")
    inner = Path("/tmp/ws/envs/r/scratch")
    argv = box.wrap(["true"], cwd=Path("/tmp/ws/work/0"),
                    writable=[Path("/tmp/ws/work/0"), inner], keep=[Path("/tmp/ws/envs/r")])
    binds = [(argv[i], argv[i + 1]) for i, a in enumerate(argv) if a in ("--bind", "--ro-bind")]
    assert binds.index(("--ro-bind", "/tmp/ws/envs/r")) < binds.index(("--bind", str(inner)))
    assert ("--ro-bind", "/") in binds and "--unshare-net" in argv and "--die-with-parent" in argv
