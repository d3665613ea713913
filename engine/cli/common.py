"""What every ``bugfoundry`` command module shares: opening the workspace, the stderr log line,
the ``--json`` dump, the options every subcommand takes.

``main`` builds the parser from the command modules beside it; they take these helpers from
here, so none of them imports ``main`` back.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from engine.cli.args import Parser
from engine.errors import UsageError
from engine.forge.setup import adopt_copies
from engine.store import Store
from engine.workspace import Workspace


def open_ws(args: argparse.Namespace) -> tuple[Workspace, Store]:
    """The workspace named by ``--workspace`` (or the default one) and its store."""
    ws = Workspace.open(getattr(args, "workspace", None))
    store = Store.open(ws.db_path)
    adopt_copies(ws, store, to_stderr)  # a copied or moved workspace uses its own copies
    return ws, store


def to_stderr(msg: str) -> None:
    """A log line on stderr, so stdout stays the command's result (``--json`` too)."""
    print(msg, file=sys.stderr, flush=True)


def dump_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, default=str))


def input_path(raw: str) -> Path:
    """The file to read; an empty name is refused (``Path("")`` is the current directory)."""
    if not raw.strip():
        raise UsageError("the file to read is empty: give a JSONL or Parquet file, or an "
                         "export's directory.")
    return Path(raw)


def common_options() -> Parser:
    """Options every subcommand takes, for ``parents=[...]``."""
    common = Parser(add_help=False)
    common.add_argument("--workspace", default=argparse.SUPPRESS,
                        help="workspace directory (default: $BUGFOUNDRY_HOME or ./.bugfoundry)")
    common.add_argument("--json", action="store_true", help="machine-readable output")
    return common
