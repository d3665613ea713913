"""Storing the baseline's test map (which tests execute which functions and lines).

Maps reach hundreds of thousands of rows on large suites, so they are bulk-loaded from a
temporary NDJSON file with ``read_json`` rather than row by row.
"""

from __future__ import annotations

import json
import os
import tempfile

from engine.store.base import StoreBase, now
from engine.testmap import TestMap


class TestMapMixin(StoreBase):
    __test__ = False

    def save_test_map(self, baseline_id: str, tm: TestMap) -> None:
        funcs, lines = tm.rows()
        with tempfile.TemporaryDirectory(prefix="bf-map-") as tmp:
            fpath, lpath = os.path.join(tmp, "f.jsonl"), os.path.join(tmp, "l.jsonl")
            with open(fpath, "w", encoding="utf-8") as fh:
                for t, f, q in funcs:
                    fh.write(json.dumps({"n": t, "f": f, "q": q}) + "\n")
            with open(lpath, "w", encoding="utf-8") as fh:
                for t, f, ls in lines:
                    fh.write(json.dumps({"n": t, "f": f, "l": ls}) + "\n")
            with self.transaction():
                self.con.execute("DELETE FROM test_functions WHERE baseline_id = ?",
                                 [baseline_id])
                self.con.execute("DELETE FROM test_lines WHERE baseline_id = ?", [baseline_id])
                if funcs:
                    self.con.execute(
                        "INSERT INTO test_functions SELECT ?, n, f, q FROM read_json(?, "
                        "columns={n: 'VARCHAR', f: 'VARCHAR', q: 'VARCHAR'})",
                        [baseline_id, fpath])
                if lines:
                    self.con.execute(
                        "INSERT INTO test_lines SELECT ?, n, f, l FROM read_json(?, "
                        "columns={n: 'VARCHAR', f: 'VARCHAR', l: 'INTEGER[]'})",
                        [baseline_id, lpath])
                self.con.execute(
                    "INSERT INTO test_maps VALUES (?, ?, ?, ?, ?, ?)",
                    [baseline_id, len(tm.tests), len(tm.functions), tm.seconds,
                     now(), ""])

    def save_test_map_problem(self, baseline_id: str, problem: str) -> None:
        """Remember that the tracing run gave no usable map, and why."""
        self.con.execute("INSERT INTO test_maps VALUES (?, 0, 0, 0.0, ?, ?)",
                         [baseline_id, now(), problem])

    def test_map_problem(self, baseline_id: str) -> str | None:
        """Why this baseline has no usable map ("" when it has one; None: never traced)."""
        row = self.con.execute(
            "SELECT problem FROM test_maps WHERE baseline_id = ? ORDER BY created_at DESC "
            "LIMIT 1", [baseline_id]).fetchone()
        return None if row is None else str(row[0] or "")

    def load_test_map(self, baseline_id: str) -> TestMap | None:
        row = self.con.execute(
            "SELECT seconds, problem FROM test_maps WHERE baseline_id = ? "
            "ORDER BY created_at DESC LIMIT 1", [baseline_id]).fetchone()
        if row is None or row[1]:
            return None
        funcs = self.con.execute(
            "SELECT nodeid, file, qualname FROM test_functions WHERE baseline_id = ?",
            [baseline_id]).fetchall()
        lines = self.con.execute(
            "SELECT nodeid, file, lines FROM test_lines WHERE baseline_id = ?",
            [baseline_id]).fetchall()
        return TestMap.from_rows(funcs, lines, float(row[0] or 0.0))
