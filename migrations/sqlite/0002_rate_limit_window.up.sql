-- rate_limits.recent: the start times (epoch ms, comma-separated, ascending)
-- of a windowed budget's last calls, e.g. Airtable's five calls in any
-- second: every replica reserves its slots from this one log.
ALTER TABLE rate_limits ADD COLUMN recent TEXT NOT NULL DEFAULT '';
