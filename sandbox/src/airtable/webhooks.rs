//! Webhooks as Airtable keeps them (api-facts §3): the specification, the payload log with
//! its per-webhook cursor, expiry, and the notification state shown by list-webhooks.
//!
//! Numbering: `baseTransactionNumber` is base-wide (every write to the base gets the next
//! number), while the payload cursor counts this webhook's payloads from 1
//! (`cursorForNextPayload` "will increase every time a new payload is generated for this
//! webhook" — list-webhooks docs, as mirrored by airtable.net's wiki). The two are different
//! numbers: do not compare one with the other.
//!
//! Retention: payloads older than 7 days (sandbox clock) are deleted, and
//! `purge_payloads_before` deletes older ones on demand. The docs do not say what listing
//! from a purged cursor returns [U]; the sandbox returns the oldest payloads still kept and
//! the cursor after them, so a client sees the gap as
//! `response.cursor - request.cursor > payloads.len()`.

use std::collections::VecDeque;

use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};

use super::errors::{AtError, AtResult};
use super::table::Base;
use crate::common::airtable_time;

/// Webhooks created with a token expire 7 days after creation or the last refresh.
pub(crate) const LIFETIME: Duration = Duration::days(7);
/// Payloads are deleted after a week; expired webhooks stay readable for another week.
pub(crate) const RETENTION: Duration = Duration::days(7);
pub(crate) const MAX_WEBHOOKS_PER_BASE: usize = 10;
pub(crate) const MAX_PAYLOADS_PER_PAGE: usize = 50;

const DATA_TYPES: [&str; 3] = ["tableData", "tableFields", "tableMetadata"];
const CHANGE_TYPES: [&str; 3] = ["add", "remove", "update"];
/// [S] the full list comes from third-party types; the official page is truncated.
const SOURCES: [&str; 9] = [
    "client",
    "publicApi",
    "formSubmission",
    "formPageSubmission",
    "automation",
    "system",
    "sync",
    "anonymousUser",
    "unknown",
];

/// `includes.includeCellValuesInFieldIds`.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) enum IncludeCells {
    #[default]
    None,
    All,
    Fields(Vec<String>),
}

impl IncludeCells {
    pub fn contains(&self, field_id: &str) -> bool {
        match self {
            Self::None => false,
            Self::All => true,
            Self::Fields(ids) => ids.iter().any(|f| f == field_id),
        }
    }
}

/// The parts of a specification that decide which payloads a webhook gets.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Spec {
    pub data_types: Vec<String>,
    /// A `tbl…` or `viw…` id; `None` = every table of the base.
    pub scope: Option<String>,
    pub change_types: Option<Vec<String>>,
    pub from_sources: Option<Vec<String>>,
    pub watch_fields: Option<Vec<String>>,
    /// `watchSchemasOfFieldIds`: only these fields' schema changes (`tableFields`).
    pub watch_schema_fields: Option<Vec<String>>,
    pub include_cells: IncludeCells,
    pub include_previous: bool,
    /// `includePreviousFieldDefinitions`: `previous` in changedFieldsById.
    pub include_previous_fields: bool,
}

impl Spec {
    pub fn has_data_type(&self, data_type: &str) -> bool {
        self.data_types.iter().any(|d| d == data_type)
    }
}

#[derive(Clone, Debug)]
pub(crate) struct StoredPayload {
    pub cursor: u64,
    pub transaction: u64,
    pub timestamp: OffsetDateTime,
    pub body: Value,
}

#[derive(Clone, Debug)]
pub(crate) struct Webhook {
    pub id: String,
    pub mac_secret: String,
    pub notification_url: Option<String>,
    pub spec: Spec,
    /// The specification as the client sent it, echoed by list-webhooks.
    pub spec_json: Value,
    pub expiration: OffsetDateTime,
    pub notifications_enabled: bool,
    pub payloads: VecDeque<StoredPayload>,
    pub next_cursor: u64,
    pub last_success: Option<OffsetDateTime>,
    pub last_result: Option<Value>,
    /// A ping is scheduled and not yet sent: further changes coalesce into it.
    pub ping_pending: bool,
}

