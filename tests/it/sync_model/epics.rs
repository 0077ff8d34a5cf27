//! The second pair: epics, which the specs' relation Epic points to
//! (Notion `relation` ↔ Airtable `multipleRecordLinks`, the setup of
//! `relations::setup`). People create epics on either side (a page in
//! Notion, a row in Airtable), trash epic pages and delete epic rows; the
//! epics pair's own sweep links new epics at random points, so a spec often
//! names an epic the other side cannot hold yet.
//!
//! The model names every epic by its title ("Epic 3", never edited): a
//! relation's value is the set of the titles it names, read through the
//! ids each side uses ([`Names`]).

use std::collections::BTreeMap;

use notion_airtable_sandbox::airtable::{FieldSchema, FieldType};
use notion_airtable_sync::{
    config::{BodyMapping, SyncConfig},
    engine::{SweepOptions, load_pair},
    store::{Cause, LinkState},
    sync::{pair::ResolvedPair, relation::normal_page_id, relation_target::link_targets},
};
use serde_json::{Value, json};

use super::common::{mapping::Mapping, world::World};
use super::model::{EPIC, EpicState, Epics};
use super::run::Run;
use crate::relations::setup::{epics_pair, new_epic_page};

const ANCHOR: &str = "# Operational data:";
const EPIC_FIELD: &str = "[[pair.field]]
notion = \"Epic\"
airtable = \"Epic\"
direction = \"both\"
conflict = \"notion\"

[[pair.field]]
notion = \"Mockup\"
airtable = \"Mockup\"
direction = \"both\"
conflict = \"notion\"

# Operational data:";

/// Where the epics live, and their pair.
pub struct EpicsWorld {
    pub pair: ResolvedPair,
    pub data_source_id: String,
    pub table_id: String,
}

/// One epic as people and the epics pair made it.
#[derive(Debug, Clone)]
pub struct Epic {
    pub name: String,
    pub page_id: Option<String>,
    pub row_id: Option<String>,
    /// The epics pair stored its link (both sides exist).
    pub linked: bool,
    pub trashed: bool,
    /// The epics pair saw the trash (its link is `notion_trashed`).
    pub trash_seen: bool,
    pub row_deleted: bool,
    /// The epics pair saw the delete (its link is `airtable_deleted`).
    pub delete_seen: bool,
}

/// Epic titles by the ids either side uses (page ids dashed, lowercase).
pub type Names = BTreeMap<String, String>;

/// Add the epics database and table, the relation and link field, the
/// files property and attachments field Mockup, and resolve both pairs (the specs' page content synced as `body` says).
pub async fn add_epics(w: &mut World, body: BodyMapping) -> EpicsWorld {
    let person = w.team_n.people[0].1.clone();
    let (base, specs) = (w.team_a.base_id.clone(), w.team_a.table_id.clone());
    let (epics_db, ds) = w.notion.create_database(
        "Epics",
        vec![
            notion_airtable_sandbox::notion::PropertySchema::title("Name"),
            notion_airtable_sandbox::notion::PropertySchema::rich_text("Airtable Record ID"),
        ],
    );
    let text = |n: &str| FieldSchema::new(n, FieldType::SingleLineText);
    let table_id =
        w.airtable
            .create_table(&base, "Epics", vec![text("Name"), text("Notion Page ID")]);
    let relation = json!({ "properties": {
        "Epic": { "relation": { "data_source_id": ds, "single_property": {} } },
        "Mockup": { "files": {} },
    }});
    w.notion
        .update_data_source_as_person(&w.team_n.data_source_id, &person, relation)
        .unwrap();
    let link = FieldSchema::with_options(
        "Epic",
        FieldType::MultipleRecordLinks,
        json!({ "linkedTableId": table_id }),
    );
    w.airtable
        .create_field_as_person(&base, &specs, link)
        .unwrap();
    let files = FieldSchema::new("Mockup", FieldType::MultipleAttachments);
    w.airtable
        .create_field_as_person(&base, &specs, files)
        .unwrap();
    let text = format!(
        "{}{}",
        Mapping::example(&w.team_n.database_id, &base)
            .edit(ANCHOR, EPIC_FIELD)
            .text(),
        epics_pair(&epics_db, &base)
    );
    let mut config = SyncConfig::parse(&text).unwrap();
    config.pairs[0].body = Some(body);
    let mut pairs = Vec::new();
    for p in &config.pairs {
        pairs.push(
            load_pair(p, &w.engine.notion, &w.engine.airtable)
                .await
                .unwrap(),
        );
    }
    let problems = link_targets(&mut pairs);
    assert!(problems.is_empty(), "{problems:?}");
    let pair = pairs.pop().expect("the epics pair");
    w.pair = pairs.pop().expect("the specs pair");
    EpicsWorld {
        pair,
        data_source_id: ds,
        table_id,
    }
}

