//! Relations ↔ linked records, in pure code: a Notion `relation` property
//! and an Airtable `multipleRecordLinks` field hold references to records of
//! another pair (the *target* pair, or the same pair for a self-relation);
//! the ids are translated through the target pair's page ↔ row links.
//!
//! The canonical value is an order-insensitive set of Notion page ids
//! ([`Value::Set`]): Notion's references as they are, Airtable's record ids
//! translated to the page each is linked to. An Airtable record with no
//! linked page yet stays in the set as its `rec…` id (a page id is a UUID,
//! so the two never collide): the two sides then differ, the merge wants to
//! write, and the write cannot be made until the target is linked. The
//! write is refused as a whole ([`ConvertError::NotLinkedYet`]): the field is
//! left as it is on both sides, the snapshot keeps its old value and a sync
//! issue names the targets. Never a partial list, never a dropped reference.
//!
//! Limits: Notion returns at most 25 references on page reads (`has_more`;
//! the engine reads longer lists through the property-item endpoint before
//! planning) and takes at most 100 relations per write (request limits): a
//! longer list is refused for Notion, never cut.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value as Json, json};

use super::convert::ConvertError;
use super::value::Value;

/// "relation: 100 pages" per property in one request (Notion request limits).
pub const NOTION_WRITE_LIMIT: usize = 100;

/// The target pair's links needed to translate one relation field's ids.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Targets {
    page_to_record: BTreeMap<String, String>,
    record_to_page: BTreeMap<String, String>,
    /// Pages whose row the target pair saw deleted (`airtable_deleted`):
    /// Airtable drops a deleted record from every link cell on its own.
    gone_in_airtable: BTreeSet<String>,
    /// Pages the target pair saw trashed or moved out of its data source.
    gone_in_notion: BTreeSet<String>,
}

impl Targets {
    /// A page and the row it is linked to in the target pair.
    pub fn insert(&mut self, page_id: &str, record_id: &str) {
        let page = normal_page_id(page_id);
        self.page_to_record
            .insert(page.clone(), record_id.to_owned());
        self.record_to_page.insert(record_id.to_owned(), page);
    }

    /// The row `page_id` is linked to in the target pair, if any.
    pub fn record_of(&self, page_id: &str) -> Option<&str> {
        self.page_to_record
            .get(&normal_page_id(page_id))
            .map(String::as_str)
    }

    /// Whether `page_id`'s row is known to be deleted.
    pub fn gone_in_airtable(&self, page_id: &str) -> bool {
        self.gone_in_airtable.contains(&normal_page_id(page_id))
    }

    /// The target pair's link of `page_id` says one side is gone.
    pub fn mark_gone(&mut self, page_id: &str, in_airtable: bool) {
        let page = normal_page_id(page_id);
        if in_airtable {
            self.gone_in_airtable.insert(page);
        } else {
            self.gone_in_notion.insert(page);
        }
    }
}

/// Both sides' values of a relation as the merge should compare them. A
/// related record deleted or trashed on one side disappears from that
/// side's list by the vendor's own doing (Airtable removes a deleted record
/// from link cells), not by a person's edit: a page the snapshot held whose
/// target is gone on one side counts as still there on that side, so the
/// other side's reference is never erased on that guess.
pub fn keep_gone(
    notion: Value,
    airtable: Value,
    snapshot: Option<&Value>,
    targets: Option<&Targets>,
) -> (Value, Value) {
    let (Some(snap), Some(t)) = (snapshot, targets) else {
        return (notion, airtable);
    };
    let held = members(snap);
    let add = |value: Value, gone: &BTreeSet<String>| {
        let extra: Vec<String> = held.iter().filter(|p| gone.contains(*p)).cloned().collect();
        if extra.is_empty() {
            return value;
        }
        Value::set(members(&value).into_iter().chain(extra))
    };
    (
        add(notion, &t.gone_in_notion),
        add(airtable, &t.gone_in_airtable),
    )
}

/// The links of every relation field of a record, by the mapping's Notion
/// name. The engine fills it from the store before planning; a field with
/// no entry translates nothing (every id is "not linked yet").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RelationIndex {
    fields: BTreeMap<String, Targets>,
}

impl RelationIndex {
    pub fn field_mut(&mut self, field: &str) -> &mut Targets {
        self.fields.entry(field.to_owned()).or_default()
    }

    pub fn field(&self, field: &str) -> Option<&Targets> {
        self.fields.get(field)
    }

