DROP TABLE IF EXISTS listing_scores;
DROP TABLE IF EXISTS risk_flags;
DROP TABLE IF EXISTS market_snapshots;
DROP TABLE IF EXISTS assets;
DROP TABLE IF EXISTS raw_events;
