-- What the status page draws for the last 24 hours, besides what the sync log already holds.
-- (migrations/sqlite and migrations/postgres hold the same schema; change both together.)

-- status_samples: one measurement at one time, kept two days (pruned by `serve`).
--   series  what was measured:
--             'lag_to_notion', 'lag_to_airtable'  a webhook's edit reached the other side after
--                                                 `value` ms (from the job's creation, when the
--                                                 first event of the burst was received, to the
--                                                 job's end), one sample per side written;
--             'queue_due'                         pending jobs that were due, sampled each minute
--                                                 by every replica that runs workers.
--   at      when (epoch ms).
--   value   the measurement (ms or a count).
CREATE TABLE status_samples (
    series TEXT   NOT NULL,
    at     BIGINT NOT NULL,
    value  BIGINT NOT NULL
);
-- The charts read one series over a day; pruning deletes by time.
CREATE INDEX status_samples_series_at ON status_samples (series, at);
CREATE INDEX status_samples_at ON status_samples (at);
