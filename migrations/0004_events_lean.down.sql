CREATE TABLE events_full (
    seq          INTEGER PRIMARY KEY,
    event_id     TEXT NOT NULL UNIQUE,
    ts           TEXT NOT NULL,
    type         TEXT NOT NULL,
    run_id       TEXT NOT NULL,
    config_hash  TEXT NOT NULL,
    asset_id     TEXT,
    source       TEXT,
    body         TEXT NOT NULL CHECK (json_valid(body))
);
INSERT INTO events_full (seq, event_id, ts, type, run_id, config_hash, asset_id, source, body)
    SELECT seq, event_id, ts, type, run_id, config_hash, asset_id, source, body FROM events ORDER BY seq;
DROP TABLE events;
ALTER TABLE events_full RENAME TO events;
CREATE INDEX events_type ON events (type);
CREATE INDEX events_asset ON events (asset_id, ts) WHERE asset_id IS NOT NULL;
