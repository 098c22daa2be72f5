-- The "answered" check (#17): ai-dispatch asks which layers already have an AI output for a trigger event
-- (`SELECT DISTINCT layer FROM ai_outputs WHERE trigger_event_id = ?`) before every job; without an index
-- that scans the whole table. (trigger_event_id, layer) answers it from the index alone.
CREATE INDEX ai_outputs_trigger ON ai_outputs (trigger_event_id, layer);
