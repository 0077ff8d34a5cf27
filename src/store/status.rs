//! Read-only aggregates for the status page: the queue per pair, links per
//! pair, and when each webhook source last delivered. Plain SQL that both
//! backends run as written.

use serde::Serialize;

use super::{
    Issue, LogQuery, PruneBefore, Store, StoreError, SyncDirection,
    columns::parse_column,
    error::Context,
    sync_log::{Bind, select_log},
};

/// Live jobs per pair and state; `$1` now.
const QUEUE_BY_PAIR: &str = "SELECT pair, state, COUNT(*), \
         MIN(CASE WHEN state = 'pending' AND run_at <= $1 THEN run_at END) \
     FROM jobs WHERE state IN ('pending', 'running', 'dead') \
     GROUP BY pair, state ORDER BY pair";

/// Links per pair, and how many are active.
const LINKS_BY_PAIR: &str = "SELECT pair, COUNT(*), \
         COALESCE(SUM(CASE WHEN state = 'active' THEN 1 ELSE 0 END), 0) \
     FROM record_links GROUP BY pair ORDER BY pair";

/// The newest event of source `$1`.
const LAST_EVENT: &str = "SELECT MAX(received_at) FROM webhook_inbox WHERE source = $1";

/// The newest open sync issues, `$1` at most.
const NEWEST_ISSUES: &str = "SELECT id, pair, scope, subject, field, message, first_seen_at, last_seen_at \
     FROM sync_issues ORDER BY id DESC LIMIT $1";

#[derive(sqlx::FromRow)]
struct IssueRow {
    id: i64,
    pair: String,
    scope: String,
    subject: String,
    field: String,
    message: String,
    first_seen_at: i64,
    last_seen_at: i64,
}

/// The tables that grow with time: no query of the status page, the admin
/// API, `/metrics` or pruning may read one whole.
pub const GROWING_TABLES: &[&str] = &["webhook_inbox", "sync_log", "jobs", "status_samples"];

/// Changes written each way per hour since `$1` (hours as epoch ms / 1 h).
const CHANGES_PER_HOUR: &str = "SELECT at / 3600000, direction, COUNT(*) FROM sync_log \
     WHERE at >= $1 AND direction <> 'none' GROUP BY at / 3600000, direction";

/// Pending jobs due by `$1` (the queue's depth: scheduled ones are not
/// waiting yet).
const DUE_JOBS: &str = "SELECT COUNT(*) FROM jobs WHERE state = 'pending' AND run_at <= $1";

/// How many changes the service wrote one way in one hour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HourlyChanges {
    /// The hour's start, epoch ms.
    pub hour: i64,
    pub direction: SyncDirection,
    pub count: i64,
}

/// How the database runs one of those queries.
#[derive(Debug, Clone, Serialize)]
pub struct QueryPlan {
    /// What runs it, e.g. `status: dead jobs`.
    pub name: &'static str,
    /// The query, as run (with `$n` parameters).
    pub sql: String,
    /// `EXPLAIN QUERY PLAN` (SQLite) or `EXPLAIN` (Postgres), one line per
    /// step.
    pub plan: Vec<String>,
    /// A newest-first page (`ORDER BY id DESC LIMIT n`) served in id order
    /// (by the primary key, or the index of conflicts): walking it backwards
    /// and stopping at the limit reads `n` rows, which SQLite reports as a
    /// `SCAN`.
    pub newest_first_page: bool,
}

/// The live part of the queue for one pair (None: jobs of no pair, such as
/// fetching an Airtable webhook's payloads).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PairQueue {
    pub pair: Option<String>,
    pub pending: i64,
    pub running: i64,
    pub dead: i64,
    /// `run_at` of the longest-waiting pending job that is due (epoch ms);
    /// jobs scheduled for later (debounce, backoff) are not late.
    pub oldest_due_at: Option<i64>,
}

/// Linked records of a pair, by link state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PairLinks {
    pub pair: String,
    pub total: i64,
    /// Links whose both sides exist where the pair expects them.
    pub active: i64,
}

impl Store {
    /// Pending, running and dead jobs per pair, in pair order (jobs of no
    /// pair first).
    pub async fn queue_by_pair(&self, now: i64) -> Result<Vec<PairQueue>, StoreError> {
        let mut conn = self.acquire().await?;
        let rows: Vec<(Option<String>, String, i64, Option<i64>)> = on_conn!(conn.conn(), |c| {
            sqlx::query_as(QUEUE_BY_PAIR).bind(now).fetch_all(c).await
        })
        .context("count live jobs per pair")?;
        let mut queues: Vec<PairQueue> = Vec::new();
        for (pair, state, count, oldest) in rows {
            let queue = match queues.iter_mut().find(|q| q.pair == pair) {
                Some(queue) => queue,
                None => {
                    queues.push(PairQueue {
                        pair: pair.clone(),
                        ..PairQueue::default()
                    });
                    queues.last_mut().expect("just pushed")
                }
            };
            match state.as_str() {
                "pending" => {
                    queue.pending = count;
                    queue.oldest_due_at = oldest;
                }
                "running" => queue.running = count,
                _ => queue.dead = count,
            }
        }
        queues.sort_by(|a, b| a.pair.cmp(&b.pair));
        Ok(queues)
    }

