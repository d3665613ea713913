"""A team's curation setup and the pure rules over decisions (no SQL, no Textual).

What a workspace may configure, in ``<workspace>/curation.toml``::

    guidelines = "guidelines.md"   # Markdown shown on first start and beside the review
    overlap = 2                    # curators per instance for ``bugfoundry assign``
    [[reasons]]                    # structured reject reasons (replace the defaults)
    id = "not-a-bug"               # stored with the decision and exported
    label = "not a bug"            # what a curator reads
    key = "1"                      # the TUI's key for it

Also here: the guidelines file (written from ``DEFAULT_GUIDELINES`` on first use) and its
version, the export's decision rules and how one instance's decisions resolve, and the
balanced overlap assignment.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.errors import UsageError

CONFIG_FILE = "curation.toml"
DEFAULT_GUIDELINES_FILE = "guidelines.md"
FINAL_DECISIONS = ("accept", "reject")  # what an adjudicator may settle on


@dataclass(frozen=True)
class Reason:
    """One structured reject reason: ``id`` is stored and exported, ``key`` picks it in the
    TUI."""

    id: str
    label: str
    key: str


DEFAULT_REASONS: tuple[Reason, ...] = (
    Reason("not-a-bug", "not a bug", "1"),
    Reason("tests-wrong", "tests wrong", "2"),
    Reason("duplicate", "duplicate", "3"),
    Reason("trivial", "trivial", "4"),
    Reason("crash-on-import", "crash on import", "5"),
    Reason("flaky", "flaky", "6"),
    Reason("other", "other", "7"),
)

DEFAULT_GUIDELINES = """\
# Curation guidelines

Edit this file to write your team's own; its version (a hash of the text) is stored with
every decision, so a later reader knows which guidelines a decision was made under.

## Accept, reject, skip

* **accept**: the diff is a bug a developer could plausibly make, and the failing tests
  fail *because of* it.
* **reject** (with a reason): not a bug, the tests are wrong (they do not check the
  behaviour the diff breaks: SWE-bench Verified's "tests are invalid"), a duplicate of
  another instance, trivial, a crash at import, flaky.
* **skip**: you cannot tell; someone else will look.

## Realism

* **realistic**: a slip a competent developer could make and ship (off-by-one, a wrong
  operator, an inverted condition in ordinary code); the failing tests read like a bug report.
* **plausible**: could happen, but the change is blunt (a whole branch or call gone) or the
  failure points straight at the edit.
* **artificial**: no one would write this (a base class dropped, methods shuffled), or the
  failure is a crash at import; useful only as a smoke test.

## SWE-bench Verified rubric

* **problem-statement clarity**: 0 well specified, 1 some blanks to fill sensibly,
  2 vague, 3 impossible to tell what a fix should do.
* **test validity**: 0 the tests check the broken behaviour, 1 mostly, 2 they also demand
  details a correct fix could miss, 3 they test something else.
* **difficulty** for an experienced engineer: `<15m`, `15m-1h`, `1-4h`, `>4h`.

## Disputes

When curators disagree on accept vs reject, an adjudicator reads every curator's decision,
reasons and notes and sets the final decision; the export uses it before any rule.
"""


@dataclass(frozen=True)
class CurationConfig:
    """The workspace's curation settings (defaults when ``curation.toml`` is absent)."""

    home: Path
    reasons: tuple[Reason, ...] = DEFAULT_REASONS
    guidelines_file: str = DEFAULT_GUIDELINES_FILE
    overlap: int = 2

    @property
    def guidelines_path(self) -> Path:
        return self.home / self.guidelines_file

    def reason(self, id_or_key: str) -> Reason:
        """The reason with this id, key or label; UsageError naming the choices."""
        for r in self.reasons:
            if id_or_key in (r.id, r.key, r.label):
                return r
        raise UsageError(f"unknown reject reason {id_or_key!r}; choose from "
                         f"{', '.join(r.id for r in self.reasons)} (or set [[reasons]] in "
                         f"{self.home / CONFIG_FILE}).")

    def reason_ids(self, given: Sequence[str]) -> list[str]:
        """``given`` (ids, keys or labels) as reason ids, each once, in the given order."""
        return list(dict.fromkeys(self.reason(g.strip()).id for g in given if g.strip()))


def _config_error(path: Path, what: str) -> UsageError:
    return UsageError(f"{path}: {what}.\nFix the file (see README, \"Curating as a team\") or "
                      "remove it to use the defaults.")


def _reasons(path: Path, raw: Any) -> tuple[Reason, ...]:
    if not isinstance(raw, list) or not raw:
        raise _config_error(path, "reasons must be a non-empty list of tables with id, "
                                  "label and key")
    out: list[Reason] = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) \
                or not item["id"].strip():
            raise _config_error(path, f"each reason needs an id (got {item!r})")
        rid = item["id"].strip()
        label = str(item.get("label") or rid)
        key = str(item.get("key") or "")
        if len(key) > 1:
            raise _config_error(path, f"reason {rid!r}: key must be one character, not {key!r}")
        out.append(Reason(rid, label, key))
    for attr in ("id", "key"):
        values = [getattr(r, attr) for r in out if getattr(r, attr)]
        dup = sorted({v for v in values if values.count(v) > 1})
        if dup:
            raise _config_error(path, f"reason {attr}s must differ: {', '.join(dup)} repeat")
    return tuple(out)