impl Webhook {
    pub fn is_expired(&self, now: OffsetDateTime) -> bool {
        now >= self.expiration
    }

    /// Gone for good: a week after expiry even the metadata is deleted.
    pub fn is_gone(&self, now: OffsetDateTime) -> bool {
        now >= self.expiration + RETENTION
    }

    /// Whether a new payload should lead to a ping.
    pub fn wants_ping(&self, now: OffsetDateTime) -> bool {
        self.notification_url.is_some() && self.notifications_enabled && !self.is_expired(now)
    }

    /// Append a payload for transaction `transaction`.
    pub fn append(&mut self, transaction: u64, timestamp: OffsetDateTime, mut body: Value) {
        body["baseTransactionNumber"] = json!(transaction);
        self.payloads.push_back(StoredPayload {
            cursor: self.next_cursor,
            transaction,
            timestamp,
            body,
        });
        self.next_cursor += 1;
    }

    /// Delete payloads of transactions before `transaction`; returns how many.
    pub fn purge_before(&mut self, transaction: u64) -> usize {
        let before = self.payloads.len();
        self.payloads.retain(|p| p.transaction >= transaction);
        before - self.payloads.len()
    }

    fn purge_older_than(&mut self, cutoff: OffsetDateTime) {
        self.payloads.retain(|p| p.timestamp >= cutoff);
    }

    /// `GET …/payloads?cursor=&limit=` → `{payloads, cursor, mightHaveMore}`. Listing
    /// also extends an unexpired webhook's life by 7 days.
    pub fn list_payloads(&mut self, cursor: u64, limit: usize, now: OffsetDateTime) -> Value {
        self.purge_older_than(now - RETENTION);
        if !self.is_expired(now) {
            self.expiration = now + LIFETIME;
        }
        let oldest = self.payloads.front().map_or(self.next_cursor, |p| p.cursor);
        // A cursor pointing at purged payloads starts at the oldest one still kept.
        let start = if cursor < self.next_cursor {
            cursor.max(oldest)
        } else {
            cursor
        };
        let page: Vec<&StoredPayload> = self
            .payloads
            .iter()
            .filter(|p| p.cursor >= start)
            .take(limit)
            .collect();
        let next = page.last().map_or(start, |p| p.cursor + 1);
        json!({
            "payloads": page.iter().map(|p| p.body.clone()).collect::<Vec<_>>(),
            "cursor": next,
            "mightHaveMore": next < self.next_cursor,
        })
    }

    /// One entry of `GET /v0/bases/{base}/webhooks`.
    pub fn to_list_json(&self, now: OffsetDateTime) -> Value {
        json!({
            "id": self.id,
            "areNotificationsEnabled": self.notifications_enabled,
            "cursorForNextPayload": self.next_cursor,
            "isHookEnabled": !self.is_expired(now),
            "lastSuccessfulNotificationTime": self.last_success.map(airtable_time),
            "notificationUrl": self.notification_url,
            "expirationTime": airtable_time(self.expiration),
            "lastNotificationResult": self.last_result,
            "specification": self.spec_json,
        })
    }
}

/// Validate a create-webhook body against `base` and build the webhook. Tables and fields
/// must be given by id (api-facts §3.2). [U] the error type names for an invalid
/// specification are not documented: the sandbox answers 422 `INVALID_REQUEST_UNKNOWN`
/// with a message naming the problem.
pub(crate) fn parse_create(base: &Base, body: &Value) -> AtResult<(Option<String>, Spec, Value)> {
    let url = match body.get("notificationUrl") {
        None | Some(Value::Null) => None,
        Some(Value::String(u)) => Some(check_url(u)?),
        Some(_) => return Err(AtError::invalid_request("notificationUrl must be a string")),
    };
    let spec_json = body
        .get("specification")
        .filter(|s| s.is_object())
        .cloned()
        .ok_or_else(|| AtError::invalid_request("specification is required"))?;
    let spec = parse_spec(base, &spec_json)?;
    Ok((url, spec, spec_json))
}

