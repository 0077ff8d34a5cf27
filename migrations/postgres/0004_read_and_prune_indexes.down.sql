-- Reverts 0004_read_and_prune_indexes.up.sql.
DROP INDEX record_links_pair_state;
DROP INDEX sync_log_pair_conflicts;
CREATE INDEX jobs_done_finished_at ON jobs (finished_at) WHERE state = 'done';
DROP INDEX jobs_state_finished_at;
DROP INDEX jobs_state_id;
DROP INDEX webhook_inbox_source_received_at;
