//! Webhook payloads (`GET …/webhooks/{id}/payloads`) and the cursor walk.
//!
//! A ping says only "something changed": the service reads payloads from
//! its stored cursor until `mightHaveMore` is false. Cell values in payloads
//! use Airtable's V2 format (a single select is `{id,name,color}`), so they
//! are kept as JSON for the converters. Payloads older than 7 days are
//! purged; a walk whose cursor moves past payloads it never returned has
//! missed changes and reports a [`Gap`] so the caller runs a full reconcile.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};
use time::OffsetDateTime;

use super::client::AirtableClient;
use crate::clients::api_error::ApiError;

/// Most payloads Airtable returns per request.
pub const MAX_PAYLOADS_PER_PAGE: u32 = 50;

/// One page of payloads. `cursor` is the cursor to ask for next.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PayloadPage {
    pub payloads: Vec<Payload>,
    pub cursor: u64,
    #[serde(default)]
    pub might_have_more: bool,
}

/// One payload: the changes of (part of) one base transaction, or an error
/// payload (`{"error": true, "code": "INVALID_FILTERS" | "INVALID_HOOK" | …}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Payload {
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub timestamp: Option<OffsetDateTime>,
    pub base_transaction_number: u64,
    #[serde(default)]
    pub payload_format: String,
    #[serde(default)]
    pub action_metadata: Option<ActionMetadata>,
    #[serde(default)]
    pub changed_tables_by_id: BTreeMap<String, TableChanged>,
    #[serde(default)]
    pub created_tables_by_id: BTreeMap<String, Json>,
    #[serde(default)]
    pub destroyed_table_ids: Vec<String>,
    #[serde(default)]
    pub error: bool,
    #[serde(default)]
    pub code: Option<String>,
}

/// Who or what made the change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionMetadata {
    pub source: Source,
    #[serde(default)]
    pub source_metadata: SourceMetadata,
}

/// The change's source; values Airtable adds later are kept as `Other`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum Source {
    Client,
    PublicApi,
    FormSubmission,
    FormPageSubmission,
    Automation,
    System,
    Sync,
    AnonymousUser,
    Unknown,
    Other(String),
}

impl From<String> for Source {
    fn from(s: String) -> Self {
        match s.as_str() {
            "client" => Source::Client,
            "publicApi" => Source::PublicApi,
            "formSubmission" => Source::FormSubmission,
            "formPageSubmission" => Source::FormPageSubmission,
            "automation" => Source::Automation,
            "system" => Source::System,
            "sync" => Source::Sync,
            "anonymousUser" => Source::AnonymousUser,
            "unknown" => Source::Unknown,
            _ => Source::Other(s),
        }
    }
}

impl From<Source> for String {
    fn from(s: Source) -> Self {
        let name = match s {
            Source::Client => "client",
            Source::PublicApi => "publicApi",
            Source::FormSubmission => "formSubmission",
            Source::FormPageSubmission => "formPageSubmission",
            Source::Automation => "automation",
            Source::System => "system",
            Source::Sync => "sync",
            Source::AnonymousUser => "anonymousUser",
            Source::Unknown => "unknown",
            Source::Other(other) => return other,
        };
        name.to_owned()
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SourceMetadata {
    #[serde(default)]
    pub user: Option<SourceUser>,
}

/// The user behind a change (present for `client` and, we expect, `publicApi`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceUser {
    pub id: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub permission_level: Option<String>,
}

/// What changed in one table.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TableChanged {
    pub changed_metadata: Option<Json>,
    pub created_fields_by_id: BTreeMap<String, Json>,
    pub changed_fields_by_id: BTreeMap<String, Json>,
    pub destroyed_field_ids: Vec<String>,
    pub created_records_by_id: BTreeMap<String, CreatedRecord>,
    pub changed_records_by_id: BTreeMap<String, ChangedRecord>,
    pub destroyed_record_ids: Vec<String>,
    pub changed_views_by_id: BTreeMap<String, Json>,
}

/// Cell values by field id, in the V2 (webhook) format.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CellValues {
    pub cell_values_by_field_id: Map<String, Json>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CreatedRecord {
    pub created_time: Option<String>,
    pub cell_values_by_field_id: Map<String, Json>,
}

/// `previous` and `unchanged` appear only when the specification asks.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ChangedRecord {
    pub current: CellValues,
    pub previous: Option<CellValues>,
    pub unchanged: Option<CellValues>,
}

impl Payload {
    /// The error code of an error payload.
    pub fn error_code(&self) -> Option<&str> {
        self.error
            .then(|| self.code.as_deref().unwrap_or("UNKNOWN_ERROR"))
    }

    pub fn source(&self) -> Option<&Source> {
        self.action_metadata.as_ref().map(|m| &m.source)
    }

    /// The id of the user behind the change, when Airtable names one.
    pub fn user_id(&self) -> Option<&str> {
        let user = self
            .action_metadata
            .as_ref()?
            .source_metadata
            .user
            .as_ref()?;
        Some(&user.id)
    }
}

impl TableChanged {
    /// Every record created, changed or destroyed in this table.
    pub fn touched_record_ids(&self) -> Vec<&str> {
        let created = self.created_records_by_id.keys();
        let changed = self.changed_records_by_id.keys();
        let mut ids: Vec<&str> = created.chain(changed).map(String::as_str).collect();
        ids.extend(self.destroyed_record_ids.iter().map(String::as_str));
        ids
    }
}