fn check_url(u: &str) -> AtResult<String> {
    match url::Url::parse(u) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => Ok(u.to_string()),
        _ => Err(AtError::invalid_request(format!(
            "notificationUrl \"{u}\" is not a valid URL"
        ))),
    }
}

fn parse_spec(base: &Base, spec: &Value) -> AtResult<Spec> {
    let options = &spec["options"];
    let filters = &options["filters"];
    let data_types = strings(&filters["dataTypes"], "filters.dataTypes")?
        .filter(|d| !d.is_empty())
        .ok_or_else(|| AtError::invalid_request("filters.dataTypes is required"))?;
    check_members(&data_types, &DATA_TYPES, "filters.dataTypes")?;
    let scope = match &filters["recordChangeScope"] {
        Value::Null => None,
        Value::String(s) => Some(check_scope(base, s)?),
        _ => return Err(AtError::invalid_request("recordChangeScope must be an id")),
    };
    let change_types = strings(&filters["changeTypes"], "filters.changeTypes")?;
    if let Some(c) = &change_types {
        check_members(c, &CHANGE_TYPES, "filters.changeTypes")?;
    }
    let from_sources = strings(&filters["fromSources"], "filters.fromSources")?;
    if let Some(s) = &from_sources {
        check_members(s, &SOURCES, "filters.fromSources")?;
    }
    let watch_fields = strings(
        &filters["watchDataInFieldIds"],
        "filters.watchDataInFieldIds",
    )?;
    if let Some(ids) = &watch_fields {
        check_field_ids(base, scope.as_deref(), ids)?;
    }
    let watch_schema_fields = strings(
        &filters["watchSchemasOfFieldIds"],
        "filters.watchSchemasOfFieldIds",
    )?;
    if let Some(ids) = &watch_schema_fields {
        check_field_ids(base, scope.as_deref(), ids)?;
    }
    let includes = &options["includes"];
    Ok(Spec {
        data_types,
        scope,
        change_types,
        from_sources,
        watch_fields,
        watch_schema_fields,
        include_cells: parse_include_cells(base, scope_ref(spec), includes)?,
        include_previous: includes["includePreviousCellValues"]
            .as_bool()
            .unwrap_or(false),
        include_previous_fields: includes["includePreviousFieldDefinitions"]
            .as_bool()
            .unwrap_or(false),
    })
}

fn scope_ref(spec: &Value) -> Option<&str> {
    spec["options"]["filters"]["recordChangeScope"].as_str()
}

fn parse_include_cells(
    base: &Base,
    scope: Option<&str>,
    includes: &Value,
) -> AtResult<IncludeCells> {
    match &includes["includeCellValuesInFieldIds"] {
        Value::Null => Ok(IncludeCells::None),
        Value::String(s) if s == "all" => Ok(IncludeCells::All),
        v => {
            let ids = strings(v, "includes.includeCellValuesInFieldIds")?.unwrap_or_default();
            check_field_ids(base, scope, &ids)?;
            Ok(IncludeCells::Fields(ids))
        }
    }
}

/// An optional array of strings.
fn strings(v: &Value, what: &str) -> AtResult<Option<Vec<String>>> {
    match v {
        Value::Null => Ok(None),
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .map(Some)
            .ok_or_else(|| AtError::invalid_request(format!("{what} must be an array of strings"))),
        _ => Err(AtError::invalid_request(format!("{what} must be an array"))),
    }
}

fn check_members(values: &[String], allowed: &[&str], what: &str) -> AtResult<()> {
    match values.iter().find(|v| !allowed.contains(&v.as_str())) {
        Some(bad) => Err(AtError::invalid_request(format!(
            "{what}: unknown value \"{bad}\""
        ))),
        None => Ok(()),
    }
}

