"""The zoo: bugfoundry as a new user runs it, on real projects nobody here wrote.

    python bench/zoo.py [--quick] [--only NAME,...] [--max 60] [--workers 2]
                        [--root DIR] [--clones DIR] [--out FILE] [--update]

For each project, in a workspace of its own and through the command line a user types:
``repo add`` -> ``forge --strategy procedural --max 60`` -> ``export --split all`` ->
``verify``. One row per project: environment ok, baseline tests, candidates, kept, yield,
verify hold rate, seconds from ``repo add`` to the first kept bug, top drop reasons; then a
total line against the targets. The results are saved as JSON (``bench/results/zoo.json``, or
``zoo-quick.json`` for ``--quick``) so every later change can be compared.

Most entries are PyPI sdists that ship their tests (pinned). Sdists often drop the project's CI
and pytest config, so a few entries are git clones, added as users add them: a local clone
under ``--clones DIR`` (default ``$BUGFOUNDRY_ZOO_CLONES`` or ``~/.cache/bugfoundry-zoo/
clones``) named after the entry, checked out at the pinned commit; such an entry is skipped
where its clone is absent.

``--update`` re-runs only the selected entries and replaces their rows in an existing results
file, keeping the others (each row names the bugfoundry commit it ran on).

A row is a *silent zero* when a stage ended with exit code 0 and nothing to show; every other
failure must have said why (its message is in the row).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.dataset.export import find_layout  # noqa: E402  (after the path is set)

RESULTS = ROOT / "bench" / "results"
KEPT_LINE = re.compile(r"^\[\d+/\d+\] kept\b")


@dataclass(frozen=True)
class Entry:
    """One zoo project: ``source`` is what ``repo add`` takes; ``clone`` names a local git
    clone (under ``--clones``) instead, pinned at ``commit``."""

    name: str
    source: str = ""
    clone: str = ""
    commit: str = ""
    shape: str = ""  # what variety it brings (layout, backend, config, plugins)


ZOO: list[Entry] = [
    Entry("attrs", "pypi:attrs==26.1.0",
          shape="hatchling, src, 1386 tests; hypothesis, writes files, scm version"),
    Entry("structlog", "pypi:structlog==26.1.0",
          shape="hatchling, src, 921 tests; asyncio_mode=auto, pytest-randomly, scm version"),
    Entry("tenacity", "pypi:tenacity==9.2.1",
          shape="hatchling, flat, 185 tests; trio, unittest, scm version file"),
    Entry("prettytable", "pypi:prettytable==3.19.0",
          shape="hatchling, src, 342 tests; scm version file"),
    Entry("python-dateutil", "pypi:python-dateutil==4.0.0",
          shape="hatchling, src, 5344 tests; hypothesis, unittest, writes files, scm version file"),
    Entry("click", "pypi:click==8.1.8", shape="flit_core, src, 650 tests; chdir, writes files"),
    Entry("boltons", "pypi:boltons==26.2.0",
          shape="flit_core, flat, 519 tests; unittest, writes files"),
    Entry("marshmallow", "pypi:marshmallow==4.4.0",
          shape="flit_core, src, 1192 tests; unstable ids"),
    Entry("pyparsing", "pypi:pyparsing==3.3.3",
          shape="flit_core, flat, 2104 tests; unittest, writes files"),
    Entry("jinja2", "pypi:jinja2==3.1.6", shape="flit_core, src, 909 tests; trio, writes files"),
    Entry("arrow", "pypi:arrow==1.4.0",
          shape="flit_core, flat, 1865 tests; --cov, order follows hash seed"),
    Entry("typing-extensions", "pypi:typing_extensions==4.16.0",
          shape="flit_core, src/module, 573 tests; doctests, unittest, writes files"),
    Entry("exceptiongroup", "pypi:exceptiongroup==1.3.2",
          shape="flit_scm, src, 144 tests; unittest, scm version file"),
    Entry("tomlkit", "pypi:tomlkit==0.15.3", shape="poetry, flat, 1482 tests; writes files"),
    Entry("poetry-core", "pypi:poetry-core==2.5.0",
          shape="poetry, src, 2957 tests; conftest reads env, chdir, writes files"),
    Entry("dep-logic", "pypi:dep-logic==0.7.2", shape="pdm, src, 2515 tests; scm version"),
    Entry("findpython", "pypi:findpython==0.9.0",
          shape="pdm, src, 49 tests; writes files, scm version file"),
    Entry("cachetools", "pypi:cachetools==8.0.3", shape="setuptools, src, 480 tests; unittest"),
    Entry("semver", "pypi:semver==3.2.0",
          shape="setuptools, src, 596 tests; --cov, --doctest-modules, scm version"),
    Entry("typeguard", "pypi:typeguard==4.6.1",
          shape="setuptools, src, 551 tests; chdir, writes files, scm version"),
    Entry("pluggy", "pypi:pluggy==1.7.0", shape="setuptools, src, 219 tests; scm version"),
    Entry("inflect", "pypi:inflect==7.6.0",
          shape="setuptools, flat, 300 tests; --doctest-modules, scm version"),
    Entry("isodate", "pypi:isodate==0.7.2",
          shape="setuptools, src, 280 tests; unstable ids, scm version file"),
    Entry("async-timeout", "pypi:async-timeout==5.0.1",
          shape="setuptools, flat, 34 tests; --cov, asyncio_mode=strict"),
    Entry("asgiref", "pypi:asgiref==3.13.0",
          shape="setup.py only, flat, 124 tests; asyncio_mode=strict, unittest"),
    Entry("parse", "pypi:parse==1.22.4",
          shape="setuptools, flat, 112 tests; --cov, --doctest-modules"),
    Entry("wcwidth", "pypi:wcwidth==0.9.5",
          shape="setuptools, flat, 2043 tests; --cov, --doctest-modules (tox.ini), env"),
    Entry("six", "pypi:six==1.17.0", shape="setup.py only, module, 200 tests; unittest"),
    Entry("jsonpointer", "pypi:jsonpointer==3.12",
          shape="setuptools, module, 92 tests; doctests, unittest, writes files"),
    Entry("xmltodict", "pypi:xmltodict==1.0.4", shape="setuptools, module, 119 tests"),
    Entry("glom", "pypi:glom==25.12.0",
          shape="setup.py only, flat, 200 tests; conftest reads env, chdir, writes files"),
    Entry("pyflakes", "pypi:pyflakes==4.1.0",
          shape="setup.py only, flat, 796 tests; unittest, writes files"),
    Entry("rfc3986", "pypi:rfc3986==2.0.0", shape="setup.py only, src, 2836 tests"),
    Entry("python-dotenv", "pypi:python-dotenv==1.2.4",
          shape="setuptools, src, 258 tests; chdir, writes files"),
    Entry("yarl", "pypi:yarl==1.25.1",
          shape="pep517_backend, flat, 1638 tests; --cov, -n, --doctest-modules, hypothesis"),
    Entry("stamina", "pypi:stamina==26.1.0", shape="hatchling, src, 443 tests; anyio, scm version"),
    Entry("tomli", clone="tomli", commit="a678e6fdeffa89bd28e4ecc148b926a4e1bbbc7b",
          shape="hukkin/tomli@2.4.0 clone: flit_core, src, 16 tests; unittest, writes files"),
    Entry("patchy", clone="patchy", commit="32f28e9bf41dc3047664f59e86cf651f89f319a7",
          shape="adamchainz/patchy@2.10.0 clone: setuptools, src, 51 tests; pytest-randomly"),
    Entry("humanize", clone="humanize", commit="3c577d7650508d52aa2982e930b0e744c343082f",
          shape="python-humanize/humanize@4.16.0 clone: hatchling, src, 784 tests; scm file"),
    Entry("pytest-mock", clone="pytest-mock", commit="e1b5c62a38c5a05cae614aef3847f240ba50d269",
          shape="pytest-dev/pytest-mock@v3.15.1 clone: setuptools, src, 90 tests; asyncio"),
]
# Three quick ones for CI: unstable ids and an scm version file; --cov and doctests in
# addopts; a setup.py-only single module with a unittest suite.
QUICK = ("isodate", "parse", "six")


@dataclass
class Row:
    name: str
    source: str
    shape: str = ""
    commit: str = ""  # the bugfoundry commit this row ran on
    status: str = "ok"  # ok | skipped | failed (said why) | silent-zero
    stage: str = ""  # the stage that failed
    message: str = ""  # what it said
    env_ok: bool = False
    tests: int = 0
    passing: int = 0
    flaky: int = 0
    unstable: int = 0
    candidates: int = 0
    kept: int = 0
    yield_rate: float = 0.0
    drops: dict[str, int] = field(default_factory=dict)
    verified: int = 0
    hold: int = 0
    ungradable: int = 0  # kept, but the export left it out: no FAIL_TO_PASS id a log parser reads
    verify_problems: list[str] = field(default_factory=list)
    first_kept_s: float | None = None
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def hold_rate(self) -> float | None:
        return self.hold / self.verified if self.verified else None


def _bf(*args: str, ws: Path, stream: list[tuple[float, str]] | None = None,
        timeout: float = 7200.0) -> tuple[int, str, str]:
    """Run the bugfoundry command line like a user (a new process each time)."""
    cmd = [sys.executable, "-m", "engine.cli", *args, "--workspace", str(ws)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    err_lines: list[str] = []

    def read_err() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            err_lines.append(line)
            if stream is not None:
                stream.append((time.monotonic(), line.rstrip("\n")))

    reader = threading.Thread(target=read_err, daemon=True)
    reader.start()
    try:
        out = proc.stdout.read() if proc.stdout else ""
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return 124, "", "".join(err_lines) + f"\n(zoo: killed after {timeout:.0f}s)"
    reader.join(timeout=10)
    return proc.returncode, out, "".join(err_lines)


def _said(err: str) -> str:
    """The error the command printed (its last 'error:' line, or its last line)."""
    lines = [ln.strip() for ln in err.splitlines() if ln.strip()]
    errors = [ln for ln in lines if "error:" in ln or ln.startswith("forge: nothing forged")]
    return (errors[-1] if errors else (lines[-1] if lines else ""))[:400]


def repo_add_args(entry: Entry, clones: Path) -> list[str] | str:
    """The ``repo add`` arguments for an entry (its pinned source, or its local clone at the
    pinned commit), or why it is skipped here."""
    source = entry.source
    if entry.clone:
        clone = clones / entry.clone
        if not (clone / ".git").exists():
            return f"no clone at {clone}"
        source = str(clone)
    add = ["repo", "add", source, "--name", entry.name]
    return add + ["--commit", entry.commit] if entry.commit else add


def add_repo_options(ap: argparse.ArgumentParser, root: str) -> None:
    """``--root`` (default ``root``), ``--clones``, ``--zoo`` and ``--no-sample``: which repos a
    bench runs (``repos_to_run``) and where."""
    ap.add_argument("--root", type=Path, default=Path(root))
    ap.add_argument("--clones", type=Path, default=Path.home() / "zoo-clones")
    ap.add_argument("--zoo", default="", help="comma list of zoo entries to run too")
    ap.add_argument("--no-sample", dest="sample", action="store_false")


def repos_to_run(sample: bool, zoo: str, clones: Path) -> list[tuple[str, list[str]]]:
    """(name, ``repo add`` arguments) of the embedded sample (when ``sample``) and of the zoo
    entries named in the comma list ``zoo``; exits naming an entry that cannot run here."""
    todo: list[tuple[str, list[str]]] = []
    if sample:
        todo.append(("sample", ["repo", "add", str(ROOT / "data" / "sample.bundle"), "--name",
                                "sample"]))
    entries = {e.name: e for e in ZOO}
    for name in filter(None, zoo.split(",")):
        if name not in entries:
            raise SystemExit(f"{name}: no such zoo entry")
        add = repo_add_args(entries[name], clones)
        if isinstance(add, str):
            raise SystemExit(f"{name}: {add}")
        todo.append((name, add))
    return todo


def run_entry(entry: Entry, root: Path, clones: Path, max_candidates: int,
              workers: int) -> Row:
    add = repo_add_args(entry, clones)
    if isinstance(add, str):
        return Row(entry.name, f"clone:{entry.clone}", entry.shape, "skipped", message=add)
    row = Row(entry.name, add[2], entry.shape)
    ws = root / entry.name
    shutil.rmtree(ws, ignore_errors=True)
    ws.mkdir(parents=True)
    t0 = time.monotonic()
    code, _out, err = _bf(*add, ws=ws)
    row.seconds["repo_add"] = round(time.monotonic() - t0, 1)
    if code:
        return _failed(row, "repo add", err)
    lines: list[tuple[float, str]] = []
    t1 = time.monotonic()
    code, out, err = _bf("forge", entry.name, "--strategy", "procedural", "--max",
                         str(max_candidates), "--workers", str(workers), "--json",
                         ws=ws, stream=lines)
    row.seconds["forge"] = round(time.monotonic() - t1, 1)
    (ws / "forge.log").write_text(err, encoding="utf-8")  # what a user would have seen
    first = next((t for t, line in lines if KEPT_LINE.match(line)), None)
    row.first_kept_s = round(first - t0, 1) if first is not None else None
    row.env_ok = not any("could not install" in ln for _t, ln in lines)
    try:
        summary = json.loads(out) if out.strip() else {}
    except json.JSONDecodeError:
        summary = {}
    if summary:
        row.tests, row.passing = summary["baseline_tests"], summary["baseline_passing"]
        row.flaky, row.unstable = summary["baseline_flaky"], summary.get("baseline_unstable", 0)
        row.candidates, row.kept = summary["candidates"], summary["kept_total"]
        row.yield_rate, row.drops = summary["yield_rate"], summary["drop_reasons"]
        row.env_ok = True
    if code or not row.kept:
        if code == 0:  # exit 0 and nothing forged: the defect the zoo exists to catch
            row.status, row.stage = "silent-zero", "forge"
            return row
        return _failed(row, "forge", err)
    export = ws / "export.jsonl"
    t2 = time.monotonic()
    code, _out, err = _bf("export", "--format", "swesmith", "--split", "all", "--dedup",
                          "none", "-o", str(export), ws=ws)
    if code:
        return _failed(row, "export", err)
    manifest = json.loads(find_layout(export).manifest.read_text())
    row.ungradable = manifest["left_out"].get("without_usable_fail_to_pass", 0)
    code, out, err = _bf("verify", str(export), "--json", ws=ws)
    row.seconds["verify"] = round(time.monotonic() - t2, 1)
    try:
        checks = json.loads(out)
    except json.JSONDecodeError:
        return _failed(row, "verify", err)
    row.verified = len(checks)
    row.hold = sum(1 for c in checks if c["ok"])
    row.verify_problems = [f"{c['instance_id']}: {c['problems'][0]}" for c in checks
                           if not c["ok"] and c["problems"]][:10]
    if row.verified == 0 and code == 0:
        row.status, row.stage = "silent-zero", "verify"
    row.seconds["total"] = round(time.monotonic() - t0, 1)
    return row


def _failed(row: Row, stage: str, err: str) -> Row:
    row.status, row.stage, row.message = "failed", stage, _said(err)
    if not row.message:
        row.status = "silent-zero"  # it failed and said nothing
    return row


def print_row(r: Row) -> None:
    if r.status == "skipped":
        print(f"{r.name:<22} skipped: {r.message}", flush=True)
        return
    hold = f"{r.hold}/{r.verified}" if r.verified else "-"
    hold += f"+{r.ungradable}u" if r.ungradable else ""
    first = f"{r.first_kept_s:.0f}s" if r.first_kept_s is not None else "-"
    drops = ", ".join(f"{k} {v}" for k, v in list(r.drops.items())[:3])
    print(f"{r.name:<22} {'ok' if r.env_ok else 'NO':>3} {r.passing:>5}/{r.tests:<5} "
          f"{r.unstable:>4} {r.candidates:>5} {r.kept:>5} {r.yield_rate:>6.0%} {hold:>7} "
          f"{first:>6}  {drops}", flush=True)
    if r.status != "ok":
        print(f"{'':<22} {r.status.upper()} at {r.stage}: {r.message}", flush=True)
    for p in r.verify_problems[:3]:
        print(f"{'':<22} verify: {p}", flush=True)


HEADER = (f"{'repo':<22} {'env':>3} {'pass/tests':>11} {'unst':>4} {'cands':>5} {'kept':>5} "
          f"{'yield':>6} {'hold':>7} {'first':>6}  top drops")


def totals(rows: list[Row]) -> dict[str, object]:
    ran = [r for r in rows if r.status != "skipped"]
    firsts = [r.first_kept_s for r in ran if r.first_kept_s is not None]
    verified = sum(r.verified for r in ran)
    hold = sum(r.hold for r in ran)
    return {
        "repos": len(ran),
        "skipped": len(rows) - len(ran),
        "with_10_kept": sum(r.kept >= 10 for r in ran),
        "kept": sum(r.kept for r in ran),
        "candidates": sum(r.candidates for r in ran),
        "verified": verified,
        "hold": hold,
        "hold_rate": round(hold / verified, 4) if verified else None,
        "ungradable": sum(r.ungradable for r in ran),
        "repos_all_hold": sum(r.verified > 0 and r.hold == r.verified for r in ran),
        "silent_zeros": sum(r.status == "silent-zero" for r in ran),
        "failed": {r.name: f"{r.stage}: {r.message}" for r in ran if r.status == "failed"},
        "median_first_kept_s": round(median(firsts), 1) if firsts else None,
        "drops": dict(sum((Counter(r.drops) for r in ran), Counter()).most_common()),
    }


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def git_head() -> str:
    res = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                         text=True)
    return res.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK)}")
    ap.add_argument("--only", default="", help="comma-separated entry names")
    ap.add_argument("--max", type=int, default=60)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--root", type=Path, default=Path(os.environ.get(
        "BUGFOUNDRY_ZOO_ROOT", Path.home() / ".cache" / "bugfoundry-zoo" / "runs")))
    ap.add_argument("--clones", type=Path, default=Path(os.environ.get(
        "BUGFOUNDRY_ZOO_CLONES", Path.home() / ".cache" / "bugfoundry-zoo" / "clones")))
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--update", action="store_true",
                    help="replace the selected entries' rows in --out, keep the others")
    ap.add_argument("--list", action="store_true", help="print the zoo and exit")
    args = ap.parse_args(argv)
    entries = ZOO
    if args.quick:
        entries = [e for e in ZOO if e.name in QUICK]
    if args.only:
        wanted = set(args.only.split(","))
        entries = [e for e in ZOO if e.name in wanted]
    if args.list:
        for e in entries:
            print(f"{e.name:<22} {e.source or 'clone:' + e.clone:<36} {e.shape}")
        return 0
    out = args.out or RESULTS / ("zoo-quick.json" if args.quick else "zoo.json")
    # One download and installer cache for every workspace, as a user's machine has.
    cache = args.root.parent / "cache"
    os.environ.setdefault("UV_CACHE_DIR", str(cache / "uv"))
    os.environ.setdefault("BUGFOUNDRY_SDIST_CACHE", str(cache / "sdists"))
    print(HEADER, flush=True)
    earlier = _earlier_rows(out) if args.update else {}
    rows: list[Row] = []
    started = time.monotonic()
    for entry in entries:
        row = run_entry(entry, args.root, args.clones, args.max, args.workers)
        row.commit = git_head()
        rows.append(row)
        print_row(row)
        _save(out, _merged(rows, earlier), args, started)
    rows = _merged(rows, earlier)
    if earlier:
        for r in rows:
            if r.name not in {e.name for e in entries}:
                print_row(r)
    total = _save(out, rows, args, started)
    print(f"\n{total['repos']} repos ({total['skipped']} skipped): "
          f"{total['with_10_kept']} with >= 10 kept; kept {total['kept']} of "
          f"{total['candidates']} candidates; verify hold {total['hold']}/{total['verified']} "
          f"({'-' if total['hold_rate'] is None else format(total['hold_rate'], '.1%')}), "
          f"repos holding 100% {total['repos_all_hold']}; silent zeros "
          f"{total['silent_zeros']}; median first kept {total['median_first_kept_s']}s; "
          f"{time.monotonic() - started:.0f}s in all")
    print(f"results: {out}")
    hold_rate = total["hold_rate"]
    bad = total["silent_zeros"] or (isinstance(hold_rate, float) and hold_rate < 1)
    return 1 if bad else 0


def _earlier_rows(out: Path) -> dict[str, Row]:
    if not out.is_file():
        return {}
    data = json.loads(out.read_text(encoding="utf-8"))
    rows = {}
    for raw in data.get("rows", []):
        raw.pop("hold_rate", None)
        raw.setdefault("commit", data.get("bugfoundry", ""))
        rows[raw["name"]] = Row(**raw)
    return rows


def _merged(new: list[Row], earlier: dict[str, Row]) -> list[Row]:
    """The new rows in place of the earlier ones, in the zoo's order."""
    by_name = {**earlier, **{r.name: r for r in new}}
    order = [e.name for e in ZOO]
    return sorted(by_name.values(), key=lambda r: order.index(r.name) if r.name in order
                  else len(order))


def _save(out: Path, rows: list[Row], args: argparse.Namespace,
          started: float) -> dict[str, object]:
    total = totals(rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "bugfoundry": git_head(),
        "date": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "machine": machine(),
        "max": args.max, "workers": args.workers,
        "seconds": round(time.monotonic() - started, 1),
        "total": total,
        "rows": [{**asdict(r), "hold_rate": r.hold_rate} for r in rows],
    }
    out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return total


if __name__ == "__main__":
    sys.exit(main())
