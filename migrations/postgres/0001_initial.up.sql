-- notion-airtable-sync: the initial schema, Postgres flavour.
--
-- migrations/sqlite/0001_initial.up.sql holds the same schema for SQLite: the same tables,
-- columns, constraints and indexes with the same meaning; only the spelling of a few types
-- differs. Change both files together: one contract test suite (tests/store_contract.rs) runs
-- the same store code against both.
--
-- Conventions (both backends):
--   * times are BIGINT milliseconds since the Unix epoch (UTC), named *_at / *_until;
--   * JSON is TEXT holding a JSON document (SQLite has no JSON type; Postgres keeps the same
--     TEXT so that both behave identically);
--   * booleans are BOOLEAN (SQLite stores 0/1);
--   * enumerations are TEXT in snake_case; the accepted values are listed below.
--
-- Tables:
--   jobs                        durable work queue: one row per unit of work (reconcile one record,
--                               fetch an Airtable webhook's payloads, a sweep). Leased by workers.
--                               state: pending -> running -> done | dead (running -> pending on retry).
--                               At most one pending and one running job per key (coalescing).
--   record_links                one row per linked Notion page <-> Airtable record, per pair, with
--                               the snapshot (mapped field -> canonical value as last synced) that
--                               the three-way merge and the echo check compare against.
--   sync_log                    append-only log of every change the service made or refused
--                               (conflicts with both values and the winner).
--   webhook_inbox               one row per webhook event received, keyed (source, event_id): the
--                               de-duplication record written in the same transaction as the jobs.
--   airtable_webhooks           the Airtable webhooks the service registered: MAC secret, payload
--                               cursor, expiry and notification health.
--   notion_verification_tokens  Notion's one-time verification tokens, kept as pending until an
--                               operator acknowledges one (never trusted automatically).
--   rate_limits                 per API budget: the 429 penalty and the GCRA schedule shared by all
--                               workers and replicas.
--   sweeps                      per pair and sweep kind: the last reconciliation sweep's times,
--                               summary and high-water mark.

-- jobs: the work queue.
--   key          coalescing key naming the work, e.g. 'reconcile:specs:notion:<page id>'.
--   pair         the sync pair the job belongs to (NULL for global work).
--   payload      JSON arguments (for a reconcile the key says it all: '{}').
--   state        pending | running | done | dead.
--   attempts     claims spent so far (a claim adds one; a rate-limit wait or a graceful release
--                gives it back).
--   run_at       a pending job is not claimed before this time (debounce, backoff).
--   lease_token  random token of the current claim; every update by a worker is fenced by it.
--   locked_until the lease: a running job whose lease has passed is reclaimed by another worker.
--   heartbeat_at the last heartbeat of the running worker (for the status page).
--   started_at   when the job was last claimed; finished_at when it became done or dead.
--   last_error   the last failure, kept across retries and on dead jobs.
-- Done jobs stay for the job history until pruned; dead jobs stay until an operator retries them.
CREATE TABLE jobs (
    id           BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    pair         TEXT,
    payload      TEXT    NOT NULL DEFAULT '{}',
    state        TEXT    NOT NULL DEFAULT 'pending'
                 CHECK (state IN ('pending', 'running', 'done', 'dead')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 10,
    run_at       BIGINT  NOT NULL,
    created_at   BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL,
    lease_token  TEXT,
    locked_until BIGINT,
    heartbeat_at BIGINT,
    started_at   BIGINT,
    finished_at  BIGINT,
    last_error   TEXT
)
-- A queue table churns: vacuum it early so dead row versions do not pile up (MVCC bloat is
-- the usual way Postgres queues degrade).
WITH (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.05);
-- Coalescing: per key at most one pending and at most one running job. Enqueue relies on the
-- first (INSERT ... ON CONFLICT DO NOTHING); claim relies on the second to block a key's pending
-- job while its running job is alive. done and dead rows are outside both.
CREATE UNIQUE INDEX jobs_one_pending_per_key ON jobs (key) WHERE state = 'pending';
CREATE UNIQUE INDEX jobs_one_running_per_key ON jobs (key) WHERE state = 'running';
-- Claiming (pending, due, oldest first), listing by state, the oldest pending job's age.
CREATE INDEX jobs_state_run_at ON jobs (state, run_at, id);
-- Reclaiming running jobs whose lease has expired.
CREATE INDEX jobs_running_lease ON jobs (locked_until) WHERE state = 'running';
-- Pruning the history of done jobs.
CREATE INDEX jobs_done_finished_at ON jobs (finished_at) WHERE state = 'done';

-- record_links: Notion page <-> Airtable record, per pair.
--   airtable_record_id  NULL until the Airtable row exists (set once; never unset by an upsert).
--   snapshot            JSON object: mapped field name -> canonical value as of the last sync.
--   sync_source         who wrote the record last: notion | airtable | service (never NULL: a
--                       NULL origin compared as "different" is a known cause of sync loops).
--   state               active | notion_trashed | notion_moved | airtable_deleted.
--   notion_last_edited  Notion's last_edited_time at the last sync (minute-rounded by Notion).
--   airtable_modified   the Airtable record's last modified time at the last sync, if known.
--   last_synced_at      when the service last converged the pair.
CREATE TABLE record_links (
    id                 BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pair               TEXT   NOT NULL,
    notion_page_id     TEXT   NOT NULL,
    airtable_record_id TEXT,
    snapshot           TEXT   NOT NULL DEFAULT '{}',
    sync_source        TEXT   NOT NULL CHECK (sync_source IN ('notion', 'airtable', 'service')),
    state              TEXT   NOT NULL DEFAULT 'active',
    notion_last_edited BIGINT,
    airtable_modified  BIGINT,
    last_synced_at     BIGINT,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);
CREATE UNIQUE INDEX record_links_page ON record_links (pair, notion_page_id);
CREATE UNIQUE INDEX record_links_record ON record_links (pair, airtable_record_id);

-- sync_log: every change the service made (or a conflict it resolved), newest last.
--   action        create | update | archive | restore | delete | link | skip.
--   field         the mapped field (NULL for whole-record actions such as create).
--   old_value, new_value  JSON canonical values (NULL when not applicable).
--   direction     notion_to_airtable | airtable_to_notion | none.
--   cause         webhook | sweep | initial | manual.
--   conflict      both sides changed the field to different values; winner says which side
--                 won (notion | airtable) and detail says why (rule, timestamps).
--   job_id        the job that made the change (no foreign key: jobs are pruned, the log stays).
CREATE TABLE sync_log (
    id                 BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at                 BIGINT  NOT NULL,
    pair               TEXT    NOT NULL,
    notion_page_id     TEXT,
    airtable_record_id TEXT,
    action             TEXT    NOT NULL,
    field              TEXT,
    old_value          TEXT,
    new_value          TEXT,
    direction          TEXT    NOT NULL
                       CHECK (direction IN ('notion_to_airtable', 'airtable_to_notion', 'none')),
    cause              TEXT    NOT NULL,
    conflict           BOOLEAN NOT NULL DEFAULT FALSE,
    winner             TEXT,
    detail             TEXT,
    job_id             BIGINT
);
CREATE INDEX sync_log_pair ON sync_log (pair, id);
CREATE INDEX sync_log_page ON sync_log (notion_page_id, id);
CREATE INDEX sync_log_record ON sync_log (airtable_record_id, id);
CREATE INDEX sync_log_at ON sync_log (at);
CREATE INDEX sync_log_conflicts ON sync_log (id) WHERE conflict;

-- webhook_inbox: de-duplication of webhook deliveries.
--   source    notion | airtable.
--   event_id  Notion: the event's id. Airtable pings carry no id: the webhook pipeline derives one.
--   summary   a short description (event type, entity) for the operator; never the secret.
CREATE TABLE webhook_inbox (
    source      TEXT   NOT NULL,
    event_id    TEXT   NOT NULL,
    received_at BIGINT NOT NULL,
    summary     TEXT,
    PRIMARY KEY (source, event_id)
);
CREATE INDEX webhook_inbox_received_at ON webhook_inbox (received_at);

-- airtable_webhooks: one row per webhook the service created on Airtable.
--   mac_secret_base64      the MAC secret Airtable returns only at creation (a secret).
--   cursor                 the next payload cursor to read (Airtable's cursors start at 1 and only
--                          grow; the store refuses to move it backwards).
--   expires_at             Airtable's expirationTime (7 days after creation or refresh).
--   notifications_enabled  Airtable's areNotificationsEnabled; hook_enabled: isHookEnabled.
--   last_ping_at           when the service last received a ping for it.
--   last_fetch_at          when the service last read its payloads.
--   last_result            JSON: Airtable's lastNotificationResult, or the service's last error.
CREATE TABLE airtable_webhooks (
    webhook_id            TEXT    PRIMARY KEY,
    pair                  TEXT    NOT NULL,
    base_id               TEXT    NOT NULL,
    table_id              TEXT    NOT NULL,
    mac_secret_base64     TEXT    NOT NULL,
    cursor                BIGINT  NOT NULL DEFAULT 1,
    expires_at            BIGINT,
    notification_url      TEXT,
    notifications_enabled BOOLEAN NOT NULL DEFAULT TRUE,
    hook_enabled          BOOLEAN NOT NULL DEFAULT TRUE,
    last_ping_at          BIGINT,
    last_fetch_at         BIGINT,
    last_result           TEXT,
    created_at            BIGINT  NOT NULL,
    updated_at            BIGINT  NOT NULL
);
CREATE INDEX airtable_webhooks_pair ON airtable_webhooks (pair);

-- notion_verification_tokens: the unauthenticated {"verification_token": ...} requests.
--   remote_addr     where the request came from, to help the operator judge it.
--   acknowledged    an operator confirmed it (it is still never installed automatically).
CREATE TABLE notion_verification_tokens (
    token           TEXT    PRIMARY KEY,
    received_at     BIGINT  NOT NULL,
    remote_addr     TEXT,
    acknowledged    BOOLEAN NOT NULL DEFAULT FALSE,
    acknowledged_at BIGINT
);

-- rate_limits: one row per API budget (e.g. 'notion:<integration>', 'airtable:<base id>').
--   blocked_until  no call on the budget before this time (a 429's Retry-After, shared).
--   next_slot      GCRA theoretical arrival time of the next call: replicas reserve slots from
--                  this one schedule, so together they stay within one budget.
CREATE TABLE rate_limits (
    budget        TEXT   PRIMARY KEY,
    blocked_until BIGINT NOT NULL DEFAULT 0,
    next_slot     BIGINT NOT NULL DEFAULT 0,
    updated_at    BIGINT NOT NULL
);

-- sweeps: per pair and kind (incremental | full) the last reconciliation sweep.
--   last_result  JSON summary of the last finished sweep (counts, errors).
--   high_water   for incremental sweeps: the edit time up to which both sides were read.
CREATE TABLE sweeps (
    pair             TEXT   NOT NULL,
    kind             TEXT   NOT NULL CHECK (kind IN ('incremental', 'full')),
    last_started_at  BIGINT,
    last_finished_at BIGINT,
    last_result      TEXT,
    high_water       BIGINT,
    PRIMARY KEY (pair, kind)
);
