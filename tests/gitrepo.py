"""A tiny real git repository built commit by commit, for mining and PR-mirror tests."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ENV = {
    "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


class GitRepo:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._tick = 0
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str) -> str:
        self._tick += 1
        date = f"2024-01-01T00:{self._tick // 60:02d}:{self._tick % 60:02d}Z"
        res = subprocess.run(["git", "-c", "commit.gpgsign=false", *args], cwd=self.path,
                             capture_output=True, text=True, check=True,
                             env={**os.environ, **ENV, "GIT_AUTHOR_DATE": date,
                                  "GIT_COMMITTER_DATE": date})
        return res.stdout.strip()

    def commit(self, message: str, files: dict[str, str | bytes | None]) -> str:
        """Write (or delete, with None) files and commit them; returns the sha."""
        for rel, content in files.items():
            target = self.path / rel
            if content is None:
                target.unlink()
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content)
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD")

    def read(self, rel: str) -> str:
        return (self.path / rel).read_text()
