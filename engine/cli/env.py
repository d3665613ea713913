"""``bugfoundry env build|ls|rm``: a repo's environment (venv or docker image), seen and removed.

Kept apart from ``engine.cli.main`` so that module stays a readable size; ``build_parser`` calls
``register`` here.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from engine.cli.common import dump_json, open_ws, to_stderr
from engine.environments.base import BACKENDS


def add_backend_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", choices=BACKENDS, default=None,
                        help="venv (local virtualenv) or docker (one image, tests in locked-down "
                             "containers); default: the repo's current one, else venv")
    parser.add_argument("--base-image", default=None, metavar="IMAGE",
                        help="docker base image (default python:3.11-slim, or "
                             "$BUGFOUNDRY_DOCKER_BASE); kept for later builds")
    parser.add_argument("--wheelhouse", default=None, type=Path, metavar="DIR",
                        help="docker: install from these wheels, offline (pip download -d DIR)")


def cmd_env_build(args: argparse.Namespace) -> int:
    from engine.forge.setup import ensure_environment, open_repo

    ws, store = open_ws(args)
    with store:
        repo = open_repo(ws, store, args.repo, to_stderr)
        env, recipe = ensure_environment(ws, store, repo, backend=args.backend,
                                         base_image=args.base_image,
                                         wheelhouse=args.wheelhouse, log=to_stderr,
                                         rebuild=args.rebuild)
        data = _describe(env, repo.name, recipe.hash)
        data["recipe"] = json.loads(recipe.to_json())
        if args.json:
            dump_json(data)
        else:
            where = data.get("image") or env.root
            print(f"environment for {repo.name}: {env.backend} at {where} "
                  f"(recipe {recipe.hash})")
            for note in recipe.notes:
                print(f"  {note}")
    return 0


def _describe(env: Any, repo: str, recipe_hash: str) -> dict[str, Any]:
    data: dict[str, Any] = {"repo": repo, "backend": env.backend, "root": str(env.root),
                            "recipe_hash": recipe_hash}
    if env.backend == "docker":
        info = env.image_info()
        data.update(image=env.image, base_image=env.settings.base_image,
                    size_mb=info.get("size_mb"), build_seconds=info.get("build_seconds"))
    return data


def cmd_env_ls(args: argparse.Namespace) -> int:
    """Each repo's current environment, and every bugfoundry image the daemon holds."""
    from engine.environments.factory import make_environment
    from engine.forge.setup import env_root

    ws, store = open_ws(args)
    rows = []
    with store:
        for repo in store.list_repos():
            stored = store.get_environment(repo.name)
            if stored is None:
                continue
            env = make_environment(stored.backend, env_root(ws, repo.name, stored.backend),
                                   Path(repo.path), stored.recipe)
            row = _describe(env, repo.name, stored.recipe_hash)
            row.update(built_at=stored.built_at, built=_built(env))
            rows.append(row)
    images, problem = _images()
    if args.json:
        dump_json({"environments": rows, "images": images, "docker": problem or "ok"})
        return 0
    if not rows:
        print("no environments yet; build one with: bugfoundry env build REPO")
    for r in rows:
        where = r.get("image") or r["root"]
        size = f", {r['size_mb']} MB" if r.get("size_mb") else ""
        state = "built" if r["built"] else "not built"
        print(f"{r['repo']:24} {r['backend']:6} {state:9} {where}{size}")
    if images:
        print(f"\ndocker images ({len(images)}):")
        for i in images:
            print(f"  {', '.join(i['tags']) or i['image_id']:60} {i['size_mb']:>8} MB  "
                  f"{i['created']}")
    elif problem:
        print(f"\ndocker images not listed: {problem}")
    return 0


def _built(env: Any) -> bool | None:
    from engine.errors import BugfoundryError

    try:
        return bool(env.is_built())
    except BugfoundryError:  # docker daemon down: unknown
        return None