/// `recordChangeScope` must be the id of a table (or its view) in this base, not a name.
fn check_scope(base: &Base, scope: &str) -> AtResult<String> {
    let known = base
        .tables
        .iter()
        .any(|t| t.id == scope || t.view_id == scope);
    if known {
        Ok(scope.to_string())
    } else {
        Err(AtError::invalid_request(format!(
            "recordChangeScope \"{scope}\" is not the id of a table or view in this base"
        )))
    }
}

/// Field ids must be ids (not names) of fields in the scoped table (or any table).
fn check_field_ids(base: &Base, scope: Option<&str>, ids: &[String]) -> AtResult<()> {
    let in_scope = |t: &&super::table::Table| scope.is_none_or(|s| t.id == s || t.view_id == s);
    for id in ids {
        let known = base
            .tables
            .iter()
            .filter(in_scope)
            .any(|t| t.field_by_id(id).is_some());
        if !known {
            return Err(AtError::invalid_request(format!(
                "\"{id}\" is not the id of a field in the webhook's scope"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::airtable::schema::{FieldSchema, FieldType};
    use crate::airtable::table::Table;
    use std::collections::VecDeque;

    fn base() -> Base {
        let mut b = Base::new("B");
        b.tables.push(Table::new(
            "T",
            &[FieldSchema::new("Name", FieldType::SingleLineText)],
        ));
        b
    }

    fn hook(spec: Spec) -> Webhook {
        Webhook {
            id: "achTest".into(),
            mac_secret: String::new(),
            notification_url: None,
            spec,
            spec_json: Value::Null,
            expiration: time::macros::datetime!(2030-01-01 00:00 UTC),
            notifications_enabled: true,
            payloads: VecDeque::new(),
            next_cursor: 1,
            last_success: None,
            last_result: None,
            ping_pending: false,
        }
    }

    #[test]
    fn specs_must_use_ids() {
        let b = base();
        let tbl = b.tables[0].id.clone();
        let fld = b.tables[0].fields[0].id.clone();
        let ok = json!({"specification": {"options": {
            "filters": {"dataTypes": ["tableData"], "recordChangeScope": tbl},
            "includes": {"includeCellValuesInFieldIds": [fld]}}}});
        let (_, spec, _) = parse_create(&b, &ok).unwrap();
        assert_eq!(spec.include_cells, IncludeCells::Fields(vec![fld]));
        let by_name = json!({"specification": {"options": {
            "filters": {"dataTypes": ["tableData"], "recordChangeScope": "T"}}}});
        assert_eq!(parse_create(&b, &by_name).unwrap_err().status, 422);
        let no_types = json!({"specification": {"options": {"filters": {}}}});
        assert!(parse_create(&b, &no_types).is_err());
    }

    #[test]
    fn cursor_walk_and_purge_gap() {
        let now = time::macros::datetime!(2026-01-01 00:00 UTC);
        let mut h = hook(Spec::default());
        for txn in 10..20 {
            h.append(txn, now, json!({}));
        }
        let page = h.list_payloads(1, 4, now);
        assert_eq!(page["payloads"].as_array().unwrap().len(), 4);
        assert_eq!(page["cursor"], 5);
        assert_eq!(page["mightHaveMore"], true);
        assert_eq!(h.purge_before(15), 5);
        // Cursor 5 was purged: the page starts at cursor 6 and the gap shows in the cursor.
        let page = h.list_payloads(5, 50, now);
        assert_eq!(page["payloads"][0]["baseTransactionNumber"], 15);
        assert_eq!(page["cursor"], 11);
        assert_eq!(page["payloads"].as_array().unwrap().len(), 5);
        assert_eq!(page["mightHaveMore"], false);
        // Past the end: nothing, cursor unchanged.
        assert_eq!(h.list_payloads(11, 50, now)["cursor"], 11);
    }
}