    /// Links per pair, in pair order.
    pub async fn links_by_pair(&self) -> Result<Vec<PairLinks>, StoreError> {
        let mut conn = self.acquire().await?;
        let rows: Vec<(String, i64, i64)> = on_conn!(conn.conn(), |c| {
            sqlx::query_as(LINKS_BY_PAIR).fetch_all(c).await
        })
        .context("count links per pair")?;
        Ok(rows
            .into_iter()
            .map(|(pair, total, active)| PairLinks {
                pair,
                total,
                active,
            })
            .collect())
    }

    /// The `limit` newest open sync issues (the status page shows these and
    /// counts the rest; `/api/issues` lists them all).
    pub async fn newest_issues(&self, limit: i64) -> Result<Vec<Issue>, StoreError> {
        let mut conn = self.acquire().await?;
        let rows: Vec<IssueRow> = on_conn!(conn.conn(), |c| {
            sqlx::query_as(NEWEST_ISSUES).bind(limit).fetch_all(c).await
        })
        .context("list the newest sync issues")?;
        rows.into_iter()
            .map(|r| {
                Ok(Issue {
                    scope: parse_column("sync_issues", "scope", &r.scope)?,
                    id: r.id,
                    pair: r.pair,
                    subject: r.subject,
                    field: r.field,
                    message: r.message,
                    first_seen_at: r.first_seen_at,
                    last_seen_at: r.last_seen_at,
                })
            })
            .collect()
    }

    /// Changes written each way per hour since `since` (hours with none are
    /// absent).
    pub async fn changes_per_hour(&self, since: i64) -> Result<Vec<HourlyChanges>, StoreError> {
        let mut conn = self.acquire().await?;
        let rows: Vec<(i64, String, i64)> = on_conn!(conn.conn(), |c| {
            sqlx::query_as(CHANGES_PER_HOUR)
                .bind(since)
                .fetch_all(c)
                .await
        })
        .context("count changes per hour")?;
        rows.into_iter()
            .map(|(hour, direction, count)| {
                Ok(HourlyChanges {
                    hour: hour * 3_600_000,
                    direction: parse_column("sync_log", "direction", &direction)?,
                    count,
                })
            })
            .collect()
    }

    /// Pending jobs that are due at `now`.
    pub async fn due_jobs(&self, now: i64) -> Result<i64, StoreError> {
        let mut conn = self.acquire().await?;
        on_conn!(conn.conn(), |c| {
            sqlx::query_scalar(DUE_JOBS).bind(now).fetch_one(c).await
        })
        .context("count due jobs")
    }

    /// When the newest webhook event from `source` (`notion` or `airtable`)
    /// was received, if the inbox still holds one.
    pub async fn last_webhook_event_at(&self, source: &str) -> Result<Option<i64>, StoreError> {
        let mut conn = self.acquire().await?;
        on_conn!(conn.conn(), |c| {
            sqlx::query_scalar(LAST_EVENT)
                .bind(source)
                .fetch_one(c)
                .await
        })
        .context("find the last webhook event")
    }
}

/// One query of the catalogue: what runs it, its SQL and parameters like the
/// ones it runs with.
struct Catalogued {
    name: &'static str,
    sql: String,
    binds: Vec<Bind>,
    newest_first_page: bool,
}

impl Catalogued {
    fn new(name: &'static str, sql: impl Into<String>, binds: Vec<Bind>) -> Self {
        Catalogued {
            name,
            sql: sql.into(),
            binds,
            newest_first_page: false,
        }
    }

    fn log(name: &'static str, query: LogQuery) -> Self {
        let newest_first_page = query.pair.is_none()
            && query.record.is_none()
            && query.since.is_none()
            && query.before_id.is_none();
        let (sql, binds) = select_log(&query);
        Catalogued {
            name,
            sql,
            binds,
            newest_first_page,
        }
    }
}

