"""One environment per repo: detect the install recipe, build it, run commands in it."""
