-- Back to the pre-runbook names (see the up migration). Scores go back to TEXT (a REAL's text form);
-- venue_type, decimals and tags_json are dropped.
DROP VIEW v_assets_candidates;
DROP VIEW v_assets_new;
DROP VIEW v_latest_decision;
DROP VIEW v_latest_score;
DROP VIEW v_latest_risk;
DROP VIEW v_latest_snapshot;

CREATE TABLE listing_scores_v6 (
    id               INTEGER PRIMARY KEY,
    event_id         TEXT NOT NULL UNIQUE,
    asset_id         TEXT NOT NULL,
    computed_at      TEXT NOT NULL,
    score            TEXT NOT NULL,
    breakdown_json   TEXT NOT NULL,
    reason           TEXT NOT NULL,
    formula_version  TEXT NOT NULL,
    run_id           TEXT NOT NULL,
    config_hash      TEXT NOT NULL,
    inputs_json TEXT,
    source_count INTEGER,
    provider_raw_ids_json TEXT
);
INSERT INTO listing_scores_v6 (id, event_id, asset_id, computed_at, score, breakdown_json, reason, formula_version, run_id, config_hash,
                               inputs_json, source_count, provider_raw_ids_json)
    SELECT id, event_id, asset_id, ts, CAST(score AS TEXT), breakdown_json, reason, formula_version, run_id, config_hash,
           inputs_json, source_count, provider_raw_ids_json
    FROM listing_scores ORDER BY id;
DROP TABLE listing_scores;
ALTER TABLE listing_scores_v6 RENAME TO listing_scores;
CREATE INDEX listing_scores_latest ON listing_scores (asset_id, computed_at, id);

ALTER TABLE risk_flags RENAME COLUMN flags_json TO checks_json;
ALTER TABLE risk_flags RENAME COLUMN ts TO evaluated_at;

ALTER TABLE market_snapshots RENAME COLUMN fdv TO fdv_usd;
ALTER TABLE market_snapshots RENAME COLUMN price TO price_usd;
ALTER TABLE market_snapshots RENAME COLUMN ts TO observed_at;

ALTER TABLE assets DROP COLUMN tags_json;
ALTER TABLE assets DROP COLUMN decimals;
ALTER TABLE assets RENAME COLUMN contract_address TO address;

ALTER TABLE raw_events DROP COLUMN venue_type;
ALTER TABLE raw_events RENAME COLUMN payload_json TO payload;

-- One latest row per asset: latest by time, ties broken by the higher id (the later insert).

CREATE VIEW v_latest_snapshot AS
SELECT s.* FROM market_snapshots AS s
WHERE s.id = (SELECT s2.id FROM market_snapshots AS s2 WHERE s2.asset_id = s.asset_id
              ORDER BY s2.observed_at DESC, s2.id DESC LIMIT 1);

CREATE VIEW v_latest_risk AS
SELECT r.* FROM risk_flags AS r
WHERE r.id = (SELECT r2.id FROM risk_flags AS r2 WHERE r2.asset_id = r.asset_id
              ORDER BY r2.evaluated_at DESC, r2.id DESC LIMIT 1);

CREATE VIEW v_latest_score AS
SELECT c.* FROM listing_scores AS c
WHERE c.id = (SELECT c2.id FROM listing_scores AS c2 WHERE c2.asset_id = c.asset_id
              ORDER BY c2.computed_at DESC, c2.id DESC LIMIT 1);

CREATE VIEW v_latest_decision AS
SELECT d.* FROM gate_decisions AS d
WHERE d.id = (SELECT d2.id FROM gate_decisions AS d2 WHERE d2.asset_id = d.asset_id
              ORDER BY d2.decided_at DESC, d2.id DESC LIMIT 1);

-- New: first seen within settings.new_window_minutes of now, or not yet reviewed.
CREATE VIEW v_assets_new AS
SELECT a.* FROM assets AS a
WHERE a.reviewed_at IS NULL
   OR a.first_seen_at >= strftime('%Y-%m-%dT%H:%M:%fZ', 'now',
        printf('-%d minutes', COALESCE((SELECT CAST(value AS INTEGER) FROM settings WHERE key = 'new_window_minutes'), 1440)));

-- Candidates: the LATEST gate decision is promoted and the latest snapshot meets the minimum
-- liquidity (settings.candidate_min_liquidity_usd). Unknown liquidity never qualifies.
CREATE VIEW v_assets_candidates AS
SELECT a.*,
       d.event_id       AS decision_event_id,
       d.decided_at     AS promoted_at,
       d.reason_codes_json AS promoted_reason_codes_json,
       s.liquidity_usd  AS latest_liquidity_usd,
       s.price_usd      AS latest_price_usd,
       s.fdv_usd        AS latest_fdv_usd,
       s.volume_24h_usd AS latest_volume_24h_usd,
       s.observed_at    AS latest_snapshot_at,
       c.score          AS latest_score,
       c.computed_at    AS latest_score_at
FROM assets AS a
JOIN v_latest_decision AS d ON d.asset_id = a.asset_id AND d.decision = 'promoted'
JOIN v_latest_snapshot AS s ON s.asset_id = a.asset_id
LEFT JOIN v_latest_score AS c ON c.asset_id = a.asset_id
WHERE s.liquidity_usd IS NOT NULL
  AND CAST(s.liquidity_usd AS REAL) >=
      COALESCE((SELECT CAST(value AS REAL) FROM settings WHERE key = 'candidate_min_liquidity_usd'), 0);
