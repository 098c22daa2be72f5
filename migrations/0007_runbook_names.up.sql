-- The runbook's data contract (seed section 2.1), exactly: every runbook table has at least the runbook's
-- columns under the runbook's names. Renames keep the data; the other runbook columns are added:
--   raw_events.payload            -> payload_json;  + venue_type ('CEX' or 'DEX', from the source's kind)
--   assets.address                -> contract_address;  + decimals, tags_json
--   market_snapshots.observed_at  -> ts;  price_usd -> price;  fdv_usd -> fdv
--   risk_flags.evaluated_at       -> ts;  checks_json -> flags_json (every rule check with its verdict)
--   listing_scores.computed_at    -> ts;  score TEXT -> REAL (ORDER BY score is numeric)
-- The views read the renamed columns, so they are dropped first and created again over the new names.
DROP VIEW v_assets_candidates;
DROP VIEW v_assets_new;
DROP VIEW v_latest_decision;
DROP VIEW v_latest_score;
DROP VIEW v_latest_risk;
DROP VIEW v_latest_snapshot;

ALTER TABLE raw_events RENAME COLUMN payload TO payload_json;
ALTER TABLE raw_events ADD COLUMN venue_type TEXT CHECK (venue_type IN ('CEX', 'DEX'));

ALTER TABLE assets RENAME COLUMN address TO contract_address;
ALTER TABLE assets ADD COLUMN decimals INTEGER;
ALTER TABLE assets ADD COLUMN tags_json TEXT NOT NULL DEFAULT '[]';
-- The rule tags the ledger derives from the sightings (nl_ledger::tags), for rows stored before; risk tags
-- follow with the asset's next risk evaluation.
UPDATE assets SET tags_json = (
    SELECT json_group_array(t) FROM (
        SELECT t FROM (
            SELECT assets.kind AS t
            UNION SELECT json_extract(s.value, '$.kind') FROM json_each(assets.sources_json) AS s
            UNION SELECT 'multi_source'
                WHERE (SELECT COUNT(DISTINCT json_extract(s.value, '$.source')) FROM json_each(assets.sources_json) AS s) > 1
            UNION SELECT 'cex_and_dex'
                WHERE EXISTS (SELECT 1 FROM json_each(assets.sources_json) AS s WHERE json_extract(s.value, '$.kind') IN ('dex_pool', 'token_profile'))
                  AND EXISTS (SELECT 1 FROM json_each(assets.sources_json) AS s WHERE json_extract(s.value, '$.kind') NOT IN ('dex_pool', 'token_profile'))
        ) ORDER BY t
    )
);

ALTER TABLE market_snapshots RENAME COLUMN observed_at TO ts;
ALTER TABLE market_snapshots RENAME COLUMN price_usd TO price;
ALTER TABLE market_snapshots RENAME COLUMN fdv_usd TO fdv;

ALTER TABLE risk_flags RENAME COLUMN evaluated_at TO ts;
ALTER TABLE risk_flags RENAME COLUMN checks_json TO flags_json;

-- A column's type cannot be altered in place: rebuild listing_scores with a REAL score.
CREATE TABLE listing_scores_v7 (
    id                     INTEGER PRIMARY KEY,
    event_id               TEXT NOT NULL UNIQUE,
    asset_id               TEXT NOT NULL,
    ts                     TEXT NOT NULL,
    score                  REAL NOT NULL,
    breakdown_json         TEXT NOT NULL,
    reason                 TEXT NOT NULL,
    formula_version        TEXT NOT NULL,
    run_id                 TEXT NOT NULL,
    config_hash            TEXT NOT NULL,
    inputs_json            TEXT,
    source_count           INTEGER,
    provider_raw_ids_json  TEXT
);
INSERT INTO listing_scores_v7 (id, event_id, asset_id, ts, score, breakdown_json, reason, formula_version, run_id, config_hash,
                               inputs_json, source_count, provider_raw_ids_json)
    SELECT id, event_id, asset_id, computed_at, CAST(score AS REAL), breakdown_json, reason, formula_version, run_id, config_hash,
           inputs_json, source_count, provider_raw_ids_json
    FROM listing_scores ORDER BY id;
DROP TABLE listing_scores;
ALTER TABLE listing_scores_v7 RENAME TO listing_scores;
CREATE INDEX listing_scores_latest ON listing_scores (asset_id, ts, id);

-- One latest row per asset: latest by time, ties broken by the higher id (the later insert).
CREATE VIEW v_latest_snapshot AS
SELECT s.* FROM market_snapshots AS s
WHERE s.id = (SELECT s2.id FROM market_snapshots AS s2 WHERE s2.asset_id = s.asset_id
              ORDER BY s2.ts DESC, s2.id DESC LIMIT 1);

CREATE VIEW v_latest_risk AS
SELECT r.* FROM risk_flags AS r
WHERE r.id = (SELECT r2.id FROM risk_flags AS r2 WHERE r2.asset_id = r.asset_id
              ORDER BY r2.ts DESC, r2.id DESC LIMIT 1);

CREATE VIEW v_latest_score AS
SELECT c.* FROM listing_scores AS c
WHERE c.id = (SELECT c2.id FROM listing_scores AS c2 WHERE c2.asset_id = c.asset_id
              ORDER BY c2.ts DESC, c2.id DESC LIMIT 1);

CREATE VIEW v_latest_decision AS
SELECT d.* FROM gate_decisions AS d
WHERE d.id = (SELECT d2.id FROM gate_decisions AS d2 WHERE d2.asset_id = d.asset_id
              ORDER BY d2.decided_at DESC, d2.id DESC LIMIT 1);

-- New (runbook 2.2): first seen within settings.new_window_minutes of now, or not yet reviewed
-- (`asset.reviewed` sets reviewed_at).
CREATE VIEW v_assets_new AS
SELECT a.* FROM assets AS a
WHERE a.reviewed_at IS NULL
   OR a.first_seen_at >= strftime('%Y-%m-%dT%H:%M:%fZ', 'now',
        printf('-%d minutes', COALESCE((SELECT CAST(value AS INTEGER) FROM settings WHERE key = 'new_window_minutes'), 1440)));

-- Candidates: the LATEST gate decision is promoted (passed L5) and the latest snapshot meets the minimum
-- liquidity (settings.candidate_min_liquidity_usd). Unknown liquidity never qualifies.
CREATE VIEW v_assets_candidates AS
SELECT a.*,
       d.event_id          AS decision_event_id,
       d.decided_at        AS promoted_at,
       d.reason_codes_json AS promoted_reason_codes_json,
       s.liquidity_usd     AS latest_liquidity_usd,
       s.price             AS latest_price,
       s.fdv               AS latest_fdv,
       s.volume_24h_usd    AS latest_volume_24h_usd,
       s.ts                AS latest_snapshot_at,
       c.score             AS latest_score,
       c.ts                AS latest_score_at
FROM assets AS a
JOIN v_latest_decision AS d ON d.asset_id = a.asset_id AND d.decision = 'promoted'
JOIN v_latest_snapshot AS s ON s.asset_id = a.asset_id
LEFT JOIN v_latest_score AS c ON c.asset_id = a.asset_id
WHERE s.liquidity_usd IS NOT NULL
  AND CAST(s.liquidity_usd AS REAL) >=
      COALESCE((SELECT CAST(value AS REAL) FROM settings WHERE key = 'candidate_min_liquidity_usd'), 0);
