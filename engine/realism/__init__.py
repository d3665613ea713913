"""Realism: how much forged bugs look like real ones (features, scorecard, report).

See README "The realism score" and shared/reference/realism.md for the evidence behind it.
"""
