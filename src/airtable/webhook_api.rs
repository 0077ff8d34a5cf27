//! Webhook management endpoints (`/v0/bases/{base}/webhooks/…`).
//!
//! Creating a webhook returns its MAC secret once; store it at once. PAT
//! webhooks expire after 7 days unless refreshed (listing payloads also
//! extends them), and notifications are disabled after a day of failed
//! pings while payloads keep accumulating.

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value as Json, json};
use time::OffsetDateTime;

use super::client::{AirtableClient, Idempotent};
use super::model::{CreatedWebhook, WebhookInfo};
use super::webhook::PayloadPage;
use crate::clients::api_error::ApiError;

#[derive(Deserialize)]
struct Webhooks {
    webhooks: Vec<WebhookInfo>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Expiration {
    #[serde(default, with = "time::serde::rfc3339::option")]
    expiration_time: Option<OffsetDateTime>,
}

impl AirtableClient {
    /// Register a webhook. `specification` is `{"options": {"filters": …}}`
    /// (tables and fields by id); without a URL no pings are sent.
    pub async fn create_webhook(
        &self,
        base: &str,
        notification_url: Option<&str>,
        specification: Json,
    ) -> Result<CreatedWebhook, ApiError> {
        let mut body = json!({ "specification": specification });
        if let Some(url) = notification_url {
            body["notificationUrl"] = json!(url);
        }
        let url = self.url(&["bases", base, "webhooks"]);
        self.send(Some(base), Method::POST, url, Some(&body), Idempotent::No)
            .await
    }

    pub async fn list_webhooks(&self, base: &str) -> Result<Vec<WebhookInfo>, ApiError> {
        let url = self.url(&["bases", base, "webhooks"]);
        Ok(self.get::<Webhooks>(Some(base), url).await?.webhooks)
    }

    /// Extend the webhook's life by 7 days; returns the new expiration
    /// (`None`: it never expires).
    pub async fn refresh_webhook(
        &self,
        base: &str,
        webhook_id: &str,
    ) -> Result<Option<OffsetDateTime>, ApiError> {
        let url = self.url(&["bases", base, "webhooks", webhook_id, "refresh"]);
        let answer: Expiration = self
            .send(Some(base), Method::POST, url, None, Idempotent::No)
            .await?;
        Ok(answer.expiration_time)
    }

    /// Turn pings on or off (payloads are generated either way).
    pub async fn enable_notifications(
        &self,
        base: &str,
        webhook_id: &str,
        enable: bool,
    ) -> Result<(), ApiError> {
        let url = self.url(&["bases", base, "webhooks", webhook_id, "enableNotifications"]);
        let body = json!({ "enable": enable });
        self.send::<Json>(Some(base), Method::POST, url, Some(&body), Idempotent::No)
            .await?;
        Ok(())
    }

    pub async fn delete_webhook(&self, base: &str, webhook_id: &str) -> Result<(), ApiError> {
        let url = self.url(&["bases", base, "webhooks", webhook_id]);
        self.send::<Json>(Some(base), Method::DELETE, url, None, Idempotent::No)
            .await?;
        Ok(())
    }

    /// One page of payloads from `cursor` (Airtable's first cursor is 1;
    /// `limit` is at most 50).
    pub async fn list_payloads(
        &self,
        base: &str,
        webhook_id: &str,
        cursor: u64,
        limit: u32,
    ) -> Result<PayloadPage, ApiError> {
        let mut url = self.url(&["bases", base, "webhooks", webhook_id, "payloads"]);
        url.query_pairs_mut()
            .append_pair("cursor", &cursor.to_string())
            .append_pair("limit", &limit.clamp(1, 50).to_string());
        self.get(Some(base), url).await
    }
}
