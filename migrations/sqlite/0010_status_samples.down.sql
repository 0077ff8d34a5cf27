-- Reverts 0010_status_samples.up.sql.
DROP TABLE IF EXISTS status_samples;
