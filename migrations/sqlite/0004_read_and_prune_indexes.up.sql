-- Indexes for every query the status page, the admin API, /metrics and the pruning schedule
-- run, so that none of them reads a whole growing table (webhook_inbox, sync_log, jobs).
-- tests/store_contract/pruning.rs checks the plans on both backends with tables of realistic size.

-- The newest event of a source (the status page's "last event received"): one index entry.
CREATE INDEX webhook_inbox_source_received_at ON webhook_inbox (source, received_at);

-- Jobs in one state, newest first (the dead jobs on the status page, /api/jobs?state=).
CREATE INDEX jobs_state_id ON jobs (state, id);

-- Pruning done jobs by age: (state, finished_at) serves `state = 'done' AND finished_at < ?`
-- whatever the planner's statistics, which the partial index of 0001 did not always.
CREATE INDEX jobs_state_finished_at ON jobs (state, finished_at);
DROP INDEX jobs_done_finished_at;

-- The conflicts of one pair, newest first (/api/conflicts?pair=).
CREATE INDEX sync_log_pair_conflicts ON sync_log (pair, id) WHERE conflict;

-- Links per pair and state (the status page's pair cards): counted from the index alone.
CREATE INDEX record_links_pair_state ON record_links (pair, state);
