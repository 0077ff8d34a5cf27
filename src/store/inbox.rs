//! What arrives unannounced: the `webhook_inbox` (one row per webhook event,
//! for de-duplication) and `notion_verification_tokens` (Notion's one-time
//! handshake, kept as pending until an operator acknowledges it).

use crate::secret::Secret;

use super::{Conn, Store, StoreError, Tx, error::Context};

/// How many verification tokens are kept (the newest). Notion sends one per
/// subscription created or "Resend token" pressed; a handful covers an
/// operator trying twice, and bounds what an anonymous flood can store.
pub const MAX_VERIFICATION_TOKENS: i64 = 5;

/// Pending verification tokens, newest first.
pub(super) const PENDING_TOKENS: &str = "SELECT token, received_at, remote_addr, acknowledged, acknowledged_at \
     FROM notion_verification_tokens WHERE NOT acknowledged \
     ORDER BY received_at DESC, token";

/// A webhook event as recorded in the inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxEvent {
    /// `notion` or `airtable`.
    pub source: String,
    pub event_id: String,
    pub received_at: i64,
    /// Short description for the operator (event type, entity); no secrets.
    pub summary: Option<String>,
}

/// A Notion verification token received by the webhook endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationToken {
    pub token: Secret,
    pub received_at: i64,
    pub remote_addr: Option<String>,
    pub acknowledged: bool,
    pub acknowledged_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct TokenRow {
    token: String,
    received_at: i64,
    remote_addr: Option<String>,
    acknowledged: bool,
    acknowledged_at: Option<i64>,
}

impl From<TokenRow> for VerificationToken {
    fn from(r: TokenRow) -> Self {
        VerificationToken {
            token: Secret::new(r.token),
            received_at: r.received_at,
            remote_addr: r.remote_addr,
            acknowledged: r.acknowledged,
            acknowledged_at: r.acknowledged_at,
        }
    }
}

impl Store {
    /// [`Tx::insert_inbox`] on its own (autocommit).
    pub async fn insert_inbox(&self, event: &InboxEvent) -> Result<bool, StoreError> {
        let mut conn = self.acquire().await?;
        insert_inbox(conn.conn(), event).await
    }

    /// Forget events received before `before` (senders stop retrying after
    /// a few days), a batch at a time; returns how many.
    pub async fn prune_inbox(&self, before: i64) -> Result<u64, StoreError> {
        self.delete_in_batches(
            "prune the webhook inbox",
            &super::prune::PRUNE_INBOX,
            before,
        )
        .await
    }

    /// Record a verification token; false if it was already recorded. Only
    /// the [`MAX_VERIFICATION_TOKENS`] newest tokens are kept: anyone can
    /// post one, so the table must not grow with what strangers send.
    pub async fn record_verification_token(
        &self,
        token: &Secret,
        received_at: i64,
        remote_addr: Option<&str>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let inserted = on_conn!(tx.conn(), |c| {
            let inserted = sqlx::query(
                "INSERT INTO notion_verification_tokens (token, received_at, remote_addr) \
                 VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            )
            .bind(token.expose())
            .bind(received_at)
            .bind(remote_addr)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected());
            match inserted {
                Ok(inserted) => sqlx::query(
                    "DELETE FROM notion_verification_tokens WHERE token NOT IN \
                     (SELECT token FROM notion_verification_tokens \
                      ORDER BY received_at DESC, token DESC LIMIT $1)",
                )
                .bind(MAX_VERIFICATION_TOKENS)
                .execute(&mut *c)
                .await
                .map(|_| inserted),
                Err(e) => Err(e),
            }
        })
        .context("record a Notion verification token")?;
        tx.commit().await?;
        Ok(inserted == 1)
    }

    /// Tokens no operator has acknowledged yet, newest first.
    pub async fn pending_verification_tokens(&self) -> Result<Vec<VerificationToken>, StoreError> {
        let mut conn = self.acquire().await?;
        let rows: Vec<TokenRow> = on_conn!(conn.conn(), |c| {
            sqlx::query_as(PENDING_TOKENS).fetch_all(c).await
        })
        .context("list pending Notion verification tokens")?;
        Ok(rows.into_iter().map(VerificationToken::from).collect())
    }

    /// An operator confirmed the token; false if it is unknown or was already
    /// acknowledged.
    pub async fn acknowledge_verification_token(
        &self,
        token: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut conn = self.acquire().await?;
        let updated = on_conn!(conn.conn(), |c| {
            sqlx::query(
                "UPDATE notion_verification_tokens SET acknowledged = TRUE, acknowledged_at = $2 \
                 WHERE token = $1 AND NOT acknowledged",
            )
            .bind(token)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })
        .context("acknowledge a Notion verification token")?;
        Ok(updated == 1)
    }
}

impl Tx {
    /// Record a webhook event; false if it was recorded before (a duplicate
    /// delivery: acknowledge it and do nothing else).
    pub async fn insert_inbox(&mut self, event: &InboxEvent) -> Result<bool, StoreError> {
        insert_inbox(self.conn(), event).await
    }
}

async fn insert_inbox(c: Conn<'_>, event: &InboxEvent) -> Result<bool, StoreError> {
    let inserted = on_conn!(c, |c| {
        sqlx::query(
            "INSERT INTO webhook_inbox (source, event_id, received_at, summary) \
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(&event.source)
        .bind(&event.event_id)
        .bind(event.received_at)
        .bind(&event.summary)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })
    .context("record a webhook event")?;
    Ok(inserted == 1)
}
