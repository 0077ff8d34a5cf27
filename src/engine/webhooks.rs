//! The Airtable webhook lifecycle: one webhook per pair, registered at
//! `PUBLIC_URL/webhooks/airtable`, watching the mapped fields of the pair's
//! table, with current and previous cell values, and the table's field
//! schemas (a rename, a deletion or a type change re-resolves the pair). Airtable expires webhooks
//! created with a token after 7 days and disables notifications after about
//! a day of failed pings, so `refresh` extends every webhook and turns
//! notifications back on.

use serde_json::{Value as Json, json};
use time::OffsetDateTime;

use super::Engine;
use crate::sync::pair::ResolvedPair;
use crate::{
    airtable::WebhookInfo,
    store::{NewAirtableWebhook, WebhookStatus, now_ms},
};

/// Where Airtable sends pings, under the service's public URL.
pub fn notification_url(public_url: &str) -> String {
    format!("{}/webhooks/airtable", public_url.trim_end_matches('/'))
}

/// The specification of a pair's webhook: table data of the mapped fields
/// (and of the scope's Airtable gate; of every field when the scope names a
/// view or a formula, which may depend on any), and every field schema
/// change of the table (`tableFields`).
pub fn specification(pair: &ResolvedPair) -> Json {
    let fields: Vec<&str> = pair.fields.iter().map(|f| f.airtable_id.as_str()).collect();
    let mut filters = json!({
        "dataTypes": ["tableData", "tableFields"],
        "recordChangeScope": pair.table_id,
    });
    let scope = pair.scope.as_ref();
    if !scope.is_some_and(|s| s.watch_all_fields) {
        let mut watched = fields.clone();
        watched.extend(scope.and_then(|s| s.airtable_gate_id.as_deref()));
        filters["watchDataInFieldIds"] = json!(watched);
    }
    json!({
        "options": {
            "filters": filters,
            "includes": {
                "includeCellValuesInFieldIds": fields,
                "includePreviousCellValues": true,
            }
        }
    })
}

/// What `ensure` did for a pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ensured {
    Existing(String),
    Created(String),
}

/// One line of `webhooks list`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct WebhookLine {
    pub pair: String,
    pub webhook_id: String,
    pub expires_at: Option<String>,
    pub notifications_enabled: bool,
    pub hook_enabled: bool,
    pub cursor: i64,
    pub last_result: Option<Json>,
    /// Registered by the service but gone from Airtable.
    pub missing_in_airtable: bool,
}

impl Engine {
    /// Register the pair's webhook unless a live one is already stored.
    pub async fn ensure_webhook(
        &self,
        pair: &ResolvedPair,
        public_url: &str,
    ) -> anyhow::Result<Ensured> {
        let url = notification_url(public_url);
        let base = &pair.config.airtable_base_id;
        let live = self.airtable.list_webhooks(base).await?;
        for stored in self.store.list_webhooks(Some(pair.name())).await? {
            let found = live.iter().find(|w| {
                w.id == stored.webhook_id && w.notification_url.as_deref() == Some(url.as_str())
            });
            match found {
                Some(w)
                    if watches_schema(&w.specification)
                        && watches_same_data(&w.specification, &specification(pair)) =>
                {
                    return Ok(Ensured::Existing(stored.webhook_id));
                }
                Some(_) => {
                    // Registered before field schemas were watched, or for
                    // other fields (the mapping or the scope changed):
                    // replace it, so every change that matters reaches the
                    // service.
                    tracing::info!(pair = pair.name(), webhook = %stored.webhook_id, "webhook does not watch the field schemas or the fields the pair needs: replacing it");
                    self.airtable
                        .delete_webhook(base, &stored.webhook_id)
                        .await?;
                    self.store.delete_webhook(&stored.webhook_id).await?;
                    continue;
                }
                None => {}
            }
            // Expired and purged, or registered for another URL: replace it.
            tracing::warn!(pair = pair.name(), webhook = %stored.webhook_id, "stored webhook is gone or points elsewhere: registering a new one");
            self.store.delete_webhook(&stored.webhook_id).await?;
        }
        let created = self
            .airtable
            .create_webhook(base, Some(&url), specification(pair))
            .await?;
        self.store
            .upsert_webhook(
                &NewAirtableWebhook {
                    webhook_id: created.id.clone(),
                    pair: pair.name().to_owned(),
                    base_id: base.clone(),
                    table_id: pair.table_id.clone(),
                    mac_secret_base64: created.mac_secret_base64,
                    expires_at: created.expiration_time.map(ms),
                    notification_url: Some(url),
                },
                now_ms(),
            )
            .await?;
        Ok(Ensured::Created(created.id))
    }