/// Every query the status page, the admin API, `/metrics` and pruning run
/// against a growing table, with typical parameters.
fn catalogue(now: i64, prune: PruneBefore, backend: super::Backend) -> Vec<Catalogued> {
    use Bind::{Int, Text};
    let text = |s: &str| Text(s.to_owned());
    let log = |query: LogQuery| LogQuery { limit: 30, ..query };
    let mut list_all = Catalogued::new(
        "api: jobs",
        super::jobs::list_jobs_sql(false),
        vec![Int(100)],
    );
    list_all.newest_first_page = true;
    vec![
        Catalogued::new("status: queue per pair", QUEUE_BY_PAIR, vec![Int(now)]),
        Catalogued::new("status: links per pair", LINKS_BY_PAIR, vec![]),
        Catalogued::new(
            "status: last Notion event",
            LAST_EVENT,
            vec![text("notion")],
        ),
        Catalogued::new(
            "status: dead jobs",
            super::jobs::list_jobs_sql(true),
            vec![Int(50), text("dead")],
        ),
        list_all,
        Catalogued::new(
            "api: done jobs",
            super::jobs::list_jobs_sql(true),
            vec![Int(100), text("done")],
        ),
        Catalogued::log("status: recent changes", log(LogQuery::default())),
        Catalogued::log(
            "status: conflicts",
            log(LogQuery {
                conflicts_only: true,
                ..LogQuery::default()
            }),
        ),
        Catalogued::log(
            "api: conflicts of a pair",
            log(LogQuery {
                pair: Some("specs".into()),
                conflicts_only: true,
                ..LogQuery::default()
            }),
        ),
        Catalogued::log(
            "api: log of a pair",
            log(LogQuery {
                pair: Some("specs".into()),
                ..LogQuery::default()
            }),
        ),
        Catalogued::log(
            "api: log of a record",
            log(LogQuery {
                record: Some("recAAAAAAAAAAAAAA".into()),
                ..LogQuery::default()
            }),
        ),
        Catalogued::log(
            "api: log page after an id",
            log(LogQuery {
                before_id: Some(1000),
                ..LogQuery::default()
            }),
        ),
        Catalogued::new("status: due jobs", DUE_JOBS, vec![Int(now)]),
        Catalogued::new(
            "status: changes per hour",
            CHANGES_PER_HOUR,
            vec![Int(now - 86_400_000)],
        ),
        Catalogued::new(
            "status: lag samples",
            super::samples::SAMPLES_SINCE,
            vec![text("lag_to_notion"), Int(now - 86_400_000)],
        ),
        Catalogued::new(
            "prune: status samples",
            super::samples::PRUNE_SAMPLES.for_backend(backend),
            vec![Int(prune.samples), Int(1000)],
        ),
        Catalogued::new(
            "status: verification tokens",
            super::inbox::PENDING_TOKENS,
            vec![],
        ),
        Catalogued::new(
            "metrics: live jobs",
            super::job_gauges::LIVE_JOBS_BY_KIND,
            vec![],
        ),
        Catalogued::new(
            "metrics: oldest due job",
            super::jobs::OLDEST_DUE,
            vec![Int(now)],
        ),
        Catalogued::new(
            "prune: sync log",
            super::prune::PRUNE_LOG.for_backend(backend),
            vec![Int(prune.log), Int(1000)],
        ),
        Catalogued::new(
            "prune: done jobs",
            super::prune::PRUNE_JOBS.for_backend(backend),
            vec![Int(prune.jobs), Int(1000)],
        ),
        Catalogued::new(
            "prune: webhook inbox",
            super::prune::PRUNE_INBOX.for_backend(backend),
            vec![Int(prune.inbox), Int(1000)],
        ),
    ]
}

impl Store {
    /// The plans of the queries the status page, the admin API, `/metrics`
    /// and pruning run on growing tables (nothing is executed), so that a
    /// test, or an operator wondering about a slow page, can check that
    /// every one is served by an index. Pruning is explained with the
    /// `prune` cut-offs (in steady state each pass deletes a small part of a
    /// table; when every row is past the cut-off, reading the table in order
    /// is the right plan).
    pub async fn explain_read_queries(
        &self,
        now: i64,
        prune: PruneBefore,
    ) -> Result<Vec<QueryPlan>, StoreError> {
        let mut conn = self.acquire().await?;
        let mut plans = Vec::new();
        for query in catalogue(now, prune, self.backend()) {
            let plan = match conn.conn() {
                super::Conn::Sqlite(c) => {
                    let sql = format!("EXPLAIN QUERY PLAN {}", query.sql);
                    let mut q = sqlx::query_as::<_, (i64, i64, i64, String)>(&sql);
                    for bind in &query.binds {
                        q = match bind {
                            Bind::Text(t) => q.bind(t.clone()),
                            Bind::Int(n) => q.bind(*n),
                        };
                    }
                    q.fetch_all(c)
                        .await
                        .map(|rows| rows.into_iter().map(|r| r.3).collect::<Vec<_>>())
                }
                super::Conn::Postgres(c) => {
                    let sql = format!("EXPLAIN {}", query.sql);
                    let mut q = sqlx::query_scalar::<_, String>(&sql);
                    for bind in &query.binds {
                        q = match bind {
                            Bind::Text(t) => q.bind(t.clone()),
                            Bind::Int(n) => q.bind(*n),
                        };
                    }
                    q.fetch_all(c).await
                }
            }
            .context("explain a query")?;
            plans.push(QueryPlan {
                name: query.name,
                sql: query.sql,
                plan,
                newest_first_page: query.newest_first_page,
            });
        }
        Ok(plans)
    }
}
