//! `[pair.body]` on the wire: the page's content read with
//! `GET /v1/pages/{id}/markdown` into the plan's pseudo property
//! ([`crate::sync::body`]) and written with one whole-content `PATCH
//! /v1/pages/{id}/markdown` after the page's properties.
//!
//! Record jobs (webhooks) always read the content: a `page.content_updated`
//! is what a content edit sends. A sweep reads it only where it may have
//! changed: a page without a link or without a body snapshot, a page edited
//! in or after the minute of its last sync (Notion rounds edit times to the
//! minute), or a row whose long text differs from the snapshot. An unchanged
//! body therefore costs a sweep no call at all. The sync time is the commit's,
//! so a content edit made while a sweep was between its read and its commit,
//! more than a minute before that commit, is not seen by the next sweep: its
//! `page.content_updated` (or the next edit) carries it.

use std::collections::HashMap;

use super::{Engine, matching::SideSnapshot};
use crate::sync::{
    body::{self, BODY_FIELD},
    convert::{Kind, from_airtable},
    pair::{ResolvedField, ResolvedPair},
    plan::{NotionWrite, Plan},
    value::Value,
};
use crate::{
    airtable::Record,
    clients::api_error::ApiError,
    notion::{Page, markdown::PageMarkdown},
    store::RecordLink,
};

/// The pair's body field, while it syncs.
pub(super) fn body_field(pair: &ResolvedPair) -> Option<&ResolvedField> {
    pair.live_fields().find(|f| f.kind == Kind::Body)
}

impl Engine {
    /// Attach the page's content to a page as read (when the pair maps it).
    pub(super) async fn read_body(
        &self,
        pair: &ResolvedPair,
        page: &mut Page,
    ) -> Result<(), ApiError> {
        if body_field(pair).is_none() || page.in_trash {
            return Ok(());
        }
        let content = self.notion.retrieve_markdown(&page.id).await;
        attach_read(page, content)
    }

