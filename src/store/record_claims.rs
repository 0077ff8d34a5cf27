//! The `record_claims`, `record_claim_clock` and `notion_page_intents`
//! tables: one writer per record at a time across every job kind and
//! replica, and Notion page creates that cannot be doubled.
//!
//! A claim is a lease on one record key, taken before the record is written
//! (a record job takes it before it even reads). While a job holds it, it
//! lives as long as the job's own lease, so a worker that dies frees its
//! records as soon as its jobs can be reclaimed; outside a job it lives
//! until its expiry. Every take and release moves the claim clock and stamps
//! the key with it: a sweep, which reads a hundred records before it can
//! claim them, reads the clock first and skips any record stamped after
//! that, since another writer may have committed newer values after the
//! sweep's read. The clock is a counter in the database rather than a
//! time, so replicas whose clocks differ still agree on the order.

use std::collections::HashMap;

use super::{Conn, JobId, Store, StoreError, Tx, add_ms, error::Context};

/// Who takes claims: a job (by its lease) or work outside any job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimant {
    /// The job's lease token, or a random id.
    pub holder: String,
    /// The job whose lease the claims live by; None outside a job (the
    /// claims then live until their expiry).
    pub job_id: Option<JobId>,
}

/// What [`Store::claim_records`] did with one group of keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// Every key of the group is now held by the claimant.
    Acquired,
    /// Another claimant holds a key of the group: that one is writing it.
    Held,
    /// A key of the group was taken or released by another claimant after
    /// the caller's read (`read_at`): the read may be stale. Nothing taken.
    Moved,
}

/// One stored claim (held or released).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordClaim {
    pub pair: String,
    pub record_key: String,
    pub holder: String,
    pub job_id: Option<JobId>,
    /// 0 once released.
    pub expires_at: i64,
    pub touched: i64,
    pub updated_at: i64,
}

/// An announced Notion page create (see the module doc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageIntent {
    pub pair: String,
    pub airtable_record_id: String,
    pub holder: String,
    /// Set once Notion answered the create.
    pub notion_page_id: Option<String>,
    pub created_at: i64,
}

/// Bind parameters per key in the claims' multi-row statements, and keys
/// per statement (well under both backends' parameter limits).
const KEYS_PER_STATEMENT: usize = 100;

#[derive(sqlx::FromRow)]
struct ExistingRow {
    record_key: String,
    holder: String,
    job_id: Option<i64>,
    expires_at: i64,
    touched: i64,
    /// The holder's job lease, when that job still runs under the holder's token.
    job_locked_until: Option<i64>,
}

impl ExistingRow {
    fn alive(&self, now: i64) -> bool {
        self.expires_at > now
            && (self.job_id.is_none() || self.job_locked_until.is_some_and(|until| until > now))
    }
}

/// What a key looks like to one claimant, in one claim transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyState {
    /// Nobody holds it, and nobody touched it since the read.
    Free,
    /// The claimant holds it already.
    Mine,
    Held,
    /// Touched by someone else after the read.
    Moved,
    /// Its holder died or lost its lease without releasing it, after or
    /// before the read: what it wrote is unknown, so a reader skips it, and
    /// the claim is marked released now (the next read may take it).
    Abandoned,
}

fn key_state(row: Option<&ExistingRow>, me: &Claimant, read_at: Option<i64>, now: i64) -> KeyState {
    let Some(row) = row else {
        return KeyState::Free;
    };
    let mine = row.holder == me.holder;
    if row.alive(now) {
        return if mine { KeyState::Mine } else { KeyState::Held };
    }
    if mine || read_at.is_none() {
        return KeyState::Free;
    }
    if row.expires_at > 0 {
        KeyState::Abandoned
    } else if read_at.is_some_and(|read| row.touched > read) {
        KeyState::Moved
    } else {
        KeyState::Free
    }
}

impl Store {
    /// The claim clock now. Read it before reading the records a later
    /// [`Store::claim_records`] takes (its `read_at`).
    pub async fn claim_clock(&self) -> Result<i64, StoreError> {
        let mut conn = self.acquire().await?;
        on_conn!(conn.conn(), |c| {
            sqlx::query_scalar("SELECT value FROM record_claim_clock WHERE id = 1")
                .fetch_one(c)
                .await
        })
        .context("read the claim clock")
    }

