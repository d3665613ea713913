"""The forge: set a repo up, run the strategies' stages, validate, and summarise.
"""
