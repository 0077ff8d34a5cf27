//! Airtable REST objects (cells in the V1 REST format, kept as JSON).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};
use time::OffsetDateTime;

use crate::secret::Secret;

/// A record's cells by field name (or id with `returnFieldsByFieldId`).
/// Empty cells (`""`, `[]`, `false`) are absent.
pub type Fields = Map<String, Json>;

/// One record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    pub id: String,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub created_time: Option<OffsetDateTime>,
    #[serde(default)]
    pub fields: Fields,
}

/// One page of `list records`; `offset` is present while more remain.
#[derive(Debug, Clone, Deserialize)]
pub struct RecordPage {
    pub records: Vec<Record>,
    #[serde(default)]
    pub offset: Option<String>,
}

/// A sort key for listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sort {
    pub field: String,
    /// `asc` or `desc`.
    pub direction: String,
}

/// Parameters of `list records` (one page).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListParams {
    /// 1..=100 (Airtable's default and maximum is 100).
    pub page_size: Option<u32>,
    pub offset: Option<String>,
    pub filter_by_formula: Option<String>,
    /// Only these fields (names or ids); empty means all.
    pub fields: Vec<String>,
    pub sort: Vec<Sort>,
    pub view: Option<String>,
    pub return_fields_by_field_id: bool,
}

/// The answer to an upsert: every record, and which were created/updated.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpsertResult {
    pub records: Vec<Record>,
    #[serde(default)]
    pub created_records: Vec<String>,
    #[serde(default)]
    pub updated_records: Vec<String>,
}

/// `{id, deleted}` for each deleted record.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DeletedRecord {
    pub id: String,
    #[serde(default)]
    pub deleted: bool,
}

/// A table of the base schema.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TableSchema {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub primary_field_id: String,
    #[serde(default)]
    pub fields: Vec<FieldSchema>,
    /// The table's views (`{id, name, type}`), which a listing may name.
    #[serde(default)]
    pub views: Vec<ViewSchema>,
}

/// A view of a table, as the base schema lists it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ViewSchema {
    pub id: String,
    pub name: String,
}

/// A field of a table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct FieldSchema {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// Type-specific options (`choices` of a select, `timeZone`, ...).
    #[serde(default)]
    pub options: Option<Json>,
}

impl TableSchema {
    pub fn field(&self, name: &str) -> Option<&FieldSchema> {
        self.fields.iter().find(|f| f.name == name)
    }

    pub fn field_by_id(&self, id: &str) -> Option<&FieldSchema> {
        self.fields.iter().find(|f| f.id == id)
    }
}

impl FieldSchema {
    /// The option names of a single or multiple select.
    pub fn choice_names(&self) -> Vec<&str> {
        let choices = self.options.as_ref().and_then(|o| o["choices"].as_array());
        choices
            .into_iter()
            .flatten()
            .filter_map(|c| c["name"].as_str())
            .collect()
    }
}

/// The token's user (`GET /v0/meta/whoami`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct WhoAmI {
    pub id: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
}

/// The answer to creating a webhook. The MAC secret is shown only once.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedWebhook {
    pub id: String,
    #[serde(deserialize_with = "secret")]
    pub mac_secret_base64: Secret,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub expiration_time: Option<OffsetDateTime>,
}

fn secret<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Secret, D::Error> {
    String::deserialize(d).map(Secret::new)
}

/// A webhook as listed.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookInfo {
    pub id: String,
    #[serde(default)]
    pub are_notifications_enabled: bool,
    #[serde(default)]
    pub cursor_for_next_payload: u64,
    #[serde(default)]
    pub is_hook_enabled: bool,
    #[serde(default)]
    pub notification_url: Option<String>,
    /// `None`: the webhook never expires (legacy API keys only).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub expiration_time: Option<OffsetDateTime>,
    #[serde(default)]
    pub last_successful_notification_time: Option<String>,
    #[serde(default)]
    pub last_notification_result: Option<Json>,
    #[serde(default)]
    pub specification: Json,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn documented_list_and_upsert_bodies_parse() {
        let page: RecordPage = serde_json::from_value(json!({"records": [
            {"createdTime": "2022-09-12T21:03:48.000Z",
             "fields": {"Name": "Union Square", "Visited": true}, "id": "rec560UJdUtocSouk"}]}))
        .unwrap();
        assert_eq!(page.records[0].fields["Name"], "Union Square");
        assert!(page.offset.is_none());
        let upsert: UpsertResult = serde_json::from_value(json!({
            "createdRecords": ["recsHMqsp3GEm3lEi"], "updatedRecords": ["rec560UJdUtocSouk"],
            "records": [{"id": "rec560UJdUtocSouk", "createdTime": "2022-09-12T21:03:48.000Z", "fields": {}}]
        }))
        .unwrap();
        assert_eq!(upsert.created_records, ["recsHMqsp3GEm3lEi"]);
    }

    #[test]
    fn created_webhook_hides_its_secret() {
        let hook: CreatedWebhook = serde_json::from_value(json!({"id": "ach1",
            "macSecretBase64": "c2VjcmV0LWtleQ==", "expirationTime": "2023-01-30T23:55:24.093Z"}))
        .unwrap();
        assert_eq!(hook.mac_secret_base64.expose(), "c2VjcmV0LWtleQ==");
        assert!(!format!("{hook:?}").contains("c2VjcmV0"));
        assert!(hook.expiration_time.is_some());
    }

    #[test]
    fn select_choices_are_listed() {
        let f: FieldSchema = serde_json::from_value(json!({"id": "fld1", "name": "Status",
            "type": "singleSelect", "options": {"choices": [{"id": "sel1", "name": "Draft", "color": "blueLight2"}]}}))
        .unwrap();
        assert_eq!(f.choice_names(), ["Draft"]);
    }
}
