ALTER TABLE runs DROP COLUMN run_manifest_json;
