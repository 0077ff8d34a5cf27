-- Reverts 0008_alerts_and_api_calls.up.sql.
DROP TABLE IF EXISTS alert_outbox;
DROP TABLE IF EXISTS alert_states;
DROP TABLE IF EXISTS api_access;
DROP TABLE IF EXISTS api_calls;
