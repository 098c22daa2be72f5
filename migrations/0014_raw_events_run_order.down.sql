-- Undoes 0014_raw_events_run_order.up.sql.
DROP INDEX IF EXISTS raw_events_run_observed;
