-- Reverts 0001_initial.up.sql (drops every table; the data goes with them).
DROP TABLE IF EXISTS sweeps;
DROP TABLE IF EXISTS rate_limits;
DROP TABLE IF EXISTS notion_verification_tokens;
DROP TABLE IF EXISTS airtable_webhooks;
DROP TABLE IF EXISTS webhook_inbox;
DROP TABLE IF EXISTS sync_log;
DROP TABLE IF EXISTS record_links;
DROP TABLE IF EXISTS jobs;