impl Run {
    /// Every epic's title by its page id and its row id.
    pub fn names(&self) -> Names {
        let mut names = Names::new();
        for e in &self.epics {
            if let Some(p) = &e.page_id {
                names.insert(normal_page_id(p), e.name.clone());
            }
            if let Some(r) = &e.row_id {
                names.insert(r.clone(), e.name.clone());
            }
        }
        names
    }

    /// What a merge of the relation may do with each epic.
    pub fn epic_states(&self) -> Epics {
        self.epics
            .iter()
            .map(|e| {
                let st = EpicState {
                    page: e.page_id.is_some(),
                    row: e.row_id.is_some() && !e.row_deleted,
                    gone_n: e.trash_seen,
                    gone_a: e.row_deleted,
                    known_deleted: e.delete_seen,
                };
                (e.name.clone(), st)
            })
            .collect()
    }

    fn epic_named(&self, name: &str) -> &Epic {
        self.epics
            .iter()
            .find(|e| e.name == name)
            .unwrap_or_else(|| self.fail(&format!("no epic {name}")))
    }

    /// The relation's write body for a person's Notion edit.
    pub fn epic_refs(&self, v: &str) -> Value {
        let refs: Vec<Value> = super::model::members(v)
            .iter()
            .map(|n| json!({ "id": self.epic_named(n).page_id.clone().expect("a page") }))
            .collect();
        json!({ EPIC: { "relation": refs } })
    }

    /// The link cell for a person's Airtable edit.
    pub fn epic_cell(&self, v: &str) -> Value {
        let ids: Vec<String> = super::model::members(v)
            .iter()
            .map(|n| self.epic_named(n).row_id.clone().expect("a row"))
            .collect();
        json!({ EPIC: ids })
    }

    /// A relation value a person can set on one side: epics that side
    /// shows (Notion: pages not in the trash; Airtable: live rows). In
    /// Notion a trashed epic the relation holds stays (the page's UI keeps
    /// what it does not show). A Notion person does not pick an epic whose
    /// row was deleted: before the epics pair saw the delete, whether a
    /// sweep leaves it out or Airtable refuses it depends on which other
    /// rows the sweep read, so
    /// `relations::a_reference_to_a_deleted_row_refuses_the_link_field_alone`
    /// covers that case on its own.
    pub fn epic_value(&mut self, i: usize, notion: bool) -> String {
        use rand::{Rng, seq::IndexedRandom};
        let shown: Vec<String> = self
            .epics
            .iter()
            .filter(|e| match notion {
                true => e.page_id.is_some() && !e.trashed && !e.row_deleted,
                false => e.row_id.is_some() && !e.row_deleted,
            })
            .map(|e| e.name.clone())
            .collect();
        let count = match self.rng.random_range(0..10) {
            0..=1 => 0,
            2..=6 => 1,
            _ => 2,
        };
        let mut picked: Vec<String> = shown
            .choose_multiple(&mut self.rng, count)
            .cloned()
            .collect();
        if notion {
            let kept = super::model::members(&self.recs[i].n[EPIC])
                .into_iter()
                .filter(|n| self.epic_named(n).trashed);
            picked.extend(kept.collect::<Vec<_>>());
        }
        super::model::set_of(picked)
    }

    /// A person creates an epic: a page in Notion or a row in Airtable.
    pub fn new_epic(&mut self, notion: bool) {
        let name = format!("Epic {}", self.epics.len() + 1);
        let mut epic = Epic {
            name: name.clone(),
            page_id: None,
            row_id: None,
            linked: false,
            trashed: false,
            trash_seen: false,
            row_deleted: false,
            delete_seen: false,
        };
        if notion {
            let person = self.w.team_n.people[0].1.clone();
            let id = new_epic_page(&self.w.notion, &self.ew.data_source_id, &person, &name);
            epic.page_id = Some(id);
        } else {
            let (base, table) = (&self.w.team_a.base_id, &self.ew.table_id);
            let id = self
                .w
                .airtable
                .insert_record_as_person(base, table, json!({ "Name": name }))
                .unwrap_or_else(|e| self.fail(&format!("Airtable refused an epic: {e:#}")));
            epic.row_id = Some(id);
        }
        self.count(if notion {
            "epics created in Notion"
        } else {
            "epics created in Airtable"
        });
        self.note(format!("new epic {epic:?}"));
        self.epics.push(epic);
    }

