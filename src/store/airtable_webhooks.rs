//! The `airtable_webhooks` table: webhooks the service registered on Airtable,
//! with the MAC secret (returned by Airtable only at creation), the payload
//! cursor, and the expiry and notification health to watch.

use crate::secret::Secret;

use super::{Conn, Store, StoreError, Tx, columns::parse_json, error::Context};

/// A registration to store after creating (or re-creating) a webhook.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAirtableWebhook {
    pub webhook_id: String,
    pub pair: String,
    pub base_id: String,
    pub table_id: String,
    pub mac_secret_base64: Secret,
    pub expires_at: Option<i64>,
    pub notification_url: Option<String>,
}

/// What Airtable's webhook list says about a webhook's health.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookStatus {
    pub expires_at: Option<i64>,
    /// `areNotificationsEnabled`.
    pub notifications_enabled: bool,
    /// `isHookEnabled`.
    pub hook_enabled: bool,
    /// `lastNotificationResult` (or the service's own last error), as JSON.
    pub last_result: Option<serde_json::Value>,
}

/// A stored registration.
#[derive(Debug, Clone, PartialEq)]
pub struct AirtableWebhook {
    pub webhook_id: String,
    pub pair: String,
    pub base_id: String,
    pub table_id: String,
    pub mac_secret_base64: Secret,
    /// The next payload cursor to read.
    pub cursor: i64,
    pub expires_at: Option<i64>,
    pub notification_url: Option<String>,
    pub notifications_enabled: bool,
    pub hook_enabled: bool,
    pub last_ping_at: Option<i64>,
    pub last_fetch_at: Option<i64>,
    pub last_result: Option<serde_json::Value>,
    pub created_at: i64,
    pub updated_at: i64,
}

