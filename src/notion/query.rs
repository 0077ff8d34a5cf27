//! The body of a data source query and its filter helpers.

use serde::Serialize;
use serde_json::{Value as Json, json};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

/// Most results Notion returns per query page (also the default we send:
/// the docs disagree on the server default, so `page_size` is always sent).
pub const MAX_PAGE_SIZE: u32 = 100;

/// One `POST /v1/data_sources/{id}/query` request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Query {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<Json>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sorts: Vec<Json>,
    /// 1..=100; clamped when sent.
    pub page_size: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_cursor: Option<String>,
}

impl Default for Query {
    fn default() -> Self {
        Self {
            filter: None,
            sorts: Vec::new(),
            page_size: MAX_PAGE_SIZE,
            start_cursor: None,
        }
    }
}

impl Query {
    /// Pages edited at or after `since`, oldest first.
    pub fn edited_since(since: OffsetDateTime) -> Self {
        Self {
            filter: Some(last_edited_on_or_after(since)),
            sorts: vec![sort_by_last_edited_time()],
            ..Self::default()
        }
    }

    /// The JSON body, with `page_size` clamped to what Notion accepts.
    pub fn body(&self) -> Json {
        let mut query = self.clone();
        query.page_size = query.page_size.clamp(1, MAX_PAGE_SIZE);
        serde_json::to_value(query).unwrap_or_else(|_| json!({}))
    }
}

/// `last_edited_time` on or after `since`; works without a timestamp
/// property. Notion rounds edit times down to the minute, so pollers should
/// pass a `since` that overlaps the previous poll by at least a minute.
pub fn last_edited_on_or_after(since: OffsetDateTime) -> Json {
    let at = since.format(&Rfc3339).unwrap_or_default();
    json!({ "timestamp": "last_edited_time", "last_edited_time": { "on_or_after": at } })
}

/// Ascending by `last_edited_time`.
pub fn sort_by_last_edited_time() -> Json {
    json!({ "timestamp": "last_edited_time", "direction": "ascending" })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn body_always_carries_a_valid_page_size() {
        assert_eq!(Query::default().body(), json!({ "page_size": 100 }));
        let big = Query {
            page_size: 500,
            start_cursor: Some("c".into()),
            ..Query::default()
        };
        assert_eq!(big.body(), json!({ "page_size": 100, "start_cursor": "c" }));
    }

    #[test]
    fn timestamp_filter_matches_the_documented_shape() {
        let q = Query::edited_since(datetime!(2025-01-01 00:00 UTC));
        assert_eq!(
            q.body()["filter"],
            json!({"timestamp": "last_edited_time",
                   "last_edited_time": {"on_or_after": "2025-01-01T00:00:00Z"}})
        );
        assert_eq!(q.body()["sorts"][0]["direction"], "ascending");
    }
}