    /// Add every link `other` knows.
    pub fn absorb(&mut self, other: RelationIndex) {
        for (field, targets) in other.fields {
            let mine = self.field_mut(&field);
            mine.page_to_record.extend(targets.page_to_record);
            mine.record_to_page.extend(targets.record_to_page);
        }
    }
}

/// A page id as the links table keeps it: lowercase, dashed
/// (8-4-4-4-12), whatever form it came in.
pub fn normal_page_id(id: &str) -> String {
    let hex: String = id.chars().filter(|c| *c != '-').collect();
    if hex.len() != 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return id.to_owned();
    }
    let h = hex.to_ascii_lowercase();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// The page ids of a Notion relation property (`{"relation": [{"id"}]}`).
pub fn notion_ids(property: &Json) -> Vec<String> {
    property["relation"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["id"].as_str().map(normal_page_id))
        .collect()
}

/// The record ids of an Airtable link cell (REST: ids; webhook V2:
/// `{id, name}` objects).
pub fn airtable_ids(cell: Option<&Json>) -> Vec<String> {
    cell.and_then(Json::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r.as_str().or_else(|| r["id"].as_str()).map(str::to_owned))
        .collect()
}

/// The canonical value of a Notion relation property.
pub fn read_notion(property: &Json) -> Value {
    Value::set(notion_ids(property))
}

/// The canonical value of an Airtable link cell: each record id as the
/// page it is linked to, or as itself while it has none.
pub fn read_airtable(cell: Option<&Json>, targets: Option<&Targets>) -> Value {
    Value::set(airtable_ids(cell).into_iter().map(|rec| {
        targets
            .and_then(|t| t.record_to_page.get(&rec).cloned())
            .unwrap_or(rec)
    }))
}

fn members(value: &Value) -> Vec<String> {
    match value {
        Value::Set(ids) => ids.clone(),
        Value::Empty => Vec::new(),
        other => vec![other.display()],
    }
}

fn is_record_id(id: &str) -> bool {
    id.starts_with("rec")
}

/// The Airtable cell for a canonical relation: every page's linked row, or
/// the whole write is refused while one has none.
pub fn to_airtable(value: &Value, targets: Option<&Targets>) -> Result<Json, ConvertError> {
    let mut ids = Vec::new();
    let mut missing = Vec::new();
    for id in members(value) {
        if is_record_id(&id) {
            ids.push(id);
            continue;
        }
        // Its row is deleted: Airtable cannot hold the reference.
        if targets.is_some_and(|t| t.gone_in_airtable.contains(&id)) {
            continue;
        }
        match targets.and_then(|t| t.page_to_record.get(&id)) {
            Some(rec) => ids.push(rec.clone()),
            None => missing.push(id),
        }
    }
    if !missing.is_empty() {
        return Err(ConvertError::NotLinkedYet {
            side: "Airtable",
            targets: missing,
        });
    }
    Ok(json!(ids))
}

/// The Notion write body for a canonical relation (`{"relation": [{id}]}`,
/// which replaces the whole list): refused while a record has no linked
/// page, and beyond Notion's 100 relations per write.
pub fn to_notion(value: &Value, targets: Option<&Targets>) -> Result<Json, ConvertError> {
    let mut pages = Vec::new();
    let mut missing = Vec::new();
    for id in members(value) {
        if !is_record_id(&id) {
            pages.push(id);
            continue;
        }
        match targets.and_then(|t| t.record_to_page.get(&id)) {
            Some(page) => pages.push(page.clone()),
            None => missing.push(id),
        }
    }
    if !missing.is_empty() {
        return Err(ConvertError::NotLinkedYet {
            side: "Notion",
            targets: missing,
        });
    }
    if pages.len() > NOTION_WRITE_LIMIT {
        return Err(ConvertError::BadValue(format!(
            "{} related pages: Notion takes at most {NOTION_WRITE_LIMIT} relations in one write, \
             and a write replaces the whole list, so nothing was written",
            pages.len()
        )));
    }
    let refs: Vec<Json> = pages.iter().map(|id| json!({ "id": id })).collect();
    Ok(json!({ "relation": refs }))
}

/// The targets a refused relation write waits for, if that is why it was
/// refused: the engine re-plans the record once they are linked.
pub fn waiting_for(e: &ConvertError) -> Option<&[String]> {
    match e {
        ConvertError::NotLinkedYet { targets, .. } => Some(targets),
        _ => None,
    }
}

#[cfg(test)]
#[path = "relation_tests.rs"]
mod tests;