    /// Extend every stored webhook of the pair by 7 days and re-enable
    /// notifications Airtable disabled. Returns the webhooks refreshed.
    pub async fn refresh_webhooks(&self, pair: &ResolvedPair) -> anyhow::Result<Vec<String>> {
        let base = &pair.config.airtable_base_id;
        let live = self.airtable.list_webhooks(base).await?;
        let mut refreshed = Vec::new();
        for stored in self.store.list_webhooks(Some(pair.name())).await? {
            let Some(info) = live.iter().find(|w| w.id == stored.webhook_id) else {
                tracing::warn!(pair = pair.name(), webhook = %stored.webhook_id, "webhook no longer exists in Airtable; run `webhooks ensure`");
                continue;
            };
            let expires = self
                .airtable
                .refresh_webhook(base, &stored.webhook_id)
                .await?;
            if !info.are_notifications_enabled {
                tracing::warn!(pair = pair.name(), webhook = %stored.webhook_id, "Airtable had disabled notifications: enabling them again");
                self.airtable
                    .enable_notifications(base, &stored.webhook_id, true)
                    .await?;
            }
            let status = WebhookStatus {
                expires_at: expires.map(ms),
                notifications_enabled: true,
                hook_enabled: info.is_hook_enabled,
                last_result: info.last_notification_result.clone(),
            };
            self.store
                .update_webhook_status(&stored.webhook_id, &status, now_ms())
                .await?;
            refreshed.push(stored.webhook_id);
        }
        Ok(refreshed)
    }

    /// The pair's webhooks, as stored and as Airtable reports them.
    pub async fn list_webhooks(&self, pair: &ResolvedPair) -> anyhow::Result<Vec<WebhookLine>> {
        let live = self
            .airtable
            .list_webhooks(&pair.config.airtable_base_id)
            .await?;
        let stored = self.store.list_webhooks(Some(pair.name())).await?;
        Ok(stored
            .into_iter()
            .map(|s| {
                let info: Option<&WebhookInfo> = live.iter().find(|w| w.id == s.webhook_id);
                WebhookLine {
                    pair: s.pair,
                    expires_at: info
                        .and_then(|i| i.expiration_time)
                        .map(crate::sync::value::format_instant),
                    notifications_enabled: info.is_some_and(|i| i.are_notifications_enabled),
                    hook_enabled: info.is_some_and(|i| i.is_hook_enabled),
                    last_result: info.and_then(|i| i.last_notification_result.clone()),
                    missing_in_airtable: info.is_none(),
                    cursor: s.cursor,
                    webhook_id: s.webhook_id,
                }
            })
            .collect())
    }
}

/// The webhook's specification includes field schema changes.
fn watches_schema(spec: &Json) -> bool {
    spec["options"]["filters"]["dataTypes"]
        .as_array()
        .is_some_and(|types| types.iter().any(|t| t == "tableFields"))
}

/// Both specifications watch the same cells (the same field ids, in any
/// order, or every field).
fn watches_same_data(live: &Json, wanted: &Json) -> bool {
    let ids = |spec: &Json| {
        spec["options"]["filters"]["watchDataInFieldIds"]
            .as_array()
            .map(|ids| {
                let mut ids: Vec<String> = ids
                    .iter()
                    .filter_map(|i| i.as_str().map(str::to_owned))
                    .collect();
                ids.sort();
                ids
            })
    };
    ids(live) == ids(wanted)
}

fn ms(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000_000) as i64
}
