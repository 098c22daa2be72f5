-- Known instruments of instrument-list sources (#16): one row per (source, venue instrument id), written
-- incrementally (only the rows a poll changed), instead of one JSON blob in source_cursors.cursor_json
-- (a 1M-instrument venue made a 150 MB row). The cursor keeps the rest of the source's state.
-- status: trading | pre_trading | halted | closed | other:<venue word>; missing: consecutive complete
-- snapshots without the id; baseline: 1 when part of a known asset (never reported new).
CREATE TABLE known_instruments (
    source         TEXT NOT NULL,
    instrument_id  TEXT NOT NULL,
    base           TEXT,
    status         TEXT NOT NULL,
    raw_status     TEXT NOT NULL DEFAULT '',
    scheduled_at   TEXT,
    first_seen     TEXT NOT NULL,
    removed        INTEGER NOT NULL DEFAULT 0,
    baseline       INTEGER NOT NULL DEFAULT 1,
    missing        INTEGER NOT NULL DEFAULT 0,
    link_chain     TEXT,
    link_address   TEXT,
    PRIMARY KEY (source, instrument_id)
) WITHOUT ROWID;
