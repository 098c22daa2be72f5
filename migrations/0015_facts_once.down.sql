-- Undoes 0015_facts_once.up.sql: every events row gets its config hash back, and every compact risk_flags
-- row its checks whole (each check's times from its pair, `null` `value`/`detail` put back).
UPDATE risk_flags SET flags_json = (
    SELECT json_group_array(json_insert(
               json_remove(c.value, '$.t'),
               '$.observed_at', json_extract(risk_flags.check_times_json, '$[' || COALESCE(json_extract(c.value, '$.t'), 0) || '][0]'),
               '$.expires_at', json_extract(risk_flags.check_times_json, '$[' || COALESCE(json_extract(c.value, '$.t'), 0) || '][1]'),
               '$.value', NULL,
               '$.detail', NULL))
    FROM json_each(risk_flags.flags_json) AS c
)
WHERE check_times_json IS NOT NULL;
ALTER TABLE risk_flags DROP COLUMN check_times_json;

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
    SELECT e.seq, e.event_id, e.ts, e.type, e.run_id, COALESCE(e.config_hash, c.config_hash), e.asset_id, e.source, e.symbol, e.chain, e.meta, e.body
    FROM events AS e LEFT JOIN run_configs AS c ON c.run_id = e.run_id ORDER BY e.seq;
DROP TABLE events;
ALTER TABLE events_kept RENAME TO events;
CREATE INDEX events_run_type ON events (run_id, type);
DROP TABLE run_configs;
