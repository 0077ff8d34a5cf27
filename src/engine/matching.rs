//! Pure helpers of a sweep: which row belongs to which page (by link, by the
//! id in the row, on first contact by the configured key) and the plans
//! that follow.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value as Json;
use time::OffsetDateTime;

use crate::sync::{
    pair::ResolvedPair,
    plan::{Plan, plan_page_with},
};
use crate::{airtable::Record, notion::Page, store::RecordLink};

/// Both sides as read by a sweep.
pub(super) struct SideSnapshot {
    /// Pages the data source query returned.
    pub(super) pages: Vec<Page>,
    /// Pages read one by one (trashed, moved, or the other side of a changed row).
    pub(super) extra_pages: Vec<Page>,
    /// Pages a full sweep read, planned and handed to the writers, then
    /// let go of: only their ids (and `match_key` values, which first
    /// contact still weighs) stay, so that the sweep holds about one
    /// query's worth of pages at a time, not the whole database.
    pub(super) settled: HashMap<String, Option<String>>,
    pub(super) records: Vec<Record>,
    /// Links by Notion page id.
    pub(super) links: HashMap<String, RecordLink>,
    /// A full read: rows missing from `records` were deleted.
    pub(super) full: bool,
    /// Airtable's scope vote on the rows read (`engine::scope::RowVotes`).
    pub(super) row_votes: super::scope::RowVotes,
    /// The target pairs' links of the ids relation fields name, read by
    /// [`SideSnapshot::read_relations`] before planning.
    pub(super) relations: crate::sync::relation::RelationIndex,
}

impl SideSnapshot {
    /// The ids of the pages the query returned, held or settled.
    pub(super) fn queried_ids(&self) -> std::collections::HashSet<&str> {
        let held = self.pages.iter().map(|p| p.id.as_str());
        held.chain(self.settled.keys().map(String::as_str))
            .collect()
    }

    /// Let go of the pages in `ids`, keeping their ids and keys.
    pub(super) fn settle(&mut self, pair: &ResolvedPair, ids: &std::collections::HashSet<String>) {
        let (gone, held): (Vec<Page>, _) = std::mem::take(&mut self.pages)
            .into_iter()
            .partition(|p| ids.contains(&p.id));
        self.pages = held;
        self.settled
            .extend(gone.iter().map(|p| (p.id.clone(), page_key(pair, p))));
    }

    /// Fill [`Self::relations`] for every page and row read.
    pub(super) async fn read_relations(
        &mut self,
        engine: &super::Engine,
        pair: &ResolvedPair,
    ) -> anyhow::Result<()> {
        let pages = self.pages.iter().chain(&self.extra_pages);
        let snapshots = self.links.values().map(|l| &l.snapshot);
        self.relations = engine
            .relation_index(pair, pages, &self.records, snapshots)
            .await?;
        // Each row read with its own snapshot: references that left a cell.
        let by_record: HashMap<&str, &crate::store::Snapshot> = self
            .links
            .values()
            .filter_map(|l| Some((l.airtable_record_id.as_deref()?, &l.snapshot)))
            .collect();
        let rows: Vec<(&Record, &crate::store::Snapshot)> = self
            .records
            .iter()
            .filter_map(|r| Some((r, *by_record.get(r.id.as_str())?)))
            .collect();
        engine
            .mark_deleted_targets(pair, rows, &mut self.relations)
            .await?;
        Ok(())
    }

    /// Add to [`Self::relations`] the links of the pages read from `first`
    /// on (a sweep reads pages a hundred at a time).
    pub(super) async fn read_relations_from(
        &mut self,
        engine: &super::Engine,
        pair: &ResolvedPair,
        first: usize,
    ) -> Result<(), crate::store::StoreError> {
        let pages = self.pages.get(first..).unwrap_or_default();
        let more = engine.relation_index(pair, pages, [], []).await?;
        self.relations.absorb(more);
        Ok(())
    }
}

/// The page id a row carries in its link field (canonical dashed form), if
/// the cell holds one. A cell holding something else (a pasted URL, a name)
/// counts as no id here; [`bad_link_cell`] reports it.
pub(super) fn page_id_of(pair: &ResolvedPair, record: &Record) -> Option<String> {
    let cell = link_cell(pair, record)?;
    crate::notion::canonical_id(cell)
}

