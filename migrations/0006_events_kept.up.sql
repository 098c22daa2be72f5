-- Store each fact once (invariant 9). An events row used to hold the whole envelope as JSON in `body`,
-- repeating its own columns and, for typed events, the JSON of their typed row (raw payloads, risk checks,
-- scores, decisions). Now the envelope's fields are columns (`symbol` and `chain` join them) and the row
-- keeps of the meta only what no other row holds, in `meta`:
--   * raw captures, snapshots, risk evaluations, scores, gate decisions, AI outputs: the residual against
--     their typed row (usually NULL);
--   * observations, upserts, asset changes, risk flags, run events: the stored meta (copies of other
--     events cited by event id, see nl_domain::stored);
--   * free-form types (manual.note, experiment.tagged), and whatever the columns cannot rebuild: the whole
--     envelope as delivered, in `body`, as before. Rows written before this migration keep their body.
-- What a score copies (inputs, source count, provider raws) and a snapshot's source count get columns.
CREATE TABLE events_kept (
    seq          INTEGER PRIMARY KEY,
    event_id     TEXT NOT NULL UNIQUE,
    ts           TEXT NOT NULL,
    type         TEXT NOT NULL,
    run_id       TEXT NOT NULL,
    config_hash  TEXT NOT NULL,
    asset_id     TEXT,
    source       TEXT,
    symbol       TEXT,
    chain        TEXT,
    meta         TEXT,
    body         TEXT
);
INSERT INTO events_kept (seq, event_id, ts, type, run_id, config_hash, asset_id, source, symbol, chain, meta, body)
    SELECT seq, event_id, ts, type, run_id, config_hash, asset_id, source,
           CASE WHEN json_valid(body) THEN json_extract(body, '$.symbol') END,
           CASE WHEN json_valid(body) THEN json_extract(body, '$.chain') END,
           NULL, body
    FROM events ORDER BY seq;
DROP TABLE events;
ALTER TABLE events_kept RENAME TO events;
CREATE INDEX events_run_type ON events (run_id, type);

ALTER TABLE market_snapshots ADD COLUMN source_count INTEGER;
ALTER TABLE listing_scores ADD COLUMN inputs_json TEXT;
ALTER TABLE listing_scores ADD COLUMN source_count INTEGER;
ALTER TABLE listing_scores ADD COLUMN provider_raw_ids_json TEXT;
