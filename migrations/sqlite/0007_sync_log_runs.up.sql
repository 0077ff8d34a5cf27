-- Runs and undo in the sync log: every line names the engine run that wrote it, so that
-- `undo --run RUN_ID` can find a run's changes, and an undo's lines name what they undid.
-- (migrations/sqlite and migrations/postgres hold the same schema; change both together.)

-- sync_log.run_id   the engine run that logged the line: 'job-<id>' for a job (every attempt
--                   of one job is one run), 'run-<12 hex>' for a command-line reconcile or
--                   undo, or an undo started from the status page or the admin API. NULL on
--                   lines written before this migration.
-- sync_log.undoes   on a line of cause 'undo': the id of the newest entry it undid (the
--                   field went back to the oldest old value of the entries undone). NULL
--                   otherwise.
ALTER TABLE sync_log ADD COLUMN run_id TEXT;
ALTER TABLE sync_log ADD COLUMN undoes BIGINT;

-- A run's lines, in order (`undo --run`, `log --run`, `/api/log?run=`).
CREATE INDEX sync_log_run ON sync_log (run_id, id);
