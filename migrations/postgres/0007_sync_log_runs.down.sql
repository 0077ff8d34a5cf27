-- Reverts 0007_sync_log_runs.up.sql.
DROP INDEX sync_log_run;
ALTER TABLE sync_log DROP COLUMN undoes;
ALTER TABLE sync_log DROP COLUMN run_id;
