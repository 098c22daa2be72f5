-- Runbook tables. Times are RFC 3339 UTC with milliseconds (sortable TEXT); decimals are exact TEXT.

CREATE TABLE raw_events (
    raw_id        TEXT PRIMARY KEY NOT NULL,
    source        TEXT NOT NULL,
    endpoint      TEXT NOT NULL,
    http_status   INTEGER,
    observed_at   TEXT NOT NULL,
    content_hash  TEXT NOT NULL,
    payload       TEXT NOT NULL,
    parse_error   TEXT,
    run_id        TEXT NOT NULL,
    inserted_at   TEXT NOT NULL
);
CREATE INDEX raw_events_source_observed ON raw_events (source, observed_at);

CREATE TABLE assets (
    asset_id       TEXT PRIMARY KEY NOT NULL,
    symbol         TEXT NOT NULL,
    name           TEXT,
    chain          TEXT,
    address        TEXT,
    kind           TEXT NOT NULL CHECK (kind IN ('cex', 'dex')),
    first_seen_at  TEXT NOT NULL,
    first_source   TEXT NOT NULL,
    last_seen_at   TEXT NOT NULL,
    sources_json   TEXT NOT NULL DEFAULT '[]',
    status         TEXT NOT NULL,
    reviewed_at    TEXT,
    updated_at     TEXT NOT NULL,
    run_id         TEXT NOT NULL
);
CREATE INDEX assets_first_seen ON assets (first_seen_at);

CREATE TABLE market_snapshots (
    id              INTEGER PRIMARY KEY,
    event_id        TEXT NOT NULL UNIQUE,
    asset_id        TEXT NOT NULL,
    observed_at     TEXT NOT NULL,
    source          TEXT NOT NULL,
    price_usd       TEXT,
    fdv_usd         TEXT,
    market_cap_usd  TEXT,
    liquidity_usd   TEXT,
    volume_24h_usd  TEXT,
    holders         INTEGER,
    age_minutes     INTEGER,
    raw_event_id    TEXT,
    run_id          TEXT NOT NULL
);
CREATE INDEX market_snapshots_latest ON market_snapshots (asset_id, observed_at, id);

CREATE TABLE risk_flags (
    id                  INTEGER PRIMARY KEY,
    event_id            TEXT NOT NULL UNIQUE,
    asset_id            TEXT NOT NULL,
    evaluated_at        TEXT NOT NULL,
    rule_set_version    TEXT NOT NULL,
    severity            INTEGER NOT NULL,
    checks_json         TEXT NOT NULL,
    disagreements_json  TEXT NOT NULL,
    run_id              TEXT NOT NULL,
    config_hash         TEXT NOT NULL
);
CREATE INDEX risk_flags_latest ON risk_flags (asset_id, evaluated_at, id);

CREATE TABLE listing_scores (
    id               INTEGER PRIMARY KEY,
    event_id         TEXT NOT NULL UNIQUE,
    asset_id         TEXT NOT NULL,
    computed_at      TEXT NOT NULL,
    score            TEXT NOT NULL,
    breakdown_json   TEXT NOT NULL,
    reason           TEXT NOT NULL,
    formula_version  TEXT NOT NULL,
    run_id           TEXT NOT NULL,
    config_hash      TEXT NOT NULL
);
CREATE INDEX listing_scores_latest ON listing_scores (asset_id, computed_at, id);