/// The link cell's text, if not blank.
fn link_cell<'a>(pair: &ResolvedPair, record: &'a Record) -> Option<&'a str> {
    record
        .fields
        .get(pair.page_id_field())
        .and_then(Json::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// The link cell's text when it is not a Notion page id. Such a row is left
/// exactly as it is (never adopted, matched or rewritten: the cell is a
/// person's) and reported until someone fixes the cell.
pub(super) fn bad_link_cell<'a>(pair: &ResolvedPair, record: &'a Record) -> Option<&'a str> {
    link_cell(pair, record).filter(|cell| crate::notion::canonical_id(cell).is_none())
}

/// The Airtable record id a page carries in its `record_id_property`.
pub(super) fn record_id_of(pair: &ResolvedPair, page: &Page) -> Option<String> {
    let name = pair.config.notion_record_id_property.as_ref()?;
    let id = page.property(name)?.plain_text();
    (!id.trim().is_empty()).then(|| id.trim().to_owned())
}

/// The rows linked or planned for a page.
pub(super) fn claimed_records(snap: &SideSnapshot, plans: &[Plan]) -> Vec<String> {
    snap.links
        .values()
        .filter_map(|l| l.airtable_record_id.clone())
        .chain(plans.iter().filter_map(|p| p.record_id.clone()))
        .collect()
}

/// Rows no page claims: no page id in the row, no link, no plan, no match.
pub(super) fn rows_without_page<'a>(
    pair: &ResolvedPair,
    snap: &'a SideSnapshot,
    claimed: &std::collections::HashSet<String>,
) -> Vec<&'a Record> {
    snap.records
        .iter()
        .filter(|r| link_cell(pair, r).is_none() && !claimed.contains(&r.id))
        .collect()
}

/// Plan the pages of a sweep that `include` selects, matching rows to pages
/// by link, by the id in the row, and on first contact by the configured key
/// (judged against every page read so far).
pub(super) fn plan_all(
    pair: &ResolvedPair,
    snap: &SideSnapshot,
    now: OffsetDateTime,
    include: impl Fn(&Page) -> bool,
) -> Vec<Plan> {
    let records_by_id: HashMap<&str, &Record> =
        snap.records.iter().map(|r| (r.id.as_str(), r)).collect();
    let mut records_by_page: HashMap<String, &Record> = HashMap::new();
    for r in &snap.records {
        if let Some(p) = page_id_of(pair, r) {
            records_by_page.entry(p).or_insert(r);
        }
    }
    let mut matches = key_matches(pair, snap, &records_by_page);
    let mut plans = Vec::new();
    for page in snap
        .pages
        .iter()
        .chain(&snap.extra_pages)
        .filter(|p| include(p))
    {
        let link = snap.links.get(&page.id);
        let record = match link.and_then(|l| l.airtable_record_id.as_deref()) {
            Some(id) => records_by_id.get(id).copied().or_else(|| {
                // Incremental reads do not see unchanged rows: absence is not deletion.
                (!snap.full)
                    .then(|| records_by_page.get(&page.id).copied())
                    .flatten()
            }),
            None => records_by_page
                .get(&page.id)
                .copied()
                .or_else(|| {
                    // A page carrying a row's id claims it only while the row
                    // names no page (a copied page must not steal its row).
                    record_id_of(pair, page)
                        .and_then(|id| records_by_id.get(id.as_str()).copied())
                        .filter(|r| link_cell(pair, r).is_none())
                })
                .or_else(|| matches.remove(&page.id)),
        };
        if !snap.full && link.is_some_and(|l| l.airtable_record_id.is_some()) && record.is_none() {
            continue; // the row was not read this time; a full sweep decides.
        }
        if link.is_none()
            && record.is_none()
            && matches.contains_key(&format!("ambiguous:{}", page.id))
        {
            continue;
        }
        let plan = plan_page_with(pair, page, record, link, now, &snap.relations);
        if let Some(plan) = in_scope(pair, snap, page, record, link, plan) {
            plans.push(plan);
        }
    }
    plans
}

