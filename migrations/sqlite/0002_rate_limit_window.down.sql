-- Reverts 0002_rate_limit_window.up.sql.
ALTER TABLE rate_limits DROP COLUMN recent;
