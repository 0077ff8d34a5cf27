//! Airtable rows without a Notion page: created in Notion when the pair's
//! `create_notion_pages` is on, otherwise counted and left alone.
//!
//! A create can never be doubled. The Notion API has no idempotency key and
//! its query lags behind new pages, so looking for the page and then
//! creating it is not enough when two jobs (or a retry) do it at once:
//!
//! 1. The row is claimed first (`engine::claims`): one writer at a time. A
//!    sweep leaves a row another job holds, or wrote after the sweep read
//!    it; a record job waits for it.
//! 2. A row that got its link meanwhile is done. Otherwise the create is
//!    announced in the store (`notion_page_intents`, one per row) before it
//!    is sent, and the new page's id is recorded as soon as Notion answers.
//! 3. The row receives the page id, then the link is stored and the intent
//!    forgotten in one transaction.
//!
//! A run that finds an intent left by an earlier one (which died between
//! 2 and 3) does not create blindly: it links the recorded page, or looks
//! for a page carrying the row's id in `record_id_property` (required by
//! this option). Not finding it proves nothing while Notion's query may not
//! show a page that young, so the row waits until the intent is older than
//! [`QUERY_LAG_WINDOW`]; only then is the create announced again and sent.

use std::time::Duration;

use serde_json::{Map, Value as Json};
use time::OffsetDateTime;

use super::{
    Engine, Summary, SweepOptions,
    claims::{self, BUSY_RETRY, Mode},
};
use crate::sync::{
    convert::{ConvertError, check_notion_write, from_airtable, to_notion_with},
    pair::ResolvedPair,
    value::{Value, format_instant},
};
use crate::{
    airtable::Record,
    notion::{Page, Query, write},
    store::{
        ClaimOutcome, LinkState, LinkUpsert, LogAction, NewLogEntry, PageIntent, Snapshot,
        SyncDirection, SyncSource, duration_ms, now_ms,
    },
};

/// How long after a page is created Notion's query may still not return
/// it: until then, a page not found may exist all the same.
pub const QUERY_LAG_WINDOW: Duration = Duration::from_secs(120);

