-- The run's manifest as `runs/<run_id>/manifest.json` holds it (its events.jsonl byte range, code version,
-- effective config, source cursors), recorded by the ledger when the runtime writes the file, so that readers
-- that never see the out dir (the dashboard over gRPC) show it too. `manifest_json` keeps what the
-- `run.completed` event carried. NULL: no manifest was recorded (a distributed run, whose orchestrator does
-- not know the range; a run from before this migration).
ALTER TABLE runs ADD COLUMN run_manifest_json TEXT;
