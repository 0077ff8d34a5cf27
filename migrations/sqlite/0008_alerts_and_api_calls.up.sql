-- API calls counted per vendor scope and hour (the monthly quota, the status page's charts), and
-- the alerts sent to ALERT_WEBHOOK_URL. (migrations/sqlite and migrations/postgres hold the same
-- schema; change both together.)

-- api_calls: API requests that got an answer, added in batches by each process's counter.
--   vendor   'notion' or 'airtable'.
--   scope    what the vendor counts by: the Airtable base id, or the Notion integration (the
--            first hex digits of its token's SHA-256, as its rate budget is named).
--   hour     the start of the UTC hour the calls were made in (epoch ms).
--   calls    answers received (any status) in that hour.
--   refused  of which 401 or 403 (the token refused).
CREATE TABLE api_calls (
    vendor   TEXT   NOT NULL,
    scope    TEXT   NOT NULL,
    hour     BIGINT NOT NULL,
    calls    BIGINT NOT NULL DEFAULT 0,
    refused  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (vendor, scope, hour)
);
-- The charts and the month's totals read by hour across scopes.
CREATE INDEX api_calls_by_hour ON api_calls (hour);

-- api_access: the latest answers of each vendor scope, for the "token refused" alert.
--   last_ok_at       the newest answer that was not a 401 or 403 (epoch ms; 0: none yet).
--   last_refused_at  the newest 401 or 403 (0: none yet); refused now when it is the newer.
--   refused_status   that answer's status.
CREATE TABLE api_access (
    vendor           TEXT    NOT NULL,
    scope            TEXT    NOT NULL,
    last_ok_at       BIGINT  NOT NULL DEFAULT 0,
    last_refused_at  BIGINT  NOT NULL DEFAULT 0,
    refused_status   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (vendor, scope)
);

-- alert_states: one row per alert condition ever seen, shared by every replica.
--   condition       the condition's key, e.g. 'dead_jobs', 'schema_drift:specs'.
--   announced       what the receiver was last told: 'started' or 'cleared'. Changing it is the
--                   claim on a message: a conditional update that one replica wins.
--   last_started_at when a 'started' message was last queued (at most one per hour).
--   observed_since  since when the condition has been seen without a break (a condition that
--                   must last a while before it starts, e.g. a rate-limit pause); NULL: not seen.
--   pair            the pair it concerns, if one.
--   detail          what was last seen (the clear message repeats it).
--   updated_at      the last evaluation that changed the row.
CREATE TABLE alert_states (
    condition        TEXT   NOT NULL PRIMARY KEY,
    pair             TEXT,
    detail           TEXT   NOT NULL DEFAULT '',
    announced        TEXT   NOT NULL DEFAULT 'cleared',
    last_started_at  BIGINT,
    observed_since   BIGINT,
    updated_at       BIGINT NOT NULL
);

-- alert_outbox: messages owed to ALERT_WEBHOOK_URL, queued with the claim that decided them, so a
-- replica that dies before delivering leaves them to another.
--   body             the JSON sent (never a secret).
--   attempts         deliveries tried; next_attempt_at when the next may go (exponential
--                    backoff; also a short lease while one replica delivers).
--   delivered_at     when the receiver answered 2xx; NULL while owed.
--   last_error       the last failed delivery (status or transport error, never the URL).
CREATE TABLE alert_outbox (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    condition        TEXT    NOT NULL,
    state            TEXT    NOT NULL,
    body             TEXT    NOT NULL,
    created_at       BIGINT  NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT  NOT NULL,
    delivered_at     BIGINT,
    last_error       TEXT
);
CREATE INDEX alert_outbox_owed ON alert_outbox (next_attempt_at) WHERE delivered_at IS NULL;
