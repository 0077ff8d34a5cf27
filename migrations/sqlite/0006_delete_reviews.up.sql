-- delete_reviews: the delete review queue (`review_deletes`). A delete or trash that a pair's
-- policy wants (`on_notion_trash = "delete"`, `on_airtable_delete = "trash"`) is not made at
-- once: it is recorded here, and waits for an operator's approval (`deletes approve`, the API,
-- the status page). (migrations/sqlite and migrations/postgres hold the same schema.)
--   id                  the entry's number, what `deletes approve ID` takes
--   pair                the pair's name
--   notion_page_id      the record's Notion page
--   airtable_record_id  the record's Airtable row (NULL when none was known)
--   action              what would be deleted: 'delete_airtable_row' (the page was trashed or
--                       moved out) or 'trash_notion_page' (the row was deleted)
--   reason              why the policy wants it, for the operator
--   state               'pending' (waiting), 'approved' (the engine makes it on its next run),
--                       'rejected' (never made for this event; the link is left as the ignore
--                       policy leaves it), 'cleared' (the record came back, or there was
--                       nothing left to delete), 'done' (made through the engine)
--   detected_at         when the delete was first held (epoch ms)
--   detected_job_id     the job that held it (NULL from the command line)
--   decided_at          when an operator approved or rejected it (epoch ms)
--   decided_by          how: 'command line', 'api', 'status page'
--   decision_job_id     the reconcile job the decision enqueued
--   closed_at           when the entry stopped applying (done, cleared, or a rejected entry
--                       whose record came back); NULL while open
--   outcome             what closed it, for the operator
-- At most one open entry per record and action: a rerun or a second replica holding the same
-- delete inserts nothing (the unique index below).
CREATE TABLE delete_reviews (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    pair               TEXT    NOT NULL,
    notion_page_id     TEXT    NOT NULL,
    airtable_record_id TEXT,
    action             TEXT    NOT NULL CHECK (action IN ('delete_airtable_row', 'trash_notion_page')),
    reason             TEXT    NOT NULL,
    state              TEXT    NOT NULL
                       CHECK (state IN ('pending', 'approved', 'rejected', 'cleared', 'done')),
    detected_at        INTEGER NOT NULL,
    detected_job_id    INTEGER,
    decided_at         INTEGER,
    decided_by         TEXT,
    decision_job_id    INTEGER,
    closed_at          INTEGER,
    outcome            TEXT
);
CREATE UNIQUE INDEX delete_reviews_open
    ON delete_reviews (pair, notion_page_id, action) WHERE closed_at IS NULL;
-- The queue as listed (by state, newest first) and the pending count.
CREATE INDEX delete_reviews_state ON delete_reviews (state, id);