def _images() -> tuple[list[dict[str, Any]], str]:
    from engine.environments.docker_image import connect, list_images
    from engine.errors import BugfoundryError

    try:
        client = connect(timeout=30)
    except BugfoundryError as exc:
        return [], str(exc).splitlines()[0]
    return [vars(i) for i in list_images(client)], ""


def cmd_env_rm(args: argparse.Namespace) -> int:
    """Delete a repo's environment (for docker: its containers and every image of the repo)."""
    from engine.environments.factory import make_environment
    from engine.forge.setup import env_root, get_repo

    ws, store = open_ws(args)
    with store:
        repo = get_repo(store, args.repo)
        stored = store.get_environment(repo.name)
    backend = args.backend or (stored.backend if stored else "venv")
    if stored is None:
        print(f"{repo.name} has no environment yet")
        return 0
    env = make_environment(backend, env_root(ws, repo.name, backend), Path(repo.path),
                           stored.recipe)
    images = []
    if backend == "docker":
        from engine.environments.docker_env import DockerEnvironment
        from engine.environments.docker_image import list_images

        if isinstance(env, DockerEnvironment):  # what make_environment builds for docker
            images = [t for i in list_images(env.client, repo.name) for t in i.tags]
    env.remove()
    if args.json:
        dump_json({"repo": repo.name, "backend": backend, "removed_root": str(env.root),
               "removed_images": images})
    else:
        print(f"removed the {backend} environment of {repo.name} ({env.root})")
        for tag in images:
            print(f"  removed image {tag}")
    return 0


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add ``env build|ls|rm`` to the top-level subcommands."""
    env = sub.add_parser("env", help="build, list and remove repo environments")
    esub = env.add_subparsers(dest="env_command", required=True)
    build = esub.add_parser("build", parents=[common], help="detect the recipe and install")
    build.add_argument("repo")
    build.add_argument("--rebuild", action="store_true", help="detect again and reinstall")
    add_backend_options(build)
    build.set_defaults(func=cmd_env_build)
    ls = esub.add_parser("ls", parents=[common], help="environments and bugfoundry images")
    ls.set_defaults(func=cmd_env_ls)
    rm = esub.add_parser("rm", parents=[common],
                         help="remove a repo's environment (docker: its images too)")
    rm.add_argument("repo")
    rm.add_argument("--backend", choices=BACKENDS, default=None,
                    help="which one (default: the repo's current one)")
    rm.set_defaults(func=cmd_env_rm)


def sandbox_options(parser: argparse.ArgumentParser) -> None:
    """The venv backend's sandbox knobs (``engine/environments/sandbox.py``)."""
    parser.add_argument("--sandbox", choices=("auto", "on", "off"), default=None,
                        help="run tests in namespaces (no network, read-only host, private "
                             "HOME and /tmp, no secrets): auto (default, where the kernel "
                             "allows; one warning line where not), on (or fail), off "
                             "(env BUGFOUNDRY_SANDBOX)")
    parser.add_argument("--memory-limit", default=None, metavar="SIZE",
                        help="memory per test process, e.g. 3G (default), 0 for none "
                             "(env BUGFOUNDRY_MEMORY_LIMIT)")
    parser.add_argument("--max-processes", default=None, metavar="N",
                        help="processes per sandbox (default 512; the kernel does not "
                             "enforce it for root), 0 for none (env BUGFOUNDRY_MAX_PROCESSES)")


def configure_sandbox(args: argparse.Namespace) -> None:
    """Options given on the command line win over the environment variables."""
    from engine.environments import sandbox

    given = {k: getattr(args, k, None) for k in ("sandbox", "memory_limit", "max_processes")}
    if all(v is None for v in given.values()):
        sandbox.configure(None)
        return
    base = sandbox.Settings.from_env()
    sandbox.configure(sandbox.Settings(
        given["sandbox"] or base.mode,
        sandbox.parse_size(given["memory_limit"]) if given["memory_limit"] is not None
        else base.memory,
        sandbox.parse_count(given["max_processes"]) if given["max_processes"] is not None
        else base.processes))
