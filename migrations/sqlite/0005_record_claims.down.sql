-- Reverts 0005_record_claims.up.sql.
DROP TABLE IF EXISTS notion_page_intents;
DROP TABLE IF EXISTS record_claim_clock;
DROP TABLE IF EXISTS record_claims;
