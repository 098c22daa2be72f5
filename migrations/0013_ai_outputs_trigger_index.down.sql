-- Undoes 0013_ai_outputs_trigger_index.up.sql (the answered check scans ai_outputs again).
DROP INDEX IF EXISTS ai_outputs_trigger;