const WEBHOOK_COLUMNS: &str = "webhook_id, pair, base_id, table_id, mac_secret_base64, cursor, \
     expires_at, notification_url, notifications_enabled, hook_enabled, last_ping_at, \
     last_fetch_at, last_result, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct WebhookRow {
    webhook_id: String,
    pair: String,
    base_id: String,
    table_id: String,
    mac_secret_base64: String,
    cursor: i64,
    expires_at: Option<i64>,
    notification_url: Option<String>,
    notifications_enabled: bool,
    hook_enabled: bool,
    last_ping_at: Option<i64>,
    last_fetch_at: Option<i64>,
    last_result: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<WebhookRow> for AirtableWebhook {
    type Error = StoreError;

    fn try_from(r: WebhookRow) -> Result<AirtableWebhook, StoreError> {
        Ok(AirtableWebhook {
            last_result: r
                .last_result
                .map(|t| parse_json("airtable_webhooks", "last_result", &t))
                .transpose()?,
            mac_secret_base64: Secret::new(r.mac_secret_base64),
            webhook_id: r.webhook_id,
            pair: r.pair,
            base_id: r.base_id,
            table_id: r.table_id,
            cursor: r.cursor,
            expires_at: r.expires_at,
            notification_url: r.notification_url,
            notifications_enabled: r.notifications_enabled,
            hook_enabled: r.hook_enabled,
            last_ping_at: r.last_ping_at,
            last_fetch_at: r.last_fetch_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

impl Store {
    /// Store a registration. An existing row with the same id keeps its
    /// cursor and health columns; the rest is replaced.
    pub async fn upsert_webhook(
        &self,
        webhook: &NewAirtableWebhook,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut conn = self.acquire().await?;
        upsert_webhook(conn.conn(), webhook, now).await
    }

    pub async fn get_webhook(
        &self,
        webhook_id: &str,
    ) -> Result<Option<AirtableWebhook>, StoreError> {
        let mut conn = self.acquire().await?;
        get_webhook(conn.conn(), webhook_id).await
    }

    /// All registrations (of one pair if given), by pair then id.
    pub async fn list_webhooks(
        &self,
        pair: Option<&str>,
    ) -> Result<Vec<AirtableWebhook>, StoreError> {
        let mut conn = self.acquire().await?;
        let filter = if pair.is_some() {
            "WHERE pair = $1"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {WEBHOOK_COLUMNS} FROM airtable_webhooks {filter} ORDER BY pair, webhook_id"
        );
        let rows: Vec<WebhookRow> = on_conn!(conn.conn(), |c| {
            let mut query = sqlx::query_as(&sql);
            if let Some(pair) = pair {
                query = query.bind(pair);
            }
            query.fetch_all(c).await
        })
        .context("list Airtable webhooks")?;
        rows.into_iter().map(AirtableWebhook::try_from).collect()
    }

    /// [`Tx::set_webhook_cursor`] on its own.
    pub async fn set_webhook_cursor(
        &self,
        webhook_id: &str,
        cursor: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut conn = self.acquire().await?;
        set_webhook_cursor(conn.conn(), webhook_id, cursor, now).await
    }

    /// A ping arrived for the webhook; false if the webhook is unknown.
    pub async fn record_webhook_ping(&self, webhook_id: &str, at: i64) -> Result<bool, StoreError> {
        let mut conn = self.acquire().await?;
        let updated = on_conn!(conn.conn(), |c| {
            sqlx::query(
                "UPDATE airtable_webhooks SET last_ping_at = $2, updated_at = $2 \
                 WHERE webhook_id = $1",
            )
            .bind(webhook_id)
            .bind(at)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })
        .context("record an Airtable ping")?;
        Ok(updated == 1)
    }

    /// Store what Airtable says about the webhook (after a list or a
    /// refresh); false if the webhook is unknown.
    pub async fn update_webhook_status(
        &self,
        webhook_id: &str,
        status: &WebhookStatus,
        now: i64,
    ) -> Result<bool, StoreError> {
        let last_result = status.last_result.as_ref().map(|v| v.to_string());
        let mut conn = self.acquire().await?;
        let updated = on_conn!(conn.conn(), |c| {
            sqlx::query(
                "UPDATE airtable_webhooks SET expires_at = $2, notifications_enabled = $3, \
                 hook_enabled = $4, last_result = $5, updated_at = $6 WHERE webhook_id = $1",
            )
            .bind(webhook_id)
            .bind(status.expires_at)
            .bind(status.notifications_enabled)
            .bind(status.hook_enabled)
            .bind(&last_result)
            .bind(now)
            .execute(c)
            .await
            .map(|r| r.rows_affected())
        })
        .context("update an Airtable webhook's status")?;
        Ok(updated == 1)
    }

    /// Forget a registration; true if there was one.
    pub async fn delete_webhook(&self, webhook_id: &str) -> Result<bool, StoreError> {
        let mut conn = self.acquire().await?;
        let deleted = on_conn!(conn.conn(), |c| {
            sqlx::query("DELETE FROM airtable_webhooks WHERE webhook_id = $1")
                .bind(webhook_id)
                .execute(c)
                .await
                .map(|r| r.rows_affected())
        })
        .context("delete an Airtable webhook")?;
        Ok(deleted == 1)
    }
}

impl Tx {
    pub async fn upsert_webhook(
        &mut self,
        webhook: &NewAirtableWebhook,
        now: i64,
    ) -> Result<(), StoreError> {
        upsert_webhook(self.conn(), webhook, now).await
    }

    pub async fn get_webhook(
        &mut self,
        webhook_id: &str,
    ) -> Result<Option<AirtableWebhook>, StoreError> {
        get_webhook(self.conn(), webhook_id).await
    }

    /// Save the next payload cursor (with the reconcile jobs the payloads
    /// produced, in this transaction) and the fetch time. Cursors only grow:
    /// false, and nothing changed, if `cursor` is behind the stored one or
    /// the webhook is unknown.
    pub async fn set_webhook_cursor(
        &mut self,
        webhook_id: &str,
        cursor: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        set_webhook_cursor(self.conn(), webhook_id, cursor, now).await
    }
}

async fn upsert_webhook(c: Conn<'_>, w: &NewAirtableWebhook, now: i64) -> Result<(), StoreError> {
    on_conn!(c, |c| {
        sqlx::query(
            "INSERT INTO airtable_webhooks (webhook_id, pair, base_id, table_id, \
                 mac_secret_base64, expires_at, notification_url, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) \
             ON CONFLICT (webhook_id) DO UPDATE SET \
                 pair = excluded.pair, base_id = excluded.base_id, table_id = excluded.table_id, \
                 mac_secret_base64 = excluded.mac_secret_base64, \
                 expires_at = excluded.expires_at, notification_url = excluded.notification_url, \
                 updated_at = excluded.updated_at",
        )
        .bind(&w.webhook_id)
        .bind(&w.pair)
        .bind(&w.base_id)
        .bind(&w.table_id)
        .bind(w.mac_secret_base64.expose())
        .bind(w.expires_at)
        .bind(&w.notification_url)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })
    .context("store an Airtable webhook")?;
    Ok(())
}

async fn get_webhook(c: Conn<'_>, webhook_id: &str) -> Result<Option<AirtableWebhook>, StoreError> {
    let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM airtable_webhooks WHERE webhook_id = $1");
    let row: Option<WebhookRow> = on_conn!(c, |c| {
        sqlx::query_as(&sql)
            .bind(webhook_id)
            .fetch_optional(c)
            .await
    })
    .context("read an Airtable webhook")?;
    row.map(AirtableWebhook::try_from).transpose()
}

async fn set_webhook_cursor(
    c: Conn<'_>,
    webhook_id: &str,
    cursor: i64,
    now: i64,
) -> Result<bool, StoreError> {
    let updated = on_conn!(c, |c| {
        sqlx::query(
            "UPDATE airtable_webhooks SET cursor = $2, last_fetch_at = $3, updated_at = $3 \
             WHERE webhook_id = $1 AND cursor <= $2",
        )
        .bind(webhook_id)
        .bind(cursor)
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected())
    })
    .context("save an Airtable payload cursor")?;
    Ok(updated == 1)
}
