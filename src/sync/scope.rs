//! Selective sync: a pair's `[pair.scope]` resolved against the live
//! schemas, and what it means for one record's plan.
//!
//! Each side votes only if it has conditions. A record is in scope when a
//! side that votes says so: a page satisfying every Notion condition, or a
//! row satisfying every Airtable condition (the view, the formula, the
//! gate). So a record enters by either side, and leaves only when neither
//! side that votes keeps it. Why "either": with a gate on each side, a
//! person on either tool can bring a record into the sync, and untick on
//! one side never drops a record the other side still wants. A record
//! with no item on a voting side (a page without its row) takes that
//! side's vote as "no".
//!
//! Entering: the record is matched as on first contact (link, page id in
//! the row, record id property, match key) before anything is created.
//! Leaving: the link is forgotten and both sides stay as they are
//! (`on_leave = "unlink"`), or the row takes the `on_notion_trash` values
//! first (`"archive"`); nothing is ever deleted.

use serde_json::Value as Json;

use super::{
    merge::Side,
    pair::ResolvedPair,
    plan::{AirtableWrite, Change, ChangeKind, Plan},
    scope_filter,
};
use crate::{
    airtable::{Record, TableSchema},
    config::{NotionTrashAction, OnLeave, ScopeConfig},
    notion::{DataSource, Page},
    store::RecordLink,
};

/// A scope resolved against both schemas.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedScope {
    /// Every Notion condition as one filter, properties by id.
    pub notion_filter: Option<Json>,
    /// The formula and the gate as one `filterByFormula`.
    pub airtable_formula: Option<String>,
    pub airtable_view: Option<String>,
    pub on_leave: OnLeave,
    /// The Airtable gate's field id: its changes must reach the webhook.
    pub airtable_gate_id: Option<String>,
    /// A view or a formula may depend on any field: the webhook watches
    /// them all.
    pub watch_all_fields: bool,
}

/// Which way a record crosses the scope's edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crossing {
    Enter,
    Leave,
}

impl ResolvedScope {
    pub fn judges_notion(&self) -> bool {
        self.notion_filter.is_some()
    }

    pub fn judges_airtable(&self) -> bool {
        self.airtable_formula.is_some() || self.airtable_view.is_some()
    }

    /// Notion's vote on a page (`None`: Notion has no conditions).
    pub fn page_vote(&self, page: Option<&Page>) -> Option<bool> {
        let filter = self.notion_filter.as_ref()?;
        Some(page.is_some_and(|p| scope_filter::matches(filter, p)))
    }

    /// `filterByFormula` for one row: in scope exactly when it returns it.
    pub fn row_formula(&self, record_id: &str) -> String {
        let id = format!("RECORD_ID() = '{}'", record_id.replace('\'', "\\'"));
        match &self.airtable_formula {
            Some(f) => format!("AND({id}, {f})"),
            None => id,
        }
    }
}

/// Resolve `[pair.scope]`; every problem, each naming what is wrong.
pub fn resolve_scope(
    cfg: &ScopeConfig,
    ds: &DataSource,
    table: &TableSchema,
) -> Result<ResolvedScope, Vec<String>> {
    let mut problems = Vec::new();
    let notion_filter = scope_filter::compile(
        cfg.notion_filter.as_ref(),
        &cfg.notion,
        cfg.notion_gate.as_deref(),
        ds,
    )
    .unwrap_or_else(|p| {
        problems.extend(p);
        None
    });
    let mut formulas: Vec<String> = cfg.airtable_formula.iter().cloned().collect();
    let mut airtable_gate_id = None;
    if let Some(gate) = &cfg.airtable_gate {
        match table.field(gate) {
            Some(f) if f.kind == "checkbox" => {
                formulas.push(format!("{{{}}}", f.name));
                airtable_gate_id = Some(f.id.clone());
            }
            Some(f) => problems.push(format!(
                "airtable_gate \"{gate}\" is a {} field; a gate must be a checkbox",
                f.kind
            )),
            None => problems.push(format!(
                "airtable_gate \"{gate}\" is not a field of table \"{}\"",
                table.name
            )),
        }
    }
    if let Some(view) = &cfg.airtable_view {
        if !table.views.iter().any(|v| &v.name == view || &v.id == view) {
            let names: Vec<&str> = table.views.iter().map(|v| v.name.as_str()).collect();
            problems.push(format!(
                "airtable_view \"{view}\" is not a view of table \"{}\" (views: {})",
                table.name,
                names.join(", ")
            ));
        }
    }
    if !problems.is_empty() {
        return Err(problems
            .into_iter()
            .map(|p| format!("[pair.scope] {p}"))
            .collect());
    }
    let airtable_formula = match formulas.len() {
        0 => None,
        1 => formulas.pop(),
        _ => Some(format!("AND({})", formulas.join(", "))),
    };
    Ok(ResolvedScope {
        notion_filter,
        airtable_formula,
        airtable_view: cfg.airtable_view.clone(),
        on_leave: cfg.on_leave,
        airtable_gate_id,
        watch_all_fields: cfg.airtable_view.is_some() || cfg.airtable_formula.is_some(),
    })
}

