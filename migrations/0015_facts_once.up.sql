-- Store each fact once (#14), two repeats fewer:
--   * `events.config_hash` repeated the run's config hash (64 bytes) on every row, ~10 rows per listing. A run
--     has one config: `run_configs` keeps it once per run_id (the first hash the ledger sees for it), and an
--     events row keeps `config_hash` only when it differs from its run's (NULL otherwise). Readers take
--     COALESCE(events.config_hash, run_configs.config_hash).
--   * `risk_flags.flags_json` repeated each provider report's `observed_at` and `expires_at` on every check
--     (about 70 bytes a check, 15 checks). The distinct pairs are now listed once in `check_times_json`
--     and each check names its pair by index (`"t"`, absent for the first; a `null` `value` or `detail` is
--     omitted), the compact form events.jsonl already uses. `check_times_json` NULL: `flags_json` holds
--     the checks whole (rows stored before this migration). Readers of the ledger get whole checks back.
CREATE TABLE run_configs (
    run_id       TEXT PRIMARY KEY NOT NULL,
    config_hash  TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO run_configs (run_id, config_hash) SELECT run_id, MIN(config_hash) FROM events GROUP BY run_id;

CREATE TABLE events_v15 (
    seq          INTEGER PRIMARY KEY,
    event_id     TEXT NOT NULL UNIQUE,
    ts           TEXT NOT NULL,
    type         TEXT NOT NULL,
    run_id       TEXT NOT NULL,
    config_hash  TEXT,
    asset_id     TEXT,
    source       TEXT,
    symbol       TEXT,
    chain        TEXT,
    meta         TEXT,
    body         TEXT
);
INSERT INTO events_v15 (seq, event_id, ts, type, run_id, config_hash, asset_id, source, symbol, chain, meta, body)
    SELECT e.seq, e.event_id, e.ts, e.type, e.run_id, NULLIF(e.config_hash, c.config_hash), e.asset_id, e.source, e.symbol, e.chain, e.meta, e.body
    FROM events AS e JOIN run_configs AS c ON c.run_id = e.run_id ORDER BY e.seq;
DROP TABLE events;
ALTER TABLE events_v15 RENAME TO events;
CREATE INDEX events_run_type ON events (run_id, type);

ALTER TABLE risk_flags ADD COLUMN check_times_json TEXT;
