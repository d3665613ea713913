"""Validation: run a candidate's covering tests in the environment and decide.

The validator, the fork servers of the fast path, test selection, the shapes of a
change, and the test runs and maps they read.
"""
