-- The learning book and the profit book (issue #18): paper orders, fills, positions, learning-budget
-- allocations, blocked signals, experiment specs and their runs, strategy runs with their settings.
-- Everything is paper: every trade table has paper_only = 1 by CHECK, and the two book tags with
-- CHECK ((learning_book = 1) = (experiment_id IS NOT NULL)), so a learning row without its experiment
-- (or a profit row with one) cannot be stored. The ledger is the only writer.
--
-- The old `experiments` table (never written: no event filled it) is retired; `experiment_specs` and the
-- trade tables' tags replace it, and the `experiment.tagged` event type is gone with it.
-- Order and fill ids derive from the signal and the book, not the run, so a backtest of the same input
-- gives the same ids: they are unique per run.
DROP TABLE experiments;

CREATE TABLE experiment_specs (
    experiment_id   TEXT PRIMARY KEY NOT NULL,
    version         INTEGER NOT NULL,
    spec_json       TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('draft', 'approved', 'running', 'paused', 'completed', 'aborted')),
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    spec_sha256     TEXT NOT NULL,
    -- Set when it first starts running; a spec whose hash differs is never run.
    frozen_at       TEXT,
    event_id        TEXT NOT NULL,
    learning_book   INTEGER NOT NULL DEFAULT 1 CHECK (learning_book = 1),
    paper_only      INTEGER NOT NULL DEFAULT 1 CHECK (paper_only = 1)
);

CREATE TABLE strategy_runs (
    run_id          TEXT PRIMARY KEY NOT NULL,
    mode            TEXT NOT NULL CHECK (mode IN ('paper', 'backtest')),
    settings_json   TEXT NOT NULL,
    source_run_id   TEXT,
    started_at      TEXT NOT NULL,
    ended_at        TEXT,
    status          TEXT NOT NULL DEFAULT 'running',
    paper_only      INTEGER NOT NULL DEFAULT 1 CHECK (paper_only = 1)
);

CREATE TABLE experiment_runs (
    id              INTEGER PRIMARY KEY,
    experiment_id   TEXT NOT NULL,
    run_id          TEXT NOT NULL,
    plan_id         TEXT,
    started_at      TEXT NOT NULL,
    ended_at        TEXT,
    UNIQUE (experiment_id, run_id)
);

CREATE TABLE orders (
    order_id         TEXT NOT NULL,
    event_id         TEXT NOT NULL UNIQUE,
    run_id           TEXT NOT NULL,
    asset_id         TEXT NOT NULL,
    side             TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    notional_usd     TEXT NOT NULL,
    intent           TEXT NOT NULL,
    signal_event_id  TEXT NOT NULL,
    decided_at       TEXT NOT NULL,
    learning_book    INTEGER NOT NULL CHECK (learning_book IN (0, 1)),
    experiment_id    TEXT,
    paper_only       INTEGER NOT NULL DEFAULT 1 CHECK (paper_only = 1),
    PRIMARY KEY (run_id, order_id),
    CHECK ((learning_book = 1) = (experiment_id IS NOT NULL))
);
CREATE INDEX orders_tags ON orders (learning_book, experiment_id);

CREATE TABLE fills (
    fill_id            TEXT NOT NULL,
    event_id           TEXT NOT NULL UNIQUE,
    order_id           TEXT NOT NULL,
    run_id             TEXT NOT NULL,
    asset_id           TEXT NOT NULL,
    side               TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    mark_price         TEXT NOT NULL,
    price              TEXT NOT NULL,
    quantity           TEXT NOT NULL,
    notional_usd       TEXT NOT NULL,
    fee_usd            TEXT NOT NULL,
    tax_usd            TEXT NOT NULL,
    gas_usd            TEXT NOT NULL,
    slippage_bps       TEXT NOT NULL,
    snapshot_event_id  TEXT NOT NULL,
    filled_at          TEXT NOT NULL,
    fill_model         TEXT NOT NULL,
    rng_seed           TEXT NOT NULL,
    assumptions_json   TEXT NOT NULL,
    learning_book      INTEGER NOT NULL CHECK (learning_book IN (0, 1)),
    experiment_id      TEXT,
    paper_only         INTEGER NOT NULL DEFAULT 1 CHECK (paper_only = 1),
    PRIMARY KEY (run_id, fill_id),
    CHECK ((learning_book = 1) = (experiment_id IS NOT NULL))
);
CREATE INDEX fills_tags ON fills (learning_book, experiment_id);

CREATE TABLE position_snapshots (
    id                  INTEGER PRIMARY KEY,
    event_id            TEXT NOT NULL UNIQUE,
    run_id              TEXT NOT NULL,
    position_id         TEXT NOT NULL,
    asset_id            TEXT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('open', 'closed')),
    quantity            TEXT NOT NULL,
    entry_notional_usd  TEXT NOT NULL,
    avg_entry_price     TEXT NOT NULL,
    mark_price          TEXT NOT NULL,
    unrealized_pnl_usd  TEXT NOT NULL,
    realized_pnl_usd    TEXT NOT NULL,
    fees_usd            TEXT NOT NULL,
    honeypot            INTEGER NOT NULL DEFAULT 0,
    ts                  TEXT NOT NULL,
    learning_book       INTEGER NOT NULL CHECK (learning_book IN (0, 1)),
    experiment_id       TEXT,
    paper_only          INTEGER NOT NULL DEFAULT 1 CHECK (paper_only = 1),
    CHECK ((learning_book = 1) = (experiment_id IS NOT NULL))
);
CREATE INDEX position_snapshots_tags ON position_snapshots (learning_book, experiment_id);
CREATE INDEX position_snapshots_position ON position_snapshots (position_id, ts);

CREATE TABLE risk_allocations (
    id                INTEGER PRIMARY KEY,
    event_id          TEXT NOT NULL UNIQUE,
    order_id          TEXT NOT NULL,
    run_id            TEXT NOT NULL,
    budget_day        TEXT NOT NULL,
    allocated_usd     TEXT NOT NULL,
    budget_used_usd   TEXT NOT NULL,
    budget_limit_usd  TEXT NOT NULL,
    learning_book     INTEGER NOT NULL CHECK (learning_book IN (0, 1)),
    experiment_id     TEXT,
    paper_only        INTEGER NOT NULL DEFAULT 1 CHECK (paper_only = 1),
    CHECK ((learning_book = 1) = (experiment_id IS NOT NULL))
);
CREATE INDEX risk_allocations_tags ON risk_allocations (learning_book, experiment_id);

CREATE TABLE block_events (
    id                 INTEGER PRIMARY KEY,
    event_id           TEXT NOT NULL UNIQUE,
    run_id             TEXT NOT NULL,
    asset_id           TEXT NOT NULL,
    side               TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    signal_event_id    TEXT NOT NULL,
    order_id           TEXT,
    reason_codes_json  TEXT NOT NULL,
    ts                 TEXT NOT NULL,
    learning_book      INTEGER NOT NULL CHECK (learning_book IN (0, 1)),
    experiment_id      TEXT,
    paper_only         INTEGER NOT NULL DEFAULT 1 CHECK (paper_only = 1),
    CHECK ((learning_book = 1) = (experiment_id IS NOT NULL))
);
CREATE INDEX block_events_tags ON block_events (learning_book, experiment_id);
CREATE INDEX block_events_run ON block_events (run_id);