/// The cursor moved past payloads that were never returned (purged after
/// 7 days, or otherwise lost): the changes they held are missed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    /// The cursor the page was requested from.
    pub requested_cursor: u64,
    /// How many cursor positions were skipped.
    pub missed: u64,
}

/// The result of draining a webhook's payloads from a cursor.
#[derive(Debug, Clone)]
pub struct PayloadDrain {
    pub payloads: Vec<Payload>,
    /// The cursor to store and use next time.
    pub cursor: u64,
    /// Set when payloads were missed; the caller should reconcile fully.
    pub gap: Option<Gap>,
}

/// A gap, if the page's cursor moved further than the payloads it returned.
///
/// api-facts (§3.4) reads the cursor as a base transaction number and
/// suggests comparing the first `baseTransactionNumber` with the requested
/// cursor. Airtable's list-webhooks docs describe `cursorForNextPayload` as
/// counting this webhook's payloads instead, and then transaction numbers
/// (base-wide) and cursors cannot be compared. Counting cursor positions
/// against payloads returned detects a purge under both readings (under
/// the first, the two checks agree), and never fires on a complete page.
pub fn gap_in(requested_cursor: u64, page: &PayloadPage) -> Option<Gap> {
    let advanced = page.cursor.saturating_sub(requested_cursor);
    let returned = page.payloads.len() as u64;
    // `then`, not `then_some`: the subtraction must only run when it cannot
    // underflow (a page that returns more payloads than its cursor moved).
    (advanced > returned).then(|| Gap {
        requested_cursor,
        missed: advanced - returned,
    })
}

impl AirtableClient {
    /// Read every payload from `cursor` on: pages of 50 until `mightHaveMore`
    /// is false, an empty page (as pyairtable does, so a server that keeps
    /// saying "more" cannot loop us forever), or a cursor that stops moving.
    pub async fn drain_payloads(
        &self,
        base: &str,
        webhook_id: &str,
        cursor: u64,
    ) -> Result<PayloadDrain, ApiError> {
        let mut drain = PayloadDrain {
            payloads: Vec::new(),
            cursor,
            gap: None,
        };
        loop {
            let requested = drain.cursor;
            let page = self
                .list_payloads(base, webhook_id, requested, MAX_PAYLOADS_PER_PAGE)
                .await?;
            drain.gap = drain.gap.or_else(|| gap_in(requested, &page));
            let done =
                !page.might_have_more || page.payloads.is_empty() || page.cursor <= requested;
            drain.cursor = drain.cursor.max(page.cursor);
            drain.payloads.extend(page.payloads);
            if done {
                return Ok(drain);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn documented_payload_page_parses() {
        let page: PayloadPage = serde_json::from_value(json!({
            "payloads": [{"timestamp": "2022-02-01T21:25:05.663Z", "baseTransactionNumber": 4,
                "actionMetadata": {"source": "client", "sourceMetadata": {"user": {
                    "id": "usr00000000000000", "email": "foo@bar.com", "permissionLevel": "create"}}},
                "payloadFormat": "v0"}],
            "cursor": 5, "mightHaveMore": false
        }))
        .unwrap();
        let p = &page.payloads[0];
        assert_eq!(p.source(), Some(&Source::Client));
        assert_eq!(p.user_id(), Some("usr00000000000000"));
        assert_eq!(page.cursor, 5);
        assert_eq!(gap_in(4, &page), None);
        assert_eq!(
            gap_in(2, &page),
            Some(Gap {
                requested_cursor: 2,
                missed: 2
            })
        );
        let empty = PayloadPage {
            payloads: vec![],
            cursor: 7,
            might_have_more: false,
        };
        assert_eq!(gap_in(7, &empty), None);
        // More payloads than the cursor moved (a confused server): no gap,
        // and no arithmetic overflow.
        let crowded = PayloadPage {
            payloads: vec![page.payloads[0].clone(), page.payloads[0].clone()],
            cursor: 8,
            might_have_more: false,
        };
        assert_eq!(gap_in(7, &crowded), None);
    }

    #[test]
    fn error_payloads_and_unknown_sources_are_read() {
        let p: Payload = serde_json::from_value(json!({"timestamp": "2022-02-01T21:25:05.663Z",
            "baseTransactionNumber": 4, "payloadFormat": "v0", "error": true, "code": "INVALID_HOOK"}))
        .unwrap();
        assert_eq!(p.error_code(), Some("INVALID_HOOK"));
        let p: Payload = serde_json::from_value(json!({"baseTransactionNumber": 9,
            "actionMetadata": {"source": "aiAgent", "sourceMetadata": {}}}))
        .unwrap();
        assert_eq!(p.source(), Some(&Source::Other("aiAgent".into())));
        assert_eq!(p.error_code(), None);
    }

    #[test]
    fn table_changes_list_every_touched_record() {
        let t: TableChanged = serde_json::from_value(json!({
            "createdRecordsById": {"recA": {"createdTime": "2022-02-01T21:25:05.663Z",
                "cellValuesByFieldId": {"fld1": {"id": "sel1", "name": "Ready", "color": "blue"}}}},
            "changedRecordsById": {"recB": {"current": {"cellValuesByFieldId": {"fld1": "x"}},
                "previous": {"cellValuesByFieldId": {"fld1": "y"}}}},
            "destroyedRecordIds": ["recC"]
        }))
        .unwrap();
        assert_eq!(t.touched_record_ids(), ["recA", "recB", "recC"]);
        assert_eq!(
            t.changed_records_by_id["recB"]
                .previous
                .as_ref()
                .unwrap()
                .cell_values_by_field_id["fld1"],
            "y"
        );
    }
}
