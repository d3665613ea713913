"""bugfoundry's headless engine: repos, environments, baseline, strategies, validation, store.

Never imports Textual (a test enforces it) so it can run from scripts and the CLI.
"""

__version__ = "0.1.0"