/// The plan as the pair's scope has it ([`crate::sync::scope::apply`]). A
/// linked row whose Airtable vote is unknown (read by id, not by the
/// scoped listing) is not judged here: its plan runs as it is.
fn in_scope(
    pair: &ResolvedPair,
    snap: &SideSnapshot,
    page: &Page,
    record: Option<&Record>,
    link: Option<&RecordLink>,
    plan: Plan,
) -> Option<Plan> {
    let Some(scope) = pair.scope.as_ref() else {
        return Some(plan);
    };
    let row_in = if scope.judges_airtable() {
        match record.map(|r| snap.row_votes.get(&r.id)) {
            None => Some(false),
            Some(Some(vote)) => Some(*vote),
            Some(None) if link.is_some() => return Some(plan),
            Some(None) => Some(false),
        }
    } else {
        None
    };
    crate::sync::scope::apply(pair, page, record, link, row_in, plan)
}

/// Whether a row no page claims may be adopted: always without a scope;
/// with one, only when Airtable judges the row in.
pub(super) fn adoptable(pair: &ResolvedPair, snap: &SideSnapshot, record: &Record) -> bool {
    pair.scope.is_none() || snap.row_votes.get(&record.id) == Some(&true)
}

/// The `match_key` values of rows that name no page (trimmed, non-empty):
/// the only rows a page can be matched to on first contact.
pub(super) fn unlinked_row_keys(
    pair: &ResolvedPair,
    records: &[Record],
) -> std::collections::HashSet<String> {
    let Some(key) = &pair.config.options.match_key else {
        return Default::default();
    };
    records
        .iter()
        .filter(|r| link_cell(pair, r).is_none())
        .filter_map(|r| r.fields.get(&key.airtable).and_then(Json::as_str))
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A page's `match_key` value (trimmed), if a key is configured and set.
pub(super) fn page_key(pair: &ResolvedPair, page: &Page) -> Option<String> {
    let key = pair.config.options.match_key.as_ref()?;
    let value = page.property(&key.notion).map(|v| v.plain_text())?;
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

/// First contact: pages with no link and no row carrying their id, matched to
/// rows with an empty link field by the configured key (exact after trimming).
/// Only one-to-one matches are used; ambiguous keys are marked and skipped.
fn key_matches<'a>(
    pair: &ResolvedPair,
    snap: &'a SideSnapshot,
    records_by_page: &HashMap<String, &'a Record>,
) -> HashMap<String, &'a Record> {
    let mut out = HashMap::new();
    let Some(key) = &pair.config.options.match_key else {
        return out;
    };
    let mut rows: BTreeMap<String, Vec<&Record>> = BTreeMap::new();
    for r in snap.records.iter().filter(|r| link_cell(pair, r).is_none()) {
        if let Some(k) = r
            .fields
            .get(&key.airtable)
            .and_then(Json::as_str)
            .map(str::trim)
            .filter(|k| !k.is_empty())
        {
            rows.entry(k.to_owned()).or_default().push(r);
        }
    }
    if rows.is_empty() {
        return out;
    }
    // Every page read counts, settled ones too: a key two pages share is
    // ambiguous even if one of them was planned already.
    let held = snap
        .pages
        .iter()
        .map(|p| (p.id.as_str(), page_key(pair, p)));
    let settled = snap.settled.iter().map(|(id, k)| (id.as_str(), k.clone()));
    let mut pages: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for (id, k) in held.chain(settled) {
        if let Some(k) =
            k.filter(|_| !snap.links.contains_key(id) && !records_by_page.contains_key(id))
        {
            pages.entry(k).or_default().push(id);
        }
    }
    for (k, ps) in pages {
        match (ps.as_slice(), rows.get(&k).map(Vec::as_slice)) {
            ([page], Some([row])) => {
                out.insert((*page).to_owned(), *row);
            }
            (_, Some(rs)) => {
                tracing::warn!(pair = pair.name(), key = %k, pages = ps.len(), rows = rs.len(), "ambiguous first-contact match: left unlinked");
                for p in ps {
                    out.insert(format!("ambiguous:{p}"), rs[0]);
                }
            }
            _ => {}
        }
    }
    out
}

pub(super) fn ms_to_time(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}