/// Apply the scope to one record's plan. `row_in` is Airtable's vote on the
/// row (`None` when Airtable has no conditions); Notion's is taken here
/// from the page. Returns the plan to run (unchanged, marked as entering,
/// or replaced by a leave), or `None` for a record outside the scope that
/// was never linked: nothing is written or logged for it.
pub fn apply(
    pair: &ResolvedPair,
    page: &Page,
    record: Option<&Record>,
    link: Option<&RecordLink>,
    row_in: Option<bool>,
    plan: Plan,
) -> Option<Plan> {
    let Some(scope) = &pair.scope else {
        return Some(plan);
    };
    // A page gone from the database follows the trash policy, scope or not.
    if page.in_trash || !super::plan::belongs_to(pair, page) {
        return Some(plan);
    }
    let votes = [scope.page_vote(Some(page)), row_in];
    let inside = votes.iter().flatten().any(|v| *v);
    match (inside, link) {
        (true, Some(_)) => Some(plan),
        (true, None) => Some(entering(plan)),
        (false, None) => None,
        (false, Some(l)) => Some(leaving(pair, scope, page, record, l, votes)),
    }
}

/// A record coming into the scope: its plan, said to enter.
fn entering(mut plan: Plan) -> Plan {
    plan.crossing = Some(Crossing::Enter);
    let note = "entered the scope";
    match plan.changes.iter_mut().find(|c| c.field.is_none()) {
        Some(c) => {
            c.detail = Some(format!(
                "{note}: {}",
                c.detail.as_deref().unwrap_or_default()
            ));
        }
        None => plan.changes.insert(
            0,
            record_change(ChangeKind::Link, None, format!("{note}: linked")),
        ),
    }
    plan
}

/// A linked record no voting side keeps: the link is forgotten, nothing
/// is deleted; with `on_leave = "archive"` the row first takes the
/// `on_notion_trash` values.
fn leaving(
    pair: &ResolvedPair,
    scope: &ResolvedScope,
    page: &Page,
    record: Option<&Record>,
    link: &RecordLink,
    votes: [Option<bool>; 2],
) -> Plan {
    let why = match votes {
        [Some(false), Some(false)] => "neither the page nor the row is in the scope",
        [Some(false), _] => "the page no longer matches the Notion scope",
        _ => "the row no longer matches the Airtable scope",
    };
    let mut plan = Plan {
        page_id: page.id.clone(),
        notion_url: page.url.clone(),
        record_id: record
            .map(|r| r.id.clone())
            .or_else(|| link.airtable_record_id.clone()),
        previous: link.snapshot.clone(),
        crossing: Some(Crossing::Leave),
        unlink: true,
        ..Plan::default()
    };
    let archive = match (&pair.config.options.on_notion_trash, record) {
        (NotionTrashAction::Set(set), Some(rec)) if scope.on_leave == OnLeave::Archive => {
            Some(AirtableWrite::Update {
                record_id: rec.id.clone(),
                fields: set
                    .iter()
                    .map(|(k, v)| (k.clone(), Json::String(v.clone())))
                    .collect(),
            })
        }
        _ => None,
    };
    let change = match archive {
        Some(write) => {
            plan.airtable = write;
            record_change(
                ChangeKind::Archive,
                Some(Side::Airtable),
                format!(
                    "left the scope ({why}): archived the Airtable row and unlinked it (on_leave = \"archive\")"
                ),
            )
        }
        None => record_change(
            ChangeKind::Skip,
            None,
            format!("left the scope ({why}): unlinked; both sides left as they are"),
        ),
    };
    plan.changes.push(change);
    plan
}

fn record_change(what: ChangeKind, to: Option<Side>, detail: String) -> Change {
    Change::record(what, to, detail)
}

#[cfg(test)]
#[path = "scope_tests.rs"]
mod tests;
