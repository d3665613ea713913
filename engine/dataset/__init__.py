"""The dataset: curated instances out (export, branches, statements) and in (import,
verify), with leak checks; ``rows`` is the one instance <-> row mapping.
"""
