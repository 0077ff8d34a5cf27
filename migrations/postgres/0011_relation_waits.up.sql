-- Relations waiting for their targets. (migrations/sqlite and migrations/postgres hold the same
-- schema; change both together.)

-- relation_waits: a record whose relation could not be written because a related record is not
-- linked yet in its target pair (the whole list is then left as it is on both sides). When the
-- target pair links that record, the transaction storing the link queues the waiting record's
-- reconcile and deletes these rows, so the relation is written as soon as it can be.
--   pair, notion_page_id  the waiting record (its Notion page).
--   target_pair           the pair the relation points to.
--   target_id             the related record not linked yet: a Notion page id or an Airtable
--                         record id of the target pair.
--   created_at            when the wait was recorded (epoch ms).
CREATE TABLE relation_waits (
    pair           TEXT   NOT NULL,
    notion_page_id TEXT   NOT NULL,
    target_pair    TEXT   NOT NULL,
    target_id      TEXT   NOT NULL,
    created_at     BIGINT NOT NULL,
    PRIMARY KEY (pair, notion_page_id, target_pair, target_id)
);
-- Finding the records waiting for a target that was just linked.
CREATE INDEX relation_waits_target ON relation_waits (target_pair, target_id);