def load_config(home: Path) -> CurationConfig:
    """The settings in ``<home>/curation.toml``; a file that cannot be read is a UsageError."""
    home = Path(home)
    path = home / CONFIG_FILE
    if not path.is_file():
        return CurationConfig(home)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise _config_error(path, f"cannot be read ({exc})") from None
    unknown = sorted(set(data) - {"reasons", "guidelines", "overlap"})
    if unknown:
        raise _config_error(path, f"unknown setting {', '.join(unknown)} (known: reasons, "
                                  "guidelines, overlap)")
    kw: dict[str, Any] = {}
    if "reasons" in data:
        kw["reasons"] = _reasons(path, data["reasons"])
    if "guidelines" in data:
        g = data["guidelines"]
        if not isinstance(g, str) or not g.strip() or Path(g).is_absolute() or ".." in Path(
                g).parts:
            raise _config_error(path, f"guidelines must be a file name inside the workspace, "
                                      f"not {g!r}")
        kw["guidelines_file"] = g.strip()
    if "overlap" in data:
        k = data["overlap"]
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise _config_error(path, f"overlap must be an integer >= 1, not {k!r}")
        kw["overlap"] = k
    return CurationConfig(home, **kw)


# ---------------------------------------------------------------------- guidelines
@dataclass(frozen=True)
class Guidelines:
    """The guidelines text and its version (``sha256:`` + 12 hex digits of the text: the
    same text is the same version wherever it is)."""

    path: Path
    text: str
    version: str
    modified: datetime | None = None
    created: bool = field(default=False, compare=False)  # written from the default just now


def guidelines_version(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def load_guidelines(config: CurationConfig, *, create: bool = True) -> Guidelines:
    """The workspace's guidelines; the default is written on first use (``create``)."""
    path = config.guidelines_path
    created = False
    if not path.is_file():
        if not create:
            return Guidelines(path, DEFAULT_GUIDELINES, guidelines_version(DEFAULT_GUIDELINES))
        try:
            path.write_text(DEFAULT_GUIDELINES, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write the guidelines {path}: {exc.strerror or exc}.\n"
                             "Check the workspace's permissions.") from None
        created = True
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read the guidelines {path}: {exc}.\n"
                         "Fix or remove the file (a default is written again).") from None
    modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    return Guidelines(path, text, guidelines_version(text), modified, created)


# ---------------------------------------------------------------------- resolving decisions
RULES = {
    "accept-no-reject": "in the split when at least one curator's current decision is accept "
                        "and none is reject",
    "any-accept": "in the split when at least one curator's current decision is accept",
    "unanimous": "in the split when every curator who decided accepted",
}


def in_split(decisions: Sequence[str], rule: str) -> bool:
    """Whether an instance with these current decisions (one per curator) is curated."""
    made = [d for d in decisions if d in FINAL_DECISIONS]
    if rule == "any-accept":
        return "accept" in made
    if rule == "unanimous":
        return bool(made) and all(d == "accept" for d in made)
    return "accept" in made and "reject" not in made


def is_conflict(decisions: Sequence[str]) -> bool:
    """Curators' accept and reject both present (a skip abstains)."""
    return {"accept", "reject"} <= set(decisions)


@dataclass(frozen=True)
class Resolution:
    """How one instance's decisions resolve: the final decision if an adjudicator set one,
    else the rule's verdict on the curators' decisions (``skip`` when every curator who
    decided skipped)."""

    instance_id: str
    decision: str  # accept | reject | skip
    source: str  # "final" or the rule's name
    disputed: bool  # curators' accept and reject conflict (settled when source is "final")


def resolve(instance_id: str, decisions: Sequence[str], final: str | None,
            rule: str) -> Resolution | None:
    """The resolution of one instance, None when nobody decided it."""
    conflict = is_conflict(decisions)
    if final:
        return Resolution(instance_id, final, "final", conflict)
    made = [d for d in decisions if d in FINAL_DECISIONS]
    if not made:
        return Resolution(instance_id, "skip", rule, False) if decisions else None
    return Resolution(instance_id, "accept" if in_split(made, rule) else "reject", rule,
                      conflict)


# ---------------------------------------------------------------------- assignment
def balanced_assignment(instance_ids: Sequence[str], curators: Sequence[str], overlap: int,
                        load: Mapping[str, int] | None = None) -> dict[str, tuple[str, ...]]:
    """Each instance to ``overlap`` distinct curators, greedily: in sorted id order, each slot
    goes to the curator with the least load (``load`` seeds it: their open queues), ties to
    the one who shared fewest instances with those already picked, then to the earlier name.
    Loads end at most one apart (when they start equal), every pair of curators meets on some
    instance once there are enough of them, and the same inputs give the same answer."""
    names = list(dict.fromkeys(c.strip() for c in curators if c.strip()))
    if not names:
        raise UsageError("assign needs curators: --curators ann,bob,cy")
    if not 1 <= overlap <= len(names):
        raise UsageError(f"--overlap {overlap} needs at least {overlap} curators and must be "
                         f">= 1; {len(names)} given ({', '.join(names)}).")
    counts = {c: (load or {}).get(c, 0) for c in names}
    met: Counter[tuple[str, str]] = Counter()
    out: dict[str, tuple[str, ...]] = {}
    for iid in sorted(instance_ids):
        chosen: list[str] = []
        for _ in range(overlap):
            pick = min((c for c in names if c not in chosen), key=lambda c: (
                counts[c], sum(met[(c, o)] for o in chosen), names.index(c)))
            chosen.append(pick)
        for c in chosen:
            counts[c] += 1
            for o in chosen:
                if o != c:
                    met[(c, o)] += 1
        out[iid] = tuple(chosen)
    return out