    /// Take each group of keys of `pair` (a record's keys) whole or not at
    /// all, in one transaction; one outcome per group. A key the claimant
    /// holds already is kept (claims are re-entrant). With `read_at` (the
    /// claim clock before the caller read the records), a key another
    /// claimant took or released since is [`ClaimOutcome::Moved`], as is one
    /// whose holder died holding it. Claims expire at `now + ttl` at the
    /// latest; a job's die with its lease.
    pub async fn claim_records(
        &self,
        pair: &str,
        me: &Claimant,
        groups: &[Vec<String>],
        read_at: Option<i64>,
        now: i64,
        ttl: std::time::Duration,
    ) -> Result<Vec<ClaimOutcome>, StoreError> {
        let mut keys: Vec<&String> = groups.iter().flatten().collect();
        keys.sort();
        keys.dedup();
        let mut tx = self.begin().await?;
        let stamp = tick(tx.conn()).await?;
        let existing = existing_claims(tx.conn(), pair, &keys, now).await?;
        let mut states: HashMap<&str, KeyState> = keys
            .iter()
            .map(|k| {
                let state = key_state(existing.get(k.as_str()), me, read_at, now);
                (k.as_str(), state)
            })
            .collect();
        let abandoned: Vec<&String> = keys
            .iter()
            .copied()
            .filter(|k| states[k.as_str()] == KeyState::Abandoned)
            .collect();
        mark_released(tx.conn(), pair, &abandoned, None, stamp, now).await?;
        let mut outcomes = Vec::with_capacity(groups.len());
        let mut taken: Vec<&String> = Vec::new();
        for group in groups {
            let outcome = group_outcome(group.iter().map(|k| states[k.as_str()]));
            if outcome == ClaimOutcome::Acquired {
                for key in group {
                    states.insert(key.as_str(), KeyState::Mine);
                    taken.push(key);
                }
            }
            outcomes.push(outcome);
        }
        taken.sort();
        taken.dedup();
        let expires_at = add_ms(now, ttl);
        upsert_claims(tx.conn(), pair, &taken, me, expires_at, stamp, now).await?;
        tx.commit().await?;
        Ok(outcomes)
    }

    /// Release `keys` of `pair` held by `holder` (stamped with the clock:
    /// readers from before now skip them). Returns how many were held.
    pub async fn release_records(
        &self,
        pair: &str,
        holder: &str,
        keys: &[String],
        now: i64,
    ) -> Result<u64, StoreError> {
        let mut keys: Vec<&String> = keys.iter().collect();
        keys.sort();
        keys.dedup();
        let mut tx = self.begin().await?;
        let stamp = tick(tx.conn()).await?;
        let released = mark_released(tx.conn(), pair, &keys, Some(holder), stamp, now).await?;
        tx.commit().await?;
        Ok(released)
    }

