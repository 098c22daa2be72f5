-- The events log is the ledger's hot path: every event of every type lands here. Its secondary
-- indexes were the main cost of a batched insert (event ids are hashes, so the UNIQUE index takes
-- random inserts, and (asset_id, ts) did too). Keep only what reads need:
--   * UNIQUE(event_id): the idempotence key;
--   * (run_id, type): per-run summaries and manifests; run ids are time-ordered, so this index grows at its end.
-- Per-asset history lives in the typed tables (assets, market_snapshots, risk_flags, listing_scores,
-- gate_decisions), each indexed by asset. The body is written by the ledger from a parsed envelope, so
-- the json_valid CHECK only re-parsed every row.
CREATE TABLE events_lean (
    seq          INTEGER PRIMARY KEY,
    event_id     TEXT NOT NULL UNIQUE,
    ts           TEXT NOT NULL,
    type         TEXT NOT NULL,
    run_id       TEXT NOT NULL,
    config_hash  TEXT NOT NULL,
    asset_id     TEXT,
    source       TEXT,
    body         TEXT NOT NULL
);
INSERT INTO events_lean (seq, event_id, ts, type, run_id, config_hash, asset_id, source, body)
    SELECT seq, event_id, ts, type, run_id, config_hash, asset_id, source, body FROM events ORDER BY seq;
DROP TABLE events;
ALTER TABLE events_lean RENAME TO events;
CREATE INDEX events_run_type ON events (run_id, type);
