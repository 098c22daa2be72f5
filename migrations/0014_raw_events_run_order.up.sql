-- A run's raw events in receive order (`nl rederive` streams them `WHERE run_id = ? ORDER BY observed_at,
-- raw_id`; listing the runs groups by run_id): without it each read scanned and sorted the whole table,
-- payloads included, before its first row. raw_id ties are rare, so SQLite sorts only within equal
-- observed_at ("temp b-tree for right part of order by") and the key stays small.
CREATE INDEX raw_events_run_observed ON raw_events (run_id, observed_at);
