"""The docker backend against the venv backend on the same candidates, side by side.

    python bench/docker_vs_venv.py [SOURCE] [--max N] [--seed S] [--workers W] [--base-image IMAGE]
                           [--fresh-image] [--modes auto,cold] [--workspace DIR]

SOURCE is anything ``bugfoundry repo add`` takes (default: the embedded sample bundle). Prints
the image's size and build time (``--fresh-image`` deletes this repo's image first, so the
build is measured from the base image; pip downloads are not cached inside a build), each
backend's baseline time, and wall seconds per candidate for each validation mode, plus how
many verdicts agree (same keep/drop and FAIL_TO_PASS set). Wall time, not CPU: the test
processes of the docker backend are not children of this process.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.cli.main import main as cli_main  # noqa: E402
from engine.environments.docker_env import DockerEnvironment  # noqa: E402
from engine.environments.docker_image import connect  # noqa: E402
from engine.forge import setup  # noqa: E402
from engine.forge.run import generate_candidates  # noqa: E402
from engine.models import RepoRecord, Verdict  # noqa: E402
from engine.store import Store  # noqa: E402
from engine.workspace import Workspace  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample.bundle"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", nargs="?", default=str(SAMPLE))
    ap.add_argument("--name", default=None)
    ap.add_argument("--max", type=int, default=60, help="candidates (default 60)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--base-image", default=None)
    ap.add_argument("--fresh-image", action="store_true",
                    help="delete this repo's image first and time a full build")
    ap.add_argument("--modes", default="auto,cold")
    ap.add_argument("--workspace", default=None, help="default: a fresh temporary directory")
    args = ap.parse_args(argv)
    os.environ.setdefault("UV_CACHE_DIR",
                          str(Path.home() / ".cache" / "bugfoundry-tests" / "uv"))
    ws_dir = Path(args.workspace or tempfile.mkdtemp(prefix="bf-bench-docker-"))
    ws = Workspace.open(ws_dir)
    with Store.open(ws.db_path) as store:
        known = [r.name for r in store.list_repos()]
    add = ["repo", "add", args.source, "--workspace", str(ws_dir)]
    if args.name or args.source == str(SAMPLE):
        add += ["--name", args.name or "sample"]
    if not known and cli_main(add) != 0:
        return 2
    rows: dict[str, dict[str, str]] = {"venv": {}, "docker": {}}
    setups = {}
    with Store.open(ws.db_path) as store:
        repo = setup.open_repo(ws, store, args.name or store.list_repos()[0].name, print)
        for backend in ("venv", "docker"):
            t0 = time.monotonic()
            kwargs = {"base_image": args.base_image} if backend == "docker" else {}
            if backend == "docker" and args.fresh_image:
                _drop_image(ws, store, repo, args.base_image)
            env, recipe = setup.ensure_environment(ws, store, repo, backend=backend, log=print,
                                             **kwargs)
            rows[backend]["environment ready (s)"] = f"{time.monotonic() - t0:.1f}"
            t0 = time.monotonic()
            baseline = setup.ensure_baseline(ws, store, repo, env, recipe, log=print)
            rows[backend]["baseline + test map (s)"] = f"{time.monotonic() - t0:.1f}"
            rows[backend]["suite, one run (s)"] = f"{baseline.seconds:.2f}"
            testmap = store.load_test_map(baseline.baseline_id)
            setups[backend] = (env, recipe, baseline, testmap)
    docker_env = setups["docker"][0]
    assert isinstance(docker_env, DockerEnvironment)
    info = docker_env.image_info()
    base = connect().images.get(docker_env.settings.base_image)
    rows["docker"]["image size (MB)"] = f"{info.get('size_mb')}"
    rows["docker"]["base image size (MB)"] = f"{base.attrs.get('Size', 0) / 1e6:.1f}"
    rows["docker"]["image build (s)"] = (f"{info.get('build_seconds')}" if info.get(
        "build_seconds") else "reused (--fresh-image to time it)")
    testmap = setups["venv"][3]
    cands = generate_candidates(repo, ["procedural"], args.seed, args.max,
                                covered_lines=testmap.covered_lines if testmap else None)
    print(f"validating {len(cands)} candidates of {repo.name} with {args.workers} worker(s)")
    for mode in args.modes.split(","):
        results: dict[str, dict[str, Verdict]] = {}
        for backend in ("venv", "docker"):
            env, recipe, baseline, tm = setups[backend]
            v = setup.build_validator(ws, repo, env, recipe, baseline, tm, mode=mode,
                                workers=args.workers)
            t0 = time.monotonic()
            with v:
                results[backend] = {c.candidate_id: verdict for c, verdict in v.run(cands)}
            wall = time.monotonic() - t0
            env.close()
            kept = sum(x.kept for x in results[backend].values())
            rows[backend][f"{mode}: s/candidate"] = f"{wall / max(1, len(cands)):.3f}"
            rows[backend][f"{mode}: kept"] = f"{kept}/{len(cands)}"
        same = sum((results["venv"][c].kept, sorted(results["venv"][c].fail_to_pass))
                   == (results["docker"][c].kept, sorted(results["docker"][c].fail_to_pass))
                   for c in results["venv"])
        rows["docker"][f"{mode}: verdicts as venv"] = f"{same}/{len(cands)}"
    _print(rows)
    return 0


def _drop_image(ws: Workspace, store: Store, repo: RepoRecord, base_image: str | None) -> None:
    """Delete the image this build would produce, so the build below is timed from scratch."""
    import docker.errors

    from engine.environments.detect import detect_recipe

    stored = store.get_environment(repo.name)
    recipe = stored.recipe if stored else detect_recipe(Path(repo.path))
    env = DockerEnvironment(setup.env_root(ws, repo.name, "docker"), Path(repo.path), recipe,
                            base_image=base_image)
    for tag in (env.image, env.alias):
        with contextlib.suppress(docker.errors.ImageNotFound):
            env.client.images.remove(tag)
    env.marker_path.unlink(missing_ok=True)


def _print(rows: dict[str, dict[str, str]]) -> None:
    keys = list(dict.fromkeys([*rows["docker"], *rows["venv"]]))
    width = max(len(k) for k in keys) + 2
    print(f"\n{'':{width}}{'venv':>14}{'docker':>36}")
    for k in keys:
        print(f"{k:{width}}{rows['venv'].get(k, '-'):>14}{rows['docker'].get(k, '-'):>36}")


if __name__ == "__main__":
    sys.exit(main())
