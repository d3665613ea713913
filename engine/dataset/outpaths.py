"""Output paths checked before anything is written, so a bad ``-o``/``--html`` leaves nothing
behind: no half-written file, no sidecar directory, no traceback.

"Can it be written" is tried, not inferred from permission bits: as root every mode bit says
yes, while ``/proc``, a path under a regular file or an immutable file still say no.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from engine.errors import UsageError


def output_path(raw: str | os.PathLike[str], flag: str) -> Path:
    """``raw`` as an absolute path; an empty one is refused (it would mean the cwd)."""
    if not str(raw).strip():
        raise UsageError(f"{flag} is empty: give the path to write.")
    return Path(raw).expanduser().absolute()


def check_directory(parent: Path, path: Path) -> None:
    """``parent`` (where ``path`` goes) is a directory a file can be created in, or can be
    made one: missing directories are created by the writer (``mkdir -p``), so their nearest
    existing ancestor must be a writable directory."""
    existing = next((p for p in (parent, *parent.parents) if p.exists()), None)
    if existing is None or not existing.is_dir():
        raise UsageError(f"cannot write {path}: {existing or parent} is not a directory.\n"
                         "Give a path whose directories are directories.")
    try:
        fd, probe = tempfile.mkstemp(prefix=".bf-probe-", dir=existing)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc} in {existing}.\n"
                         "Give a path in a directory you can write.") from None


def check_file(path: Path, flag: str, *, replace: bool = True) -> None:
    """``path`` can be written as a file: not a directory, its directory writable, and an
    existing file replaceable (not immutable, not a device or pipe)."""
    if path.is_dir():
        raise UsageError(f"{flag} {path} is a directory: give a file name.")
    check_directory(path.parent, path)
    if not (path.exists() or path.is_symlink()):
        return
    if not path.is_file():
        raise UsageError(f"cannot write {path}: it is not a regular file.\n"
                         "Give the path of a new or regular file.")
    if replace:
        try:
            with open(path, "ab"):  # appends nothing: the file is left as it was
                pass
        except OSError as exc:
            raise UsageError(f"cannot write {path}: {exc.strerror or exc}.\n"
                             "Give another path (or make that file writable).") from None
