//! The demo's final verdict: both sides compared field by field for every
//! linked record, through the engine's own conversions (`sync::convert`),
//! so "agree" means exactly what the merge means by "in sync": equal
//! canonical values, not equal JSON.
//!
//! Pure code: the caller reads the pages, rows and links; this decides.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value as Json;

use crate::{
    airtable::Record,
    notion::Page,
    sync::{
        convert::{Kind, from_airtable, from_notion},
        pair::{ResolvedField, ResolvedPair},
        relation::{Targets, read_airtable},
        value::Value,
    },
};

/// For each relation field (by Notion name), the target pair's links that
/// translate Airtable record ids into the pages they are linked to.
pub type RelationTargets = BTreeMap<String, Targets>;

/// A link as the comparison needs it: the page, its row, and whether the
/// service holds it as live (`active`) or as gone on one side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub page_id: String,
    pub record_id: Option<String>,
    /// The link state's name (`active`, `notion_trashed`, ...).
    pub state: String,
}

/// One way the two sides disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// The spec's title (or its page id when the page cannot be read).
    pub record: String,
    /// The mapped field (Notion name), or `None` for the record as a whole.
    pub field: Option<String>,
    pub notion: String,
    pub airtable: String,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.field {
            Some(field) => write!(
                f,
                "\"{}\" {field}: Notion has {}, Airtable has {}",
                self.record, self.notion, self.airtable
            ),
            None => write!(
                f,
                "\"{}\": Notion {}, Airtable {}",
                self.record, self.notion, self.airtable
            ),
        }
    }
}

/// What the comparison found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Comparison {
    /// Linked records whose page and row were both found and compared.
    pub records: usize,
    /// Field values compared (records × mapped fields).
    pub fields: usize,
    pub differences: Vec<Difference>,
}

impl Comparison {
    pub fn agree(&self) -> bool {
        self.differences.is_empty() && self.records > 0
    }
}

/// Compare every live page, every row and every link of `pair`; a relation
/// compares pages with the rows' links translated through `targets`.
///
/// Besides field values it reports what would make a field-by-field check
/// incomplete: a live page with no row, a row whose page is not live, a
/// link that is not active, a row pointing at another page than its link.
pub fn compare(
    pair: &ResolvedPair,
    pages: &[Page],
    records: &[Record],
    links: &[Link],
    targets: &RelationTargets,
) -> Comparison {
    let pages: BTreeMap<&str, &Page> = pages.iter().map(|p| (p.id.as_str(), p)).collect();
    let rows: BTreeMap<&str, &Record> = records.iter().map(|r| (r.id.as_str(), r)).collect();
    let mut out = Comparison::default();
    let mut linked_pages = BTreeSet::new();
    let mut linked_rows = BTreeSet::new();
    for link in links {
        linked_pages.insert(link.page_id.as_str());
        if let Some(id) = &link.record_id {
            linked_rows.insert(id.as_str());
        }
        let page = pages.get(link.page_id.as_str()).copied();
        let row = link
            .record_id
            .as_deref()
            .and_then(|id| rows.get(id).copied());
        let name = page.map_or_else(|| link.page_id.clone(), Page::title);
        match (page, row) {
            _ if link.state != "active" => out.differences.push(whole(
                &name,
                &format!("page {}", page_state(page)),
                &format!("the service holds the link as {}", link.state),
            )),
            (Some(page), Some(row)) => {
                compare_record(pair, page, row, &name, targets, &mut out);
            }
            (page, row) => out.differences.push(whole(
                &name,
                &format!("page {}", page_state(page)),
                &format!("row {}", if row.is_some() { "present" } else { "missing" }),
            )),
        }
    }
    for page in pages
        .values()
        .filter(|p| !linked_pages.contains(p.id.as_str()))
    {
        out.differences
            .push(whole(&page.title(), "page present", "no linked row"));
    }
    for row in rows
        .values()
        .filter(|r| !linked_rows.contains(r.id.as_str()))
    {
        let name = Some(cell_text(row, &first_field_name(pair)))
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| row.id.clone());
        out.differences
            .push(whole(&name, "no linked page", &format!("row {}", row.id)));
    }
    out
}

fn page_state(page: Option<&Page>) -> &'static str {
    if page.is_some() { "live" } else { "missing" }
}

fn whole(record: &str, notion: &str, airtable: &str) -> Difference {
    Difference {
        record: record.to_owned(),
        field: None,
        notion: notion.to_owned(),
        airtable: airtable.to_owned(),
    }
}

/// Every mapped field of one linked record, plus the row's link cell.
fn compare_record(
    pair: &ResolvedPair,
    page: &Page,
    row: &Record,
    name: &str,
    targets: &RelationTargets,
    out: &mut Comparison,
) {
    out.records += 1;
    let link_cell = cell_text(row, pair.page_id_field());
    if link_cell != page.id {
        out.differences.push(Difference {
            record: name.to_owned(),
            field: Some(pair.page_id_field().to_owned()),
            notion: page.id.clone(),
            airtable: link_cell,
        });
    }
    for field in &pair.fields {
        out.fields += 1;
        let a = match field.kind {
            Kind::Relation => Ok(read_airtable(
                row.fields.get(&field.airtable),
                targets.get(&field.notion),
            )),
            _ => airtable_value(row, field),
        };
        let n = notion_value(page, field);
        if n != a {
            out.differences.push(Difference {
                record: name.to_owned(),
                field: Some(field.notion.clone()),
                notion: shown(&n),
                airtable: shown(&a),
            });
        }
    }
}

/// A side's canonical value, or why it cannot be read (never equal to a
/// readable value, so an unreadable cell is reported).
type Read = Result<Value, String>;

pub(crate) fn notion_value(page: &Page, field: &ResolvedField) -> Read {
    let property = page
        .property(&field.notion)
        .ok_or_else(|| format!("no property \"{}\"", field.notion))?;
    from_notion(&property.raw, field.kind).map_err(|e| e.to_string())
}

pub(crate) fn airtable_value(row: &Record, field: &ResolvedField) -> Read {
    from_airtable(row.fields.get(&field.airtable), field.kind).map_err(|e| e.to_string())
}

fn shown(read: &Read) -> String {
    match read {
        Ok(Value::Empty) => "(empty)".to_owned(),
        Ok(v) => format!("\"{}\"", v.display()),
        Err(e) => format!("an unreadable value ({e})"),
    }
}

fn cell_text(row: &Record, field: &str) -> String {
    row.fields
        .get(field)
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The Airtable field mapped first (the spec's name in the team's table),
/// to name an orphan row.
fn first_field_name(pair: &ResolvedPair) -> String {
    pair.fields
        .first()
        .map(|f| f.airtable.clone())
        .unwrap_or_default()
}
