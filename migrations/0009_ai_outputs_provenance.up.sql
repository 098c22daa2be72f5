-- AI layers (L1-L4): every ai_outputs row records what produced it (prompt and schema version, the hashes
-- of its evidence pack and of its content-addressed artifact), its outcome and its cost, and the event
-- that triggered it. One row per artifact: the same artifact reached again (a cache hit) is not stored twice.
ALTER TABLE ai_outputs ADD COLUMN prompt_id TEXT;
ALTER TABLE ai_outputs ADD COLUMN prompt_sha256 TEXT;
ALTER TABLE ai_outputs ADD COLUMN schema_version TEXT;
ALTER TABLE ai_outputs ADD COLUMN input_sha256 TEXT;
ALTER TABLE ai_outputs ADD COLUMN artifact_sha256 TEXT;
ALTER TABLE ai_outputs ADD COLUMN status TEXT;
ALTER TABLE ai_outputs ADD COLUMN tokens_in INTEGER;
ALTER TABLE ai_outputs ADD COLUMN tokens_out INTEGER;
ALTER TABLE ai_outputs ADD COLUMN latency_ms INTEGER;
ALTER TABLE ai_outputs ADD COLUMN trigger_event_id TEXT;
CREATE UNIQUE INDEX ai_outputs_artifact ON ai_outputs (artifact_sha256);