    /// A person trashes the page of a linked epic.
    pub fn trash_epic(&mut self) {
        use rand::seq::IteratorRandom;
        let live = |e: &Epic| e.linked && !e.trashed && !e.row_deleted;
        let Some(k) = (0..self.epics.len())
            .filter(|&k| live(&self.epics[k]))
            .choose(&mut self.rng)
        else {
            return;
        };
        let page = self.epics[k].page_id.clone().expect("a page");
        let person = self.w.team_n.people[0].1.clone();
        self.w
            .notion
            .set_trashed_as_person(&page, &person, true)
            .unwrap_or_else(|e| self.fail(&format!("Notion refused trashing an epic: {e:#}")));
        self.count("epic pages trashed");
        self.note(format!("epic page {page} ({}) trashed", self.epics[k].name));
        self.epics[k].trashed = true;
    }

    /// A person deletes the row of a linked epic: Airtable drops it from
    /// every link cell on its own.
    pub fn delete_epic_row(&mut self) {
        use rand::seq::IteratorRandom;
        let live = |e: &Epic| e.linked && !e.trashed && !e.row_deleted;
        let Some(k) = (0..self.epics.len())
            .filter(|&k| live(&self.epics[k]))
            .choose(&mut self.rng)
        else {
            return;
        };
        let row = self.epics[k].row_id.clone().expect("a row");
        let base = self.w.team_a.base_id.clone();
        self.w
            .airtable
            .delete_record_as_person(&base, &self.ew.table_id, &row)
            .unwrap_or_else(|e| self.fail(&format!("Airtable refused deleting an epic: {e:#}")));
        self.count("epic rows deleted");
        let name = self.epics[k].name.clone();
        self.note(format!("epic row {row} ({name}) deleted"));
        self.epics[k].row_deleted = true;
        for r in &mut self.recs {
            if let Some(a) = r.a.as_mut() {
                let left = super::model::members(&a[EPIC])
                    .into_iter()
                    .filter(|n| *n != name);
                a.insert(EPIC, super::model::set_of(left));
            }
        }
    }

    /// The epics pair's full sweep (no faults: its own model is simple):
    /// every epic on one side gets the other and a link; the trash and
    /// deletes of linked epics are recorded.
    pub async fn sweep_epics(&mut self) {
        self.note("engine: epics Sweep".into());
        self.count("epics sweeps");
        let opts = SweepOptions {
            full: true,
            dry_run: false,
            cause: Cause::Sweep,
        };
        let summary = self
            .w
            .engine
            .sweep(&self.ew.pair, opts)
            .await
            .unwrap_or_else(|e| self.fail(&format!("the epics sweep failed: {e:#}")));
        if !summary.problems.is_empty() {
            self.fail(&format!("epics sweep problems: {:?}", summary.problems));
        }
        let store = self.w.engine.store.clone();
        for k in 0..self.epics.len() {
            let e = self.epics[k].clone();
            let link = match (&e.page_id, &e.row_id) {
                (Some(p), _) => store.get_link_by_page("epics", p).await.unwrap(),
                (None, Some(r)) => store.get_link_by_record("epics", r).await.unwrap(),
                (None, None) => None,
            };
            let Some(link) = link else {
                self.fail(&format!("epic {} is not linked after a sweep", e.name));
            };
            let e = &mut self.epics[k];
            e.page_id = Some(link.notion_page_id.clone());
            if e.row_id.is_none() {
                e.row_id = link.airtable_record_id.clone();
            }
            e.linked = e.row_id.is_some();
            let want = match (e.trashed, e.row_deleted) {
                (true, _) => LinkState::NotionTrashed,
                (false, true) => LinkState::AirtableDeleted,
                _ => LinkState::Active,
            };
            if link.state != want {
                let name = e.name.clone();
                self.fail(&format!(
                    "epic {name}: link {:?}, expected {want:?}",
                    link.state
                ));
            }
            let e = &mut self.epics[k];
            e.trash_seen = e.trashed;
            e.delete_seen = e.row_deleted;
        }
    }
}
