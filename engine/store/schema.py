"""The store's schema: its version and the ordered migrations that build it.

Each migration runs once, in one transaction, and records its number in ``meta``; a file made
by a newer bugfoundry is refused rather than misread.
"""

from __future__ import annotations

SCHEMA_VERSION = 10

MIGRATIONS: list[tuple[int, list[str]]] = [
    (
        1,
        [
            "CREATE TABLE IF NOT EXISTS meta (key VARCHAR, value VARCHAR)",
            """CREATE TABLE repos (
                name VARCHAR, source VARCHAR, kind VARCHAR, commit VARCHAR, path VARCHAR,
                added_at TIMESTAMP)""",
            """CREATE TABLE environments (
                repo VARCHAR, backend VARCHAR, recipe VARCHAR, recipe_hash VARCHAR,
                root VARCHAR, built_at TIMESTAMP, build_seconds DOUBLE)""",
            """CREATE TABLE baselines (
                baseline_id VARCHAR, repo VARCHAR, commit VARCHAR, recipe_hash VARCHAR,
                created_at TIMESTAMP, runs INTEGER, n_tests INTEGER, n_passed INTEGER,
                n_flaky INTEGER, pass_rate DOUBLE, seconds DOUBLE)""",
            """CREATE TABLE baseline_tests (
                baseline_id VARCHAR, nodeid VARCHAR, outcome VARCHAR, outcomes VARCHAR[],
                duration DOUBLE, flaky BOOLEAN)""",
            """CREATE TABLE runs (
                run_id VARCHAR, repo VARCHAR, strategies VARCHAR[], seed INTEGER,
                max_candidates INTEGER, workers INTEGER, started_at TIMESTAMP, args VARCHAR)""",
            """CREATE TABLE candidates (
                candidate_id VARCHAR, repo VARCHAR, run_id VARCHAR, strategy VARCHAR,
                modifier VARCHAR, file VARCHAR, entity VARCHAR, changed_lines INTEGER[],
                seed INTEGER, patch VARCHAR, patch_hash VARCHAR, meta VARCHAR,
                created_at TIMESTAMP)""",
            """CREATE TABLE results (
                candidate_id VARCHAR, repo VARCHAR, baseline_id VARCHAR, kept BOOLEAN,
                reason VARCHAR, detail VARCHAR, fail_to_pass VARCHAR[], pass_to_pass VARCHAR[],
                n_tests_run INTEGER, duration DOUBLE, worker VARCHAR, validated_at TIMESTAMP)""",
            """CREATE TABLE instances (
                instance_id VARCHAR, candidate_id VARCHAR, repo VARCHAR, base_commit VARCHAR,
                strategy VARCHAR, modifier VARCHAR, file VARCHAR, entity VARCHAR,
                patch VARCHAR, fail_to_pass VARCHAR[], pass_to_pass VARCHAR[], n_f2p INTEGER,
                n_p2p INTEGER, lines_changed INTEGER, files_changed INTEGER,
                failures VARCHAR, problem_statement VARCHAR, meta VARCHAR,
                validation_seconds DOUBLE, created_at TIMESTAMP)""",
        ],
    ),
    (
        2,
        [
            # Curation decisions: an append-only event log (see "curation decisions" below).
            "CREATE SEQUENCE IF NOT EXISTS decision_seq START 1",
            """CREATE TABLE decisions (
                event_id BIGINT, instance_id VARCHAR, curator VARCHAR, action VARCHAR,
                realism VARCHAR, clarity INTEGER, test_validity INTEGER, difficulty VARCHAR,
                note VARCHAR, seconds_spent DOUBLE, undoes_event_id BIGINT,
                created_at TIMESTAMP)""",
        ],
    ),
    (
        3,
        [
            # The baseline's test map (engine/testmap.py) and how each verdict was reached.
            """CREATE TABLE test_maps (
                baseline_id VARCHAR, n_contexts INTEGER, n_functions INTEGER, seconds DOUBLE,
                created_at TIMESTAMP)""",
            """CREATE TABLE test_functions (
                baseline_id VARCHAR, nodeid VARCHAR, file VARCHAR, qualname VARCHAR)""",
            """CREATE TABLE test_lines (
                baseline_id VARCHAR, nodeid VARCHAR, file VARCHAR, lines INTEGER[])""",
            "ALTER TABLE results ADD COLUMN path VARCHAR",
        ],
    ),
    (
        4,
        [
            # LM answers by cache key (engine/lm), every LM call's fate, problem statements.
            """CREATE TABLE lm_responses (
                key VARCHAR, model VARCHAR, purpose VARCHAR, response VARCHAR,
                created_at TIMESTAMP)""",
            """CREATE TABLE lm_calls (
                repo VARCHAR, purpose VARCHAR, file VARCHAR, entity VARCHAR, key VARCHAR,
                status VARCHAR, reason VARCHAR, detail VARCHAR, candidate_id VARCHAR,
                model VARCHAR, prompt_tokens INTEGER, completion_tokens INTEGER, cost DOUBLE,
                cached BOOLEAN, created_at TIMESTAMP)""",
            """CREATE TABLE statements (
                instance_id VARCHAR, kind VARCHAR, text VARCHAR, model VARCHAR,
                prompt_tokens INTEGER, completion_tokens INTEGER, cost DOUBLE,
                leaks VARCHAR[], created_at TIMESTAMP)""",
        ],
    ),
    (
        5,
        [
            # Realism (engine/realism): cached features per feature version, scoring passes.
            """CREATE TABLE realism_features (
                instance_id VARCHAR, version INTEGER, features VARCHAR, created_at TIMESTAMP)""",
            """CREATE TABLE realism_scores (
                instance_id VARCHAR, model VARCHAR, score DOUBLE, probability DOUBLE,
                reasons VARCHAR, created_at TIMESTAMP)""",
        ],
    ),
    (
        6,
        [
            # PR mirroring route b: can the environment run the tests at a fix commit?
            """CREATE TABLE base_checks (
                repo VARCHAR, commit VARCHAR, recipe_hash VARCHAR, ok BOOLEAN, reason VARCHAR,
                baseline_id VARCHAR, created_at TIMESTAMP)""",
        ],
    ),
    (
        7,
        [
            # Baselines per environment backend: a test that needs the network passes in a
            # venv and fails in a docker container, so one backend's baseline cannot grade
            # another's runs.
            "ALTER TABLE baselines ADD COLUMN backend VARCHAR DEFAULT 'venv'",
        ],
    ),
    (
        8,
        [
            # Tests whose node id is not the same in every run (ids built from object reprs,
            # set order): they can never be named as FAIL_TO_PASS or PASS_TO_PASS.
            "ALTER TABLE baseline_tests ADD COLUMN unstable_id BOOLEAN DEFAULT false",
            "ALTER TABLE baselines ADD COLUMN n_unstable INTEGER DEFAULT 0",
            # A tracing run that gave no usable map: why (not run again on every forge).
            "ALTER TABLE test_maps ADD COLUMN problem VARCHAR DEFAULT ''",
        ],
    ),
    (
        9,
        [
            # Curation v2: an adjudicator's final decision is a decision event with role
            # 'adjudicator' (undone like any other); structured reject reasons and the
            # version of the guidelines a decision was made under travel with each event.
            "ALTER TABLE decisions ADD COLUMN role VARCHAR DEFAULT 'curator'",
            "ALTER TABLE decisions ADD COLUMN reasons VARCHAR[]",
            "ALTER TABLE decisions ADD COLUMN guidelines_version VARCHAR",
            # Overlap assignment: append-only batches; an instance's current curators are
            # those of the latest batch that assigned it.
            "CREATE SEQUENCE IF NOT EXISTS assignment_seq START 1",
            """CREATE TABLE assignments (
                batch BIGINT, instance_id VARCHAR, curator VARCHAR, overlap INTEGER,
                assigned_at TIMESTAMP)""",
            """CREATE VIEW current_assignments AS
                SELECT a.instance_id, a.curator, a.batch, a.assigned_at FROM assignments a
                JOIN (SELECT instance_id, max(batch) AS batch FROM assignments GROUP BY 1) m
                ON m.instance_id = a.instance_id AND m.batch = a.batch""",
        ],
    ),
    (
        10,
        [
            # The blind "real or forged?" test (engine/realism/blindtest.py): sessions with
            # their shuffled items (the truth kept beside them, never shown), and the
            # curators' answers, append-only (the latest per item and curator counts).
            "CREATE SEQUENCE IF NOT EXISTS blindtest_seq START 1",
            """CREATE TABLE blindtest_sessions (
                session_id BIGINT, repo VARCHAR, items INTEGER, real_share DOUBLE,
                seed INTEGER, strategies VARCHAR[], created_at TIMESTAMP)""",
            """CREATE TABLE blindtest_items (
                session_id BIGINT, position INTEGER, instance_id VARCHAR, display_id VARCHAR,
                truth VARCHAR, strategy VARCHAR, modifier VARCHAR)""",
            "CREATE SEQUENCE IF NOT EXISTS blindtest_answer_seq START 1",
            """CREATE TABLE blindtest_answers (
                answer_id BIGINT, session_id BIGINT, instance_id VARCHAR, curator VARCHAR,
                answer VARCHAR, confidence INTEGER, seconds DOUBLE, answered_at TIMESTAMP)""",
        ],
    ),
]
