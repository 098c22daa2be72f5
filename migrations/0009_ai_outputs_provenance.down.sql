-- Back to the 0002 ai_outputs columns (the provenance columns and their index are dropped).
DROP INDEX ai_outputs_artifact;
ALTER TABLE ai_outputs DROP COLUMN trigger_event_id;
ALTER TABLE ai_outputs DROP COLUMN latency_ms;
ALTER TABLE ai_outputs DROP COLUMN tokens_out;
ALTER TABLE ai_outputs DROP COLUMN tokens_in;
ALTER TABLE ai_outputs DROP COLUMN status;
ALTER TABLE ai_outputs DROP COLUMN artifact_sha256;
ALTER TABLE ai_outputs DROP COLUMN input_sha256;
ALTER TABLE ai_outputs DROP COLUMN schema_version;
ALTER TABLE ai_outputs DROP COLUMN prompt_sha256;
ALTER TABLE ai_outputs DROP COLUMN prompt_id;
