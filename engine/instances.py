"""Typed records of what the store holds about instances and environments.

Field names are the ``instances`` table's column names (and the keys the store's dicts used
to carry), so a field means what its column does. Records are frozen: a caller that needs a
variant makes one with ``dataclasses.replace``. The lists inside them (test ids, decisions)
are the store's fresh copies, never shared with another record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from engine.models import Recipe

if TYPE_CHECKING:
    from engine.store.adjudication import FinalDecision
    from engine.store.curation import DecisionState
    from engine.store.lm import Statement
    from engine.store.realism import StoredScore


@dataclass(frozen=True, slots=True)
class InstanceRow:
    """One row of the instance listing: never the patch nor the failure text (kept lean)."""

    instance_id: str
    repo: str
    base_commit: str
    strategy: str
    modifier: str
    file: str
    entity: str
    n_f2p: int
    n_p2p: int
    lines_changed: int
    files_changed: int
    validation_seconds: float
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Instance(InstanceRow):
    """A validated bug: the listing's fields plus its diff, tests, failure output and meta.

    ``problem_statement`` is the newest stored statement's text when one was written after
    forging (``statement`` then says where it came from), else the one forged with it."""

    candidate_id: str
    patch: str
    fail_to_pass: list[str]
    pass_to_pass: list[str]
    failures: dict[str, str]  # test id -> the failure output the curator reads
    problem_statement: str | None
    meta: dict[str, Any]
    statement: Statement | None = None


@dataclass(frozen=True, slots=True)
class EnvironmentRecord:
    """The latest build of a repo's environment (the ``environments`` row)."""

    backend: str
    recipe: Recipe
    recipe_hash: str
    root: str
    built_at: str
    build_seconds: float


@dataclass(frozen=True, slots=True)
class BaselineFigures:
    """The baseline an instance was validated against, as the review shows it."""

    runs: int
    tests: int
    passing: int
    flaky: int
    suite_seconds: float


@dataclass(frozen=True, slots=True)
class InstanceDetail(Instance):
    """Everything the review screen shows: the instance, every curator's current decision,
    its final decision and assigned curators, its latest realism score, the environment and
    the baseline it was validated in."""

    decisions: list[DecisionState] = field(default_factory=list)
    realism_score: StoredScore | None = None
    environment: EnvironmentRecord | None = None
    baseline: BaselineFigures | None = None
    final: FinalDecision | None = None  # an adjudicator's settled decision
    assigned: tuple[str, ...] = ()  # the curators whose queue holds it


# ---------------------------------------------------------------------- narrow views
# What single stages read of many instances: only those columns, so a pass over 50k
# instances never loads what it does not use.


@dataclass(frozen=True, slots=True)
class FeatureInput:
    """What realism feature computation reads of one bug (engine.realism.features)."""

    instance_id: str
    file: str
    patch: str
    fail_to_pass: list[str]
    failures: dict[str, str]


@dataclass(frozen=True, slots=True)
class RealismInput:
    """One instance as the realism report lists it, with its cached features (JSON text;
    None when not computed for the current feature version)."""

    instance_id: str
    strategy: str
    modifier: str
    fail_to_pass: list[str]
    lines_changed: int
    features: str | None


@dataclass(frozen=True, slots=True)
class DedupRecord:
    """The fields duplicate detection compares (engine.dedup)."""

    instance_id: str
    repo: str
    file: str
    entity: str
    patch: str
    fail_to_pass: list[str]


@dataclass(frozen=True)
class Component:
    """A validated single-entity instance that may take part in a combination
    (engine.strategies.combine)."""

    instance_id: str
    file: str
    entity: str
    patch: str
    changed_lines: tuple[int, ...] = ()
    f2p: tuple[str, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class BrowseFilter:
    """What the listing shows; ``curator`` is whose decisions are joined in."""

    curator: str = ""
    repo: str = ""  # repo, strategy, modifier: case-insensitive substrings
    strategy: str = ""
    modifier: str = ""
    decision: str = ""  # one of DECISION_FILTERS
    realism: str = ""  # one of REALISM_FILTERS
    text: str = ""  # substring of id, file or function
    # Only the open disputes: accept vs reject, no final decision (``bugfoundry disputes``).
    disputed: bool = False
    settled: bool = False  # only the disputes an adjudicator settled (a final decision)
    # Only instances curators' labels differ on, decision or realism, settled or not
    # (engine.agreement's rule; the progress screen's table).
    disagreement: bool = False
    duplicates: bool = False  # only duplicates of another instance (engine.dedup's groups)
    labelled_by: str = ""  # only instances this curator has a current decision or tag on
    min_score: float | None = None  # realism score bounds (engine.realism; unscored never match)
    max_score: float | None = None
    assigned_to: str = ""  # only this curator's assigned queue (``bugfoundry assign``)
    # The instance's resolved decision (final, else the default export rule), whoever
    # decided: one of RESOLVED_FILTERS ("undecided": no curator decision and no final).
    resolved: str = ""
    # Left out: these duplicates (the TUI's queue shows one instance per duplicate group,
    # with the ids it computed off the UI thread) unless ``duplicates`` asks for them; and
    # whatever each negated filter (``-is:dup``, ``-repo:x``) would list.
    hidden_duplicates: tuple[str, ...] = ()
    negated: tuple[BrowseFilter, ...] = ()
