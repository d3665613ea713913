"""``python -m engine.cli``: the headless command line (``bugfoundry`` adds the TUI)."""

import sys

from engine.cli.main import main

sys.exit(main())
