-- One writer per record at a time, across every job kind and replica, and a Notion page
-- create that cannot be doubled. (migrations/sqlite and migrations/postgres hold the same
-- schema; change both together.)

-- record_claims: who may write a record now (a lease per record), and when it was last written.
--   pair, record_key  the record: 'page:<Notion page id>' or 'row:<Airtable record id>'; a
--                     write claims every key it knows of its record, so that work that found
--                     the record by either side meets on one of them.
--   holder            who holds the claim, or held it last once released: the job's lease
--                     token, or a random id for work outside a job (the command line).
--   job_id            the holder's job: the claim lives only while that job runs under that
--                     lease token (a worker that dies or loses its lease frees its records with
--                     it). NULL outside a job.
--   expires_at        the claim holds until then at the latest (the only bound outside a job);
--                     0 once released.
--   touched           the claim clock (record_claim_clock.value) when the claim was last taken
--                     or released: a sweep that read the record before that value skips it,
--                     since another writer may have committed newer values after the read.
--   updated_at        when last taken or released (epoch ms), for pruning.
CREATE TABLE record_claims (
    pair        TEXT   NOT NULL,
    record_key  TEXT   NOT NULL,
    holder      TEXT   NOT NULL,
    job_id      BIGINT,
    expires_at  BIGINT NOT NULL,
    touched     BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (pair, record_key)
);
-- Releasing every claim of a holder when its work ends.
CREATE INDEX record_claims_holder ON record_claims (holder) WHERE expires_at > 0;
-- Pruning released claims.
CREATE INDEX record_claims_released ON record_claims (updated_at) WHERE expires_at = 0;

-- record_claim_clock: one row, a counter moved by every take and release of claims. Its value,
-- read before a sweep reads either side, orders that read against later writes without
-- comparing the clocks of different hosts. Taking the row also serializes claim transactions,
-- so that they cannot deadlock on each other's keys.
CREATE TABLE record_claim_clock (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value BIGINT  NOT NULL
);
INSERT INTO record_claim_clock (id, value) VALUES (1, 0);

-- notion_page_intents: a Notion page about to be created for an Airtable row (the Notion API
-- has no idempotency key, so a create must be announced before it is sent).
--   pair, airtable_record_id  the row; one intent per row: a second creator's insert conflicts,
--                             and it does not create.
--   holder                    who announced it (as record_claims.holder).
--   notion_page_id            the page, once Notion answered the create; NULL before (a crash
--                             in between leaves the page to be found by its row id).
--   created_at                when announced (epoch ms): until Notion's query shows pages this
--                             old, not finding the page does not prove it was never created.
-- Deleted in the transaction that stores the row's link.
CREATE TABLE notion_page_intents (
    pair               TEXT   NOT NULL,
    airtable_record_id TEXT   NOT NULL,
    holder             TEXT   NOT NULL,
    notion_page_id     TEXT,
    created_at         BIGINT NOT NULL,
    PRIMARY KEY (pair, airtable_record_id)
);
