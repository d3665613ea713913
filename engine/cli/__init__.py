"""The command line: one module per group of commands, the parser built in ``main``.

Nothing here holds pipeline logic; commands parse, call the engine, and print.
"""
