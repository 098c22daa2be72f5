-- Undoes 0011_harden.up.sql.
ALTER TABLE raw_events DROP COLUMN payload_encoding;