    /// Release every claim `holder` still holds, in any pair (the end of
    /// its work, whatever its outcome).
    pub async fn release_all_claims(&self, holder: &str, now: i64) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        let stamp = tick(tx.conn()).await?;
        let released = on_conn!(tx.conn(), |c| {
            sqlx::query(
                "UPDATE record_claims SET expires_at = 0, touched = $2, updated_at = $3 \
                 WHERE holder = $1 AND expires_at > 0",
            )
            .bind(holder)
            .bind(stamp)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })
        .context("release a holder's record claims")?;
        tx.commit().await?;
        Ok(released)
    }

    /// One key's claim, held or released.
    pub async fn record_claim(
        &self,
        pair: &str,
        record_key: &str,
    ) -> Result<Option<RecordClaim>, StoreError> {
        let mut conn = self.acquire().await?;
        let row: Option<(String, i64, Option<i64>, i64, i64)> = on_conn!(conn.conn(), |c| {
            sqlx::query_as(
                "SELECT holder, expires_at, job_id, touched, updated_at \
                 FROM record_claims WHERE pair = $1 AND record_key = $2",
            )
            .bind(pair)
            .bind(record_key)
            .fetch_optional(c)
            .await
        })
        .context("read a record claim")?;
        Ok(row.map(
            |(holder, expires_at, job_id, touched, updated_at)| RecordClaim {
                pair: pair.to_owned(),
                record_key: record_key.to_owned(),
                holder,
                job_id,
                expires_at,
                touched,
                updated_at,
            },
        ))
    }

    /// Forget claims released before `before` (epoch ms). A sweep that read
    /// before their release would skip their records; one that old has long
    /// finished.
    pub async fn prune_record_claims(&self, before: i64) -> Result<u64, StoreError> {
        let mut conn = self.acquire().await?;
        on_conn!(conn.conn(), |c| {
            sqlx::query("DELETE FROM record_claims WHERE expires_at = 0 AND updated_at < $1")
                .bind(before)
                .execute(c)
                .await
                .map(|r| r.rows_affected())
        })
        .context("prune released record claims")
    }

    /// Announce a Notion page create for a row. Returns None when this call
    /// recorded the intent (the caller may create), or the intent someone
    /// recorded before (the caller must not create blindly: the page may
    /// exist).
    pub async fn begin_page_create(
        &self,
        pair: &str,
        airtable_record_id: &str,
        holder: &str,
        now: i64,
    ) -> Result<Option<PageIntent>, StoreError> {
        let mut conn = self.acquire().await?;
        let inserted = on_conn!(conn.conn(), |c| {
            sqlx::query(
                "INSERT INTO notion_page_intents (pair, airtable_record_id, holder, created_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (pair, airtable_record_id) DO NOTHING",
            )
            .bind(pair)
            .bind(airtable_record_id)
            .bind(holder)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })
        .context("record a page create")?;
        if inserted == 1 {
            return Ok(None);
        }
        drop(conn);
        self.page_intent(pair, airtable_record_id).await
    }

    /// The announced create of a row's page, if any.
    pub async fn page_intent(
        &self,
        pair: &str,
        airtable_record_id: &str,
    ) -> Result<Option<PageIntent>, StoreError> {
        let mut conn = self.acquire().await?;
        let row: Option<(String, Option<String>, i64)> = on_conn!(conn.conn(), |c| {
            sqlx::query_as(
                "SELECT holder, notion_page_id, created_at FROM notion_page_intents \
                 WHERE pair = $1 AND airtable_record_id = $2",
            )
            .bind(pair)
            .bind(airtable_record_id)
            .fetch_optional(c)
            .await
        })
        .context("read a page create")?;
        Ok(row.map(|(holder, notion_page_id, created_at)| PageIntent {
            pair: pair.to_owned(),
            airtable_record_id: airtable_record_id.to_owned(),
            holder,
            notion_page_id,
            created_at,
        }))
    }

    /// Record the page Notion created for the intent `holder` announced;
    /// false if the intent is no longer theirs.
    pub async fn set_intent_page(
        &self,
        pair: &str,
        airtable_record_id: &str,
        holder: &str,
        notion_page_id: &str,
    ) -> Result<bool, StoreError> {
        let mut conn = self.acquire().await?;
        let updated = on_conn!(conn.conn(), |c| {
            sqlx::query(
                "UPDATE notion_page_intents SET notion_page_id = $4 \
                 WHERE pair = $1 AND airtable_record_id = $2 AND holder = $3",
            )
            .bind(pair)
            .bind(airtable_record_id)
            .bind(holder)
            .bind(notion_page_id)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })
        .context("record a created page")?;
        Ok(updated == 1)
    }

    /// Take over an intent whose page was never found (announced at
    /// `seen_created_at`): it is announced again by `holder` at `now`.
    /// False if someone changed it meanwhile (then do not create).
    pub async fn restart_page_create(
        &self,
        pair: &str,
        airtable_record_id: &str,
        holder: &str,
        seen_created_at: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut conn = self.acquire().await?;
        let updated = on_conn!(conn.conn(), |c| {
            sqlx::query(
                "UPDATE notion_page_intents \
                 SET holder = $3, created_at = $5, notion_page_id = NULL \
                 WHERE pair = $1 AND airtable_record_id = $2 AND created_at = $4",
            )
            .bind(pair)
            .bind(airtable_record_id)
            .bind(holder)
            .bind(seen_created_at)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })
        .context("announce a page create again")?;
        Ok(updated == 1)
    }
}

impl Tx {
    /// The row's page is linked: forget its intent (in the link's transaction).
    pub async fn finish_page_create(
        &mut self,
        pair: &str,
        airtable_record_id: &str,
    ) -> Result<bool, StoreError> {
        let deleted = on_conn!(self.conn(), |c| {
            sqlx::query(
                "DELETE FROM notion_page_intents WHERE pair = $1 AND airtable_record_id = $2",
            )
            .bind(pair)
            .bind(airtable_record_id)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })
        .context("forget a finished page create")?;
        Ok(deleted == 1)
    }
}