    /// A sweep's pages from `from` on: read the content of those whose body
    /// may have changed.
    pub(super) async fn read_sweep_bodies(
        &self,
        pair: &ResolvedPair,
        snap: &mut SideSnapshot,
        from: usize,
    ) -> Result<(), ApiError> {
        let Some(field) = body_field(pair) else {
            return Ok(());
        };
        let rows: HashMap<&str, &Record> =
            snap.records.iter().map(|r| (r.id.as_str(), r)).collect();
        let wanted: Vec<usize> = snap
            .pages
            .iter()
            .enumerate()
            .skip(from)
            .filter(|(_, p)| !p.in_trash && !p.properties.contains_key(BODY_FIELD))
            .filter(|(_, p)| {
                let link = snap.links.get(&p.id);
                let row = link
                    .and_then(|l| l.airtable_record_id.as_deref())
                    .and_then(|id| rows.get(id).copied());
                body_may_have_changed(field, p, link, row)
            })
            .map(|(i, _)| i)
            .collect();
        for i in wanted {
            match self.read_body(pair, &mut snap.pages[i]).await {
                Ok(()) => {}
                // One page Notion refuses must not stop the sweep: its body
                // is simply not planned this time.
                Err(e @ ApiError::Fatal { .. }) => {
                    tracing::warn!(pair = pair.name(), page_id = %snap.pages[i].id, error = %e, "Notion refused to read a page's content; the sweep goes on without it");
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Write the planned body, if any, after the page's properties. A
    /// refusal keeps the body's snapshot (the edit stays where it was made)
    /// and is reported on the record.
    pub(super) async fn write_body(
        &self,
        plan: &mut Plan,
        markdown: Option<String>,
        problems: &mut Vec<String>,
    ) -> Result<(), ApiError> {
        let Some(markdown) = markdown else {
            return Ok(());
        };
        match self.notion.replace_markdown(&plan.page_id, &markdown).await {
            Ok(written) => log_normalised(plan, &markdown, &written),
            Err(e @ ApiError::Fatal { .. }) => {
                problems.push(format!("Notion page {} content: {e}", plan.page_id));
                plan.refuse_notion_field(BODY_FIELD, &super::write::error_message(&e));
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }
}

/// Attach a content read to its page. A 403 (the integration lacks the
/// read content capability) is attached as the reason the body cannot sync,
/// so the record reports it and every property still syncs; a page that is
/// gone is left to the page read to report.
pub(super) fn attach_read(
    page: &mut Page,
    content: Result<PageMarkdown, ApiError>,
) -> Result<(), ApiError> {
    match content {
        Ok(content) => body::attach(page, &content),
        Err(ApiError::Fatal {
            status: 403,
            message,
            ..
        }) => body::attach_unreadable(
            page,
            &format!(
                "Notion refused to read the page's content (403: {message}); give the \
                 integration the \"Read content\" capability"
            ),
        ),
        Err(e) if e.is_not_found() => {}
        Err(e) => return Err(e),
    }
    Ok(())
}

/// Take the body out of a planned Notion update (it goes to its own
/// endpoint); an update left with no property is no property write.
pub(super) fn take_body(plan: &mut Plan) -> Option<String> {
    let NotionWrite::Update { properties, .. } = &mut plan.notion else {
        return None;
    };
    let written = properties.remove(BODY_FIELD)?;
    if properties.is_empty() {
        plan.notion = NotionWrite::None;
    }
    Some(
        written[body::NOTION_TYPE]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

/// Whether a sweep must read a page's content to plan its body.
fn body_may_have_changed(
    field: &ResolvedField,
    page: &Page,
    link: Option<&RecordLink>,
    row: Option<&Record>,
) -> bool {
    let Some(link) = link else { return true };
    let Some(snapshot) = link.snapshot.get(BODY_FIELD) else {
        return true;
    };
    let edited_ms = (page.last_edited_time.unix_timestamp_nanos() / 1_000_000) as i64;
    let edited_since = link
        .last_synced_at
        .is_none_or(|synced| edited_ms + 60_000 > synced);
    let row_differs = row.is_some_and(|r| {
        let cell = from_airtable(r.fields.get(&field.airtable), Kind::Body).ok();
        let snap: Option<Value> = serde_json::from_value(snapshot.clone()).ok();
        cell != snap
    });
    edited_since || row_differs
}

/// Notion stores some text differently from how it was sent; when its
/// canonical form differs from what was planned, say so (the next read
/// compares in canonical form and settles it without a loop).
fn log_normalised(plan: &Plan, sent: &str, written: &PageMarkdown) {
    if body::canonical(&written.markdown) != body::canonical(sent) {
        tracing::info!(page_id = %plan.page_id, "Notion stored the page content in another form than sent; the next sync compares its form");
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::store::{LinkState, Snapshot, SyncSource};

    fn field() -> ResolvedField {
        let table = serde_json::from_value(json!({
            "id": "tbl1", "name": "T",
            "fields": [{ "id": "fldSpec", "name": "Spec", "type": "multilineText" }],
        }))
        .unwrap();
        let mapping = crate::config::BodyMapping {
            airtable: "Spec".into(),
            direction: crate::config::Direction::Both,
            conflict: crate::config::ConflictRule::Notion,
        };
        body::resolve(&mapping, &table).unwrap()
    }

    /// A page last edited at 10:00 (ms 0 is 1970; only differences matter).
    fn page() -> Page {
        serde_json::from_value(json!({
            "object": "page", "id": "p1", "in_trash": false,
            "created_time": "2026-11-01T10:00:00.000Z", "last_edited_time": "2026-11-20T10:00:00.000Z",
            "parent": { "type": "data_source_id", "data_source_id": "ds1" },
            "properties": {}
        }))
        .unwrap()
    }

    fn edited_ms() -> i64 {
        (page().last_edited_time.unix_timestamp_nanos() / 1_000_000) as i64
    }

    fn link(body: Option<&str>, synced_at: i64) -> RecordLink {
        let mut snapshot = Snapshot::new();
        if let Some(text) = body {
            snapshot.insert(
                BODY_FIELD.into(),
                serde_json::to_value(Value::text(text)).unwrap(),
            );
        }
        RecordLink {
            id: 1,
            pair: "specs".into(),
            notion_page_id: "p1".into(),
            airtable_record_id: Some("rec1".into()),
            snapshot,
            sync_source: SyncSource::Service,
            state: LinkState::Active,
            notion_last_edited: None,
            airtable_modified: None,
            last_synced_at: Some(synced_at),
            created_at: 0,
            updated_at: 0,
        }
    }

    fn row(spec: &str) -> Record {
        serde_json::from_value(
            json!({ "id": "rec1", "createdTime": "2026-11-01T10:00:00.000Z",
                                       "fields": { "Spec": spec } }),
        )
        .unwrap()
    }

    #[test]
    fn a_sweep_reads_content_only_where_the_body_may_have_changed() {
        let (f, p) = (field(), page());
        let later = edited_ms() + 60_000;
        // Synced after the page's last edit minute, the row as synced: no read.
        let settled = link(Some("Spec"), later);
        assert!(!body_may_have_changed(
            &f,
            &p,
            Some(&settled),
            Some(&row("Spec\n"))
        ));
        assert!(!body_may_have_changed(&f, &p, Some(&settled), None));
        // The row's text differs from the snapshot.
        assert!(body_may_have_changed(
            &f,
            &p,
            Some(&settled),
            Some(&row("Other"))
        ));
        // Edited in the minute of the last sync (Notion rounds to the minute).
        let same_minute = link(Some("Spec"), edited_ms() + 30_000);
        assert!(body_may_have_changed(&f, &p, Some(&same_minute), None));
        // Never synced with its body, or never linked.
        assert!(body_may_have_changed(
            &f,
            &p,
            Some(&link(None, later)),
            None
        ));
        assert!(body_may_have_changed(&f, &p, None, None));
    }
}
