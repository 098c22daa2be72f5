-- Drops the paper tables (their events stay in `events` and events.jsonl, append-only) and brings back
-- the retired `experiments` table exactly as 0002 created it.
DROP TABLE block_events;
DROP TABLE risk_allocations;
DROP TABLE position_snapshots;
DROP TABLE fills;
DROP TABLE orders;
DROP TABLE experiment_runs;
DROP TABLE strategy_runs;
DROP TABLE experiment_specs;

-- Paper-only by construction: a row that is not paper-only cannot exist.
CREATE TABLE experiments (
    id               INTEGER PRIMARY KEY,
    experiment_id    TEXT NOT NULL,
    asset_id         TEXT NOT NULL,
    signal_event_id  TEXT NOT NULL,
    side             TEXT NOT NULL,
    paper_only       INTEGER NOT NULL DEFAULT 1 CHECK (paper_only = 1),
    opened_at        TEXT NOT NULL,
    closed_at        TEXT,
    params_json      TEXT NOT NULL DEFAULT '{}',
    result_json      TEXT,
    run_id           TEXT NOT NULL,
    UNIQUE (experiment_id, asset_id, signal_event_id)
);
