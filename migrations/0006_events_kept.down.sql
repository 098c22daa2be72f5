-- Back to one whole-envelope `body` per row. A row that kept only columns and a meta gets an envelope
-- rebuilt from them, with its kept meta (for typed events, the residual against the typed row, which
-- still holds the facts) as meta.
ALTER TABLE listing_scores DROP COLUMN provider_raw_ids_json;
ALTER TABLE listing_scores DROP COLUMN source_count;
ALTER TABLE listing_scores DROP COLUMN inputs_json;
ALTER TABLE market_snapshots DROP COLUMN source_count;

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
    SELECT seq, event_id, ts, type, run_id, config_hash, asset_id, source,
           COALESCE(body, json_object('event_id', event_id, 'ts', ts, 'type', type, 'run_id', run_id, 'config_hash', config_hash,
                                      'asset_id', asset_id, 'symbol', symbol, 'chain', chain, 'source', source,
                                      'meta', json(COALESCE(meta, 'null')), 'v', 1))
    FROM events ORDER BY seq;
DROP TABLE events;
ALTER TABLE events_lean RENAME TO events;
CREATE INDEX events_run_type ON events (run_id, type);
