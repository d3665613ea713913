"""The DuckDB store: the only package that speaks SQL.

``Store`` = ``StoreCore`` (the pipeline's records, on ``SetupMixin``: repos, environments,
baselines) + ``CurationMixin`` (decision events,
several curators' labels) + ``BrowseMixin`` (the TUI's listing, counts, review details)
+ ``AdjudicationMixin`` (final decisions, disputes, resolution) + ``AssignmentMixin`` (overlap
queues)
+ ``TestMapMixin`` (the baseline's test map) + ``ExportMixin`` (export queries)
+ ``LMMixin`` (LM response cache, LM call log, problem statements)
+ ``RealismMixin`` (realism features and scores) + ``ForgingMixin`` (PR mirroring's base
checks, combine's inputs) + ``BlindTestMixin`` (the blind "real or forged?" test)
+ ``ShardMixin`` (shard files: seeding one, merging them back).

Its edge (``engine/store/edge.py``): every public method raises bugfoundry errors only
(``DatabaseLocked``, ``DatabaseError``, ``StoreClosed``), never DuckDB's; worker threads get
their own cursor through ``Store.reader()``.
"""

from engine.store.adjudication import (
    AdjudicationMixin,
    DecisionCounts,
    FinalDecision,
    InstanceCuration,
)
from engine.store.assignment import AssignmentBatch, AssignmentMixin, CuratorQueue
from engine.store.blindtest import (
    BlindAnswer,
    BlindItem,
    BlindSession,
    BlindTestMixin,
    PoolEntry,
)
from engine.store.browsing import (
    DECISION_FILTERS,
    REALISM_FILTERS,
    RESOLVED_FILTERS,
    SORT_KEYS,
    BrowseFilter,
    BrowseMixin,
    BrowseRow,
)
from engine.store.core import (
    LIST_COLUMNS,
    MIGRATIONS,
    SCHEMA_VERSION,
    RepoSummary,
    StoreCore,
    count_changed_lines,
    instance_id_for,
)
from engine.store.curation import (
    DECISION_ACTIONS,
    DIFFICULTY_VALUES,
    REALISM_VALUES,
    CurationMixin,
    CuratorProgress,
    DecisionEvent,
    DecisionState,
    UndoRedo,
)
from engine.store.edge import DatabaseError, DatabaseLocked, StoreClosed, damaged, guarded
from engine.store.exporting import ExportMixin
from engine.store.forging import ForgingMixin
from engine.store.lm import LMCall, LMMixin, Statement
from engine.store.realism import RealismMixin, StoredScore
from engine.store.shards import ShardMerge, ShardMixin, ShardSeed
from engine.store.testmaps import TestMapMixin


@guarded
class Store(ShardMixin, BlindTestMixin, ForgingMixin, RealismMixin, LMMixin, ExportMixin,
            TestMapMixin, AdjudicationMixin, AssignmentMixin, BrowseMixin, CurationMixin,
            StoreCore):
    """A connection to the workspace database, owned by one thread of one process."""


__all__ = [
    "DECISION_ACTIONS", "DECISION_FILTERS", "DIFFICULTY_VALUES", "LIST_COLUMNS", "MIGRATIONS",
    "REALISM_FILTERS", "REALISM_VALUES", "RESOLVED_FILTERS", "AdjudicationMixin",
    "AssignmentBatch", "BlindAnswer", "BlindItem", "BlindSession", "BlindTestMixin",
    "PoolEntry", "AssignmentMixin", "CuratorQueue", "DecisionCounts", "FinalDecision",
    "InstanceCuration", "SCHEMA_VERSION", "SORT_KEYS", "BrowseFilter", "BrowseMixin",
    "BrowseRow", "CurationMixin", "CuratorProgress", "DecisionEvent", "DecisionState",
    "RepoSummary", "ShardMerge", "ShardMixin", "ShardSeed", "Store",
    "ExportMixin", "ForgingMixin", "LMCall", "LMMixin", "RealismMixin", "Statement",
    "StoredScore", "StoreCore", "TestMapMixin", "UndoRedo", "count_changed_lines",
    "DatabaseError", "DatabaseLocked", "StoreClosed", "damaged", "instance_id_for",
]
