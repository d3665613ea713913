"""The ``bugfoundry`` console script: the engine's headless CLI plus the ``tui`` command.

The dependency points one way: this front end extends ``engine.cli.main``; the engine never
imports the TUI. ``bugfoundry`` with no subcommand opens the workbench.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from engine.cli import main as engine_cli


def cmd_tui(args: argparse.Namespace) -> int:
    """Open the curation workbench (Textual is imported only when it is wanted)."""
    from tui.app import run_tui

    return run_tui(getattr(args, "workspace", None), getattr(args, "curator", None),
                   blindtest=bool(getattr(args, "blindtest", False)))


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    tui = sub.add_parser("tui", help="the curation workbench (also: bugfoundry with no command)")
    tui.add_argument("--workspace", default=argparse.SUPPRESS,
                     help="workspace directory (default: $BUGFOUNDRY_HOME or ./.bugfoundry)")
    tui.add_argument("--curator", help="whose decisions (default: $BUGFOUNDRY_CURATOR or login)")
    tui.add_argument("--blindtest", action="store_true",
                     help='open the blind "real or forged?" test (set up with bugfoundry '
                          "blindtest new)")
    tui.set_defaults(func=cmd_tui)


def main(argv: Sequence[str] | None = None) -> int:
    return engine_cli.main(argv, register=register, default=cmd_tui)


if __name__ == "__main__":
    sys.exit(main())
