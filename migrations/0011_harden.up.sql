-- Hardening (#16).
-- raw_events.payload_encoding: NULL when payload_json is the body as received; 'base64' when the body was
-- not valid UTF-8 and payload_json holds its exact bytes base64-encoded (never U+FFFD replacements).
ALTER TABLE raw_events ADD COLUMN payload_encoding TEXT;
