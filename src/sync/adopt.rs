//! Airtable rows without a Notion page: created in Notion when the pair's
//! `create_notion_pages` is on, otherwise counted and left alone.
//!
//! Creation is guarded against duplicates on retry: the new page carries the
//! row's id in `record_id_property` (required by this option), and before
//! creating, the engine looks for a page that already carries it (a run that
//! created the page but died before linking it). The row then receives the
//! page id, so the link survives even if the snapshot commit is lost.

use serde_json::{Map, Value as Json};
use time::OffsetDateTime;

use super::{
    convert::{ConvertError, check_notion_write, from_airtable, to_notion_with},
    engine::{Engine, Summary, SweepOptions},
    pair::ResolvedPair,
    value::{Value, format_instant},
};
use crate::{
    airtable::Record,
    notion::{Page, Query, write},
    store::{
        LinkState, LinkUpsert, LogAction, NewLogEntry, Snapshot, SyncDirection, SyncSource, now_ms,
    },
};

impl Engine {
    /// Create (or find) the Notion page of each row, then link them.
    pub(crate) async fn adopt_rows(
        &self,
        pair: &ResolvedPair,
        rows: &[Record],
        opts: SweepOptions,
        summary: &mut Summary,
    ) -> anyhow::Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        if !pair.config.options.create_notion_pages {
            summary.skipped += rows.len();
            tracing::info!(
                pair = pair.name(),
                rows = rows.len(),
                "Airtable rows without a Notion page left alone (create_notion_pages is off)"
            );
            return Ok(());
        }
        for row in rows {
            let (properties, snapshot) = page_properties(pair, row, summary);
            summary.records_seen += 1;
            summary.created_in_notion += 1;
            if opts.dry_run {
                summary.planned_writes.push(format!(
                    "Notion: create page for row {} with {}",
                    row.id,
                    Json::Object(properties)
                ));
                continue;
            }
            let page = match self.existing_page_for(pair, &row.id).await? {
                Some(page) => page,
                None => {
                    self.notion
                        .create_page(&pair.data_source_id, &properties)
                        .await?
                }
            };
            self.link_row(pair, row, &page, snapshot, opts).await?;
        }
        Ok(())
    }

    /// A page already carrying this row's id (created by an earlier run).
    async fn existing_page_for(
        &self,
        pair: &ResolvedPair,
        record_id: &str,
    ) -> anyhow::Result<Option<Page>> {
        let Some(name) = &pair.config.notion_record_id_property else {
            return Ok(None);
        };
        let query = Query {
            filter: Some(
                serde_json::json!({ "property": name, "rich_text": { "equals": record_id } }),
            ),
            ..Query::default()
        };
        let found = self
            .notion
            .query_data_source(&pair.data_source_id, &query)
            .await?;
        Ok(found.pages.into_iter().next())
    }

    /// Write the page id back into the row, then store the link and the log.
    async fn link_row(
        &self,
        pair: &ResolvedPair,
        row: &Record,
        page: &Page,
        snapshot: Snapshot,
        opts: SweepOptions,
    ) -> anyhow::Result<()> {
        let cfg = &pair.config;
        let mut fields = Map::new();
        fields.insert(
            cfg.airtable_page_id_field.clone(),
            Json::String(page.id.clone()),
        );
        if let (Some(name), Some(url)) = (&cfg.airtable_notion_url_field, &page.url) {
            fields.insert(name.clone(), Json::String(url.clone()));
        }
        if let Some(name) = &cfg.airtable_last_synced_field {
            fields.insert(
                name.clone(),
                Json::String(format_instant(OffsetDateTime::now_utc())),
            );
        }
        let base = &cfg.airtable_base_id;
        self.airtable
            .update_records(base, &pair.table_id, vec![(row.id.clone(), fields)], true)
            .await?;
        let now = now_ms();
        let mut tx = self.store.begin().await?;
        tx.upsert_link(
            &LinkUpsert {
                pair: pair.name().to_owned(),
                notion_page_id: page.id.clone(),
                airtable_record_id: Some(row.id.clone()),
                snapshot,
                sync_source: SyncSource::Service,
                state: LinkState::Active,
                notion_last_edited: None,
                airtable_modified: None,
            },
            now,
        )
        .await?;
        tx.append_log(&[NewLogEntry {
            at: now,
            pair: pair.name().to_owned(),
            notion_page_id: Some(page.id.clone()),
            airtable_record_id: Some(row.id.clone()),
            action: LogAction::Create,
            field: None,
            old_value: None,
            new_value: None,
            direction: SyncDirection::AirtableToNotion,
            cause: opts.cause,
            conflict: false,
            winner: None,
            detail: Some("new Airtable row: created its Notion page (create_notion_pages)".into()),
            job_id: None,
        }])
        .await?;
        crate::jobs::fence::check(&mut tx).await?;
        tx.commit().await?;
        crate::metrics::row_adopted();
        Ok(())
    }
}

/// Every mapped field's value from the row (a creation copies them all,
/// whatever their direction), plus the row id for the duplicate guard.
fn page_properties(
    pair: &ResolvedPair,
    row: &Record,
    summary: &mut Summary,
) -> (Map<String, Json>, Snapshot) {
    let mut properties = Map::new();
    let mut snapshot = Snapshot::new();
    for field in &pair.fields {
        let Ok(value) = from_airtable(row.fields.get(&field.airtable), field.kind) else {
            summary.problems.push(format!(
                "row {}: field \"{}\" could not be read",
                row.id, field.airtable
            ));
            continue;
        };
        let body = to_notion_with(&value, field.kind, &field.notion_type, None, &pair.users)
            .and_then(|b| {
                check_notion_write(&field.notion_schema, &value, &b.body)
                    .map_err(|r| ConvertError::BadValue(r.reason))?;
                Ok(b.body)
            });
        let written = match (&value, body) {
            (Value::Empty, _) => Some(Value::Empty),
            (_, Ok(body)) => {
                properties.insert(field.notion.clone(), body);
                Some(value.clone())
            }
            (_, Err(e)) => {
                summary.problems.push(format!(
                    "row {}: \"{}\" not written to Notion: {e}",
                    row.id, field.airtable
                ));
                None
            }
        };
        if let Some(v) = written {
            snapshot.insert(
                field.notion.clone(),
                serde_json::to_value(v).expect("values serialize"),
            );
        }
    }
    if let Some(name) = &pair.config.notion_record_id_property {
        properties.insert(name.clone(), write::rich_text(&row.id));
    }
    (properties, snapshot)
}
