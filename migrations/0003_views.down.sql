DROP VIEW IF EXISTS v_assets_candidates;
DROP VIEW IF EXISTS v_assets_new;
DROP VIEW IF EXISTS v_latest_decision;
DROP VIEW IF EXISTS v_latest_score;
DROP VIEW IF EXISTS v_latest_risk;
DROP VIEW IF EXISTS v_latest_snapshot;