fn group_outcome(states: impl Iterator<Item = KeyState>) -> ClaimOutcome {
    let mut outcome = ClaimOutcome::Acquired;
    for state in states {
        match state {
            KeyState::Held => return ClaimOutcome::Held,
            KeyState::Moved | KeyState::Abandoned => outcome = ClaimOutcome::Moved,
            KeyState::Free | KeyState::Mine => {}
        }
    }
    outcome
}

/// Move the claim clock; the new value stamps this transaction's keys.
/// Taking the clock's row also serializes claim transactions (on Postgres
/// the row lock is held until commit; SQLite has one writer anyway).
async fn tick(c: Conn<'_>) -> Result<i64, StoreError> {
    on_conn!(c, |c| {
        sqlx::query_scalar(
            "UPDATE record_claim_clock SET value = value + 1 WHERE id = 1 RETURNING value",
        )
        .fetch_one(c)
        .await
    })
    .context("move the claim clock")
}

/// `$n, $n+1, ...` for `count` parameters starting at `first`.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

async fn existing_claims(
    mut c: Conn<'_>,
    pair: &str,
    keys: &[&String],
    now: i64,
) -> Result<HashMap<String, ExistingRow>, StoreError> {
    let mut out = HashMap::new();
    for chunk in keys.chunks(KEYS_PER_STATEMENT) {
        let sql = format!(
            "SELECT c.record_key, c.holder, c.job_id, c.expires_at, c.touched, \
                 (SELECT j.locked_until FROM jobs j WHERE j.id = c.job_id \
                  AND j.state = 'running' AND j.lease_token = c.holder \
                  AND j.locked_until > $2) AS job_locked_until \
             FROM record_claims c WHERE c.pair = $1 AND c.record_key IN ({})",
            placeholders(3, chunk.len())
        );
        let rows: Vec<ExistingRow> = on_conn!(c.reborrow(), |c| {
            let mut query = sqlx::query_as(&sql).bind(pair).bind(now);
            for key in chunk {
                query = query.bind(key.as_str());
            }
            query.fetch_all(c).await
        })
        .context("read record claims")?;
        out.extend(rows.into_iter().map(|r| (r.record_key.clone(), r)));
    }
    Ok(out)
}

async fn upsert_claims(
    mut c: Conn<'_>,
    pair: &str,
    keys: &[&String],
    me: &Claimant,
    expires_at: i64,
    stamp: i64,
    now: i64,
) -> Result<(), StoreError> {
    for chunk in keys.chunks(KEYS_PER_STATEMENT) {
        let values: Vec<String> = (0..chunk.len())
            .map(|i| format!("($1, ${}, $2, $3, $4, $5, $6)", 7 + i))
            .collect();
        let sql = format!(
            "INSERT INTO record_claims \
                 (pair, record_key, holder, job_id, expires_at, touched, updated_at) \
             VALUES {} \
             ON CONFLICT (pair, record_key) DO UPDATE SET \
                 holder = excluded.holder, job_id = excluded.job_id, \
                 expires_at = excluded.expires_at, touched = excluded.touched, \
                 updated_at = excluded.updated_at",
            values.join(", ")
        );
        on_conn!(c.reborrow(), |c| {
            let mut query = sqlx::query(&sql)
                .bind(pair)
                .bind(&me.holder)
                .bind(me.job_id)
                .bind(expires_at)
                .bind(stamp)
                .bind(now);
            for key in chunk {
                query = query.bind(key.as_str());
            }
            query.execute(c).await.map(|r| r.rows_affected())
        })
        .context("take record claims")?;
    }
    Ok(())
}

/// Mark `keys` released (of `holder` only, when given) with `stamp`.
async fn mark_released(
    mut c: Conn<'_>,
    pair: &str,
    keys: &[&String],
    holder: Option<&str>,
    stamp: i64,
    now: i64,
) -> Result<u64, StoreError> {
    let mut released = 0;
    for chunk in keys.chunks(KEYS_PER_STATEMENT) {
        let sql = format!(
            "UPDATE record_claims SET expires_at = 0, touched = $2, updated_at = $3 \
             WHERE pair = $1 AND expires_at > 0 AND ($4 IS NULL OR holder = $4) \
             AND record_key IN ({})",
            placeholders(5, chunk.len())
        );
        released += on_conn!(c.reborrow(), |c| {
            let mut query = sqlx::query(&sql)
                .bind(pair)
                .bind(stamp)
                .bind(now)
                .bind(holder);
            for key in chunk {
                query = query.bind(key.as_str());
            }
            query.execute(c).await.map(|r| r.rows_affected())
        })
        .context("release record claims")?;
    }
    Ok(released)
}
