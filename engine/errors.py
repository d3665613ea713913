"""User-facing errors: each carries a one- or two-line message that says what to do."""

from __future__ import annotations


class BugfoundryError(Exception):
    """Base for errors the CLI prints as a short message (no traceback) with exit code 2."""

    exit_code = 2


class RepoError(BugfoundryError):
    """The source is not a usable repository (not a repo, unreachable, no tests, ...)."""


class EnvironmentBuildError(BugfoundryError):
    """Installing the repo's environment failed; the message ends with the installer's tail."""


class BaselineError(BugfoundryError):
    """The clean repo's test suite is unusable (no passing test, hangs, ...)."""


class StoreError(BugfoundryError):
    """The workspace database cannot be opened (locked by another process, corrupt, ...)."""


class UsageError(BugfoundryError):
    """Bad command-line input (unknown strategy, unknown repo or instance, ...)."""


class EnvironmentBrokenError(BugfoundryError):
    """A built environment cannot run the tests (pytest missing or broken): rebuild it."""