/// What became of one row.
#[derive(Debug)]
enum Adoption {
    /// A page was created for it.
    Created,
    /// A page an earlier run created for it was found and linked.
    Found,
    /// Another job linked it meanwhile.
    Done,
    /// Not now; a record job runs again after the wait.
    Later(&'static str, Duration),
}

/// Where an earlier run's announced create stands.
enum Recovery {
    Page(Page),
    Created(Page),
    Wait(Duration),
}

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
        let mode = claims::current()?.mode;
        for row in rows {
            let (properties, snapshot) = page_properties(pair, row, summary);
            summary.records_seen += 1;
            if opts.dry_run {
                summary.created_in_notion += 1;
                summary.planned_writes.push(format!(
                    "Notion: create page for row {} with {}",
                    row.id,
                    Json::Object(properties)
                ));
                continue;
            }
            match self
                .adopt_row(pair, row, &properties, snapshot, opts)
                .await?
            {
                Adoption::Created => summary.created_in_notion += 1,
                Adoption::Found => summary.linked += 1,
                Adoption::Done => summary.unchanged += 1,
                Adoption::Later(why, wait) if mode == Mode::Record => {
                    return Err(claims::busy(pair, why, wait));
                }
                Adoption::Later(why, _) => {
                    tracing::info!(pair = pair.name(), record_id = %row.id, "row left for later: {why}");
                    summary.skipped += 1;
                }
            }
        }
        Ok(())
    }

    /// Claim the row, give it its page, release it.
    async fn adopt_row(
        &self,
        pair: &ResolvedPair,
        row: &Record,
        properties: &Map<String, Json>,
        snapshot: Snapshot,
        opts: SweepOptions,
    ) -> anyhow::Result<Adoption> {
        let keys = vec![claims::row_key(&row.id)];
        match self.claim_record(pair, keys.clone(), true).await? {
            ClaimOutcome::Acquired => {}
            ClaimOutcome::Held => {
                return Ok(Adoption::Later(
                    "another job is writing this row",
                    BUSY_RETRY,
                ));
            }
            ClaimOutcome::Moved => {
                return Ok(Adoption::Later(
                    "another job wrote this row after it was read",
                    BUSY_RETRY,
                ));
            }
        }
        let adopted = self
            .adopt_claimed(pair, row, properties, snapshot, opts)
            .await;
        self.release_claims(pair, &keys).await;
        adopted
    }

    /// The row is ours: link it to its page, creating the page only if no
    /// run can have created it already.
    async fn adopt_claimed(
        &self,
        pair: &ResolvedPair,
        row: &Record,
        properties: &Map<String, Json>,
        snapshot: Snapshot,
        opts: SweepOptions,
    ) -> anyhow::Result<Adoption> {
        if self
            .store
            .get_link_by_record(pair.name(), &row.id)
            .await?
            .is_some()
        {
            return Ok(Adoption::Done);
        }
        let holder = claims::current()?.claimant.holder;
        let announced = self
            .store
            .begin_page_create(pair.name(), &row.id, &holder, now_ms())
            .await?;
        let (page, adoption) = match announced {
            None => match self.existing_page_for(pair, &row.id).await? {
                Some(page) => (page, Adoption::Found),
                None => (
                    self.create_announced(pair, &row.id, &holder, properties)
                        .await?,
                    Adoption::Created,
                ),
            },
            Some(intent) => match self
                .recover_create(pair, &intent, &holder, properties)
                .await?
            {
                Recovery::Page(page) => (page, Adoption::Found),
                Recovery::Created(page) => (page, Adoption::Created),
                Recovery::Wait(wait) => {
                    return Ok(Adoption::Later(
                        "an earlier run may have created its page, which Notion's query does \
                         not show yet",
                        wait,
                    ));
                }
            },
        };
        self.link_row(pair, row, &page, snapshot, opts).await?;
        Ok(adoption)
    }

    /// Create the page of an announced create, and record its id at once:
    /// a run that dies now leaves the page to be linked, not created again.
    async fn create_announced(
        &self,
        pair: &ResolvedPair,
        record_id: &str,
        holder: &str,
        properties: &Map<String, Json>,
    ) -> anyhow::Result<Page> {
        let page = self.create_page_in(pair, properties).await?;
        self.store
            .set_intent_page(pair.name(), record_id, holder, &page.id)
            .await?;
        Ok(page)
    }

    /// An earlier run announced a page for this row and did not link it:
    /// link the page it recorded, or one carrying the row's id; create
    /// again only once Notion's query would show a page that run created.
    async fn recover_create(
        &self,
        pair: &ResolvedPair,
        intent: &PageIntent,
        holder: &str,
        properties: &Map<String, Json>,
    ) -> anyhow::Result<Recovery> {
        let record_id = &intent.airtable_record_id;
        if let Some(id) = &intent.notion_page_id {
            match self.read_page(pair, id).await {
                Ok(page) => return Ok(Recovery::Page(page)),
                // Deleted before it was linked: it needs a page again.
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }
        if let Some(page) = self.existing_page_for(pair, record_id).await? {
            return Ok(Recovery::Page(page));
        }
        let now = now_ms();
        let age = now.saturating_sub(intent.created_at);
        let window = duration_ms(QUERY_LAG_WINDOW);
        if intent.notion_page_id.is_none() && age < window {
            let wait = u64::try_from(window - age).unwrap_or(0);
            return Ok(Recovery::Wait(Duration::from_millis(wait)));
        }
        let restarted = self
            .store
            .restart_page_create(pair.name(), record_id, holder, intent.created_at, now)
            .await?;
        if !restarted {
            return Ok(Recovery::Wait(BUSY_RETRY));
        }
        let page = self
            .create_announced(pair, record_id, holder, properties)
            .await?;
        Ok(Recovery::Created(page))
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
                serde_json::json!({ "property": pair.wire.notion_key(name), "rich_text": { "equals": record_id } }),
            ),
            ..Query::default()
        };
        let found = self.query_pages(pair, &query).await?;
        Ok(found.pages.into_iter().next())
    }

    /// Write the page id back into the row, then store the link and the log
    /// and forget the announced create, in one transaction.
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
        self.update_rows(pair, vec![(row.id.clone(), fields)])
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
            job_id: self.lease.as_ref().map(|l| l.job_id),
            run_id: super::claims::current().ok().map(|s| s.run_id),
            undoes: None,
        }])
        .await?;
        tx.finish_page_create(pair.name(), &row.id).await?;
        super::relations::linked(&mut tx, pair, &page.id, Some(&row.id), now).await?;
        self.fence(&mut tx).await?;
        tx.commit().await?;
        // The page created, and its id written back into the row.
        crate::metrics::writes(crate::metrics::Side::Notion, 1);
        crate::metrics::writes(crate::metrics::Side::Airtable, 1);
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
        // The page's content is no property: the new page starts empty and
        // has no body snapshot, so its next reconcile (or sweep) fills it
        // from the row (an empty side is filled, never copied over).
        if field.kind == crate::sync::convert::Kind::Body {
            continue;
        }
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
