-- Tables the services need beyond the runbook: the consumed-event log, gate decisions, runs, durable
-- source cursors, the transactional outbox, AI outputs, paper experiments and tunable settings.

-- Every envelope the ledger consumed. An INTEGER primary key keeps inserts append-only; the random
-- event id lives in a smaller UNIQUE index (random text primary keys are ~8x slower to insert).
CREATE TABLE events (
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
CREATE INDEX events_type ON events (type);
CREATE INDEX events_asset ON events (asset_id, ts) WHERE asset_id IS NOT NULL;

CREATE TABLE gate_decisions (
    id                 INTEGER PRIMARY KEY,
    event_id           TEXT NOT NULL UNIQUE,
    asset_id           TEXT NOT NULL,
    decision           TEXT NOT NULL CHECK (decision IN ('promoted', 'rejected')),
    reason_codes_json  TEXT NOT NULL,
    rule_set_version   TEXT NOT NULL,
    config_hash        TEXT NOT NULL,
    inputs_json        TEXT NOT NULL,
    decided_at         TEXT NOT NULL,
    run_id             TEXT NOT NULL
);
CREATE INDEX gate_decisions_latest ON gate_decisions (asset_id, decided_at, id);

CREATE TABLE runs (
    run_id         TEXT PRIMARY KEY NOT NULL,
    config_hash    TEXT NOT NULL,
    started_at     TEXT,
    finished_at    TEXT,
    dry_run        INTEGER NOT NULL DEFAULT 0 CHECK (dry_run IN (0, 1)),
    manifest_json  TEXT NOT NULL DEFAULT '{}',
    status         TEXT NOT NULL
);
CREATE INDEX runs_started ON runs (started_at);

CREATE TABLE source_cursors (
    source       TEXT PRIMARY KEY NOT NULL,
    cursor_json  TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    lease_rev    INTEGER
);

CREATE TABLE outbox (
    seq           INTEGER PRIMARY KEY,
    event_id      TEXT NOT NULL UNIQUE,
    subject       TEXT NOT NULL,
    body          TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    published_at  TEXT
);
CREATE INDEX outbox_pending ON outbox (seq) WHERE published_at IS NULL;

CREATE TABLE ai_outputs (
    id             INTEGER PRIMARY KEY,
    event_id       TEXT NOT NULL UNIQUE,
    asset_id       TEXT,
    layer          TEXT NOT NULL,
    model          TEXT,
    artifact_path  TEXT,
    body_json      TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    run_id         TEXT NOT NULL
);
CREATE INDEX ai_outputs_asset ON ai_outputs (asset_id, layer, created_at);

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

-- Tunables read by the views. The ledger overwrites them from its config on start.
CREATE TABLE settings (
    key    TEXT PRIMARY KEY NOT NULL,
    value  TEXT NOT NULL
);
INSERT INTO settings (key, value) VALUES ('new_window_minutes', '1440'), ('candidate_min_liquidity_usd', '10000');
