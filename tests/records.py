"""Typed records for tests: an ``Instance`` from only the fields a test cares about."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from engine.instances import Instance, InstanceDetail

_DEFAULTS: dict[str, Any] = {
    "instance_id": "demo.00000000.procedural_op_swap__00000000", "repo": "demo",
    "base_commit": "0" * 40, "strategy": "procedural", "modifier": "op_swap", "file": "",
    "entity": "", "n_f2p": 0, "n_p2p": 0, "lines_changed": 0, "files_changed": 0,
    "validation_seconds": 0.0, "created_at": datetime(2026, 1, 1), "candidate_id": "",
    "patch": "", "fail_to_pass": [], "pass_to_pass": [], "failures": {},
    "problem_statement": None, "meta": {},
}


def instance(**fields: Any) -> Instance:
    """An instance holding ``fields`` (the others are neutral defaults; counts follow the
    test lists unless given)."""
    rec = {**_DEFAULTS, **fields}
    if "n_f2p" not in fields:
        rec["n_f2p"] = len(rec["fail_to_pass"])
    if "n_p2p" not in fields:
        rec["n_p2p"] = len(rec["pass_to_pass"])
    return Instance(**rec)


def detail(**fields: Any) -> InstanceDetail:
    """An ``InstanceDetail`` (what the review screen shows) holding ``fields``."""
    rec = instance(**{k: v for k, v in fields.items()
                      if k not in ("decisions", "realism_score", "environment", "baseline")})
    extra = {k: v for k, v in fields.items()
             if k in ("decisions", "realism_score", "environment", "baseline")}
    return InstanceDetail(**{f: getattr(rec, f) for f in rec.__dataclass_fields__}, **extra)
