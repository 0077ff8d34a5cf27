-- sync_issues: what the service could not do and keeps reporting until it
-- can (status page, /api/issues, /metrics, log). One row per open issue;
-- clearing an issue deletes its row.
--   pair          the pair's name
--   scope         'pair' (e.g. a missing Notion capability), 'field' (a mapped
--                 field stopped by schema drift) or 'record' (a value a side
--                 refused, a link cell that is not a Notion id)
--   subject       what the issue is about: the mapping's Notion property name
--                 for a field, the page or row id for a record, a short code
--                 for a pair
--   field         the field concerned within a record issue ('' when none)
--   message       what is wrong and what to do, for an operator
--   first_seen_at when it was first raised (epoch ms)
--   last_seen_at  when it was last raised again (epoch ms)
CREATE TABLE sync_issues (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    pair          TEXT    NOT NULL,
    scope         TEXT    NOT NULL CHECK (scope IN ('pair', 'field', 'record')),
    subject       TEXT    NOT NULL,
    field         TEXT    NOT NULL DEFAULT '',
    message       TEXT    NOT NULL,
    first_seen_at INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    UNIQUE (pair, scope, subject, field)
);
