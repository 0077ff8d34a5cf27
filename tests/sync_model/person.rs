//! What people do between syncs, applied to the sandboxes (as a person,
//! through the sandboxes' own APIs) and to the model.

use rand::{Rng, seq::IndexedRandom};
use serde_json::{Value, json};

use super::model::{FIELDS, Field, Link, Rec, empty_vals};
use super::run::Run;
use super::sides::{airtable_edit, notion_edit};
use super::values::random_value;

impl Run {
    /// A random record among the hot ones that satisfies `pred`.
    pub fn pick(&mut self, pred: impl Fn(&Rec) -> bool) -> Option<usize> {
        let candidates: Vec<usize> = self
            .hot
            .iter()
            .copied()
            .filter(|&i| pred(&self.recs[i]))
            .collect();
        candidates.choose(&mut self.rng).copied()
    }

    fn person(&mut self) -> String {
        self.people.choose(&mut self.rng).expect("people").1.clone()
    }

    fn random_fields(&mut self) -> Vec<Field> {
        let count = if self.rng.random_bool(0.25) { 2 } else { 1 };
        FIELDS
            .choose_multiple(&mut self.rng, count)
            .copied()
            .collect()
    }

    /// A person edits one or two properties of a live page.
    pub fn edit_notion(&mut self) {
        let Some(i) = self.pick(|r| !r.trashed) else {
            return;
        };
        let fields = self.random_fields();
        let values: Vec<(Field, String)> = fields
            .into_iter()
            .map(|f| (f, random_value(&mut self.rng, f.notion, self.step)))
            .collect();
        self.write_notion(i, &values);
    }

    pub fn write_notion(&mut self, i: usize, values: &[(Field, String)]) {
        let mut body = serde_json::Map::new();
        for (f, v) in values {
            if let Value::Object(m) = notion_edit(f.notion, v, &self.people) {
                body.extend(m);
            }
        }
        let person = self.person();
        let page = self.recs[i].page_id.clone();
        self.count("Notion edits");
        self.note(format!("Notion edit of {page}: {values:?}"));
        if let Err(e) = self
            .w
            .notion
            .update_page_as_person(&page, &person, Value::Object(body))
        {
            self.fail(&format!("Notion refused a person's edit: {e:#}"));
        }
        for (f, v) in values {
            self.recs[i].n.insert(f.notion, v.clone());
        }
    }

    /// A person edits one or two cells of a row (archived rows included).
    pub fn edit_airtable(&mut self) {
        let Some(i) = self.pick(|r| r.a.is_some()) else {
            return;
        };
        let fields = self.random_fields();
        let values: Vec<(Field, String)> = fields
            .into_iter()
            .map(|f| (f, random_value(&mut self.rng, f.notion, self.step)))
            .collect();
        self.write_airtable(i, &values);
    }

    pub fn write_airtable(&mut self, i: usize, values: &[(Field, String)]) {
        let mut body = serde_json::Map::new();
        for (f, v) in values {
            if let Value::Object(m) = airtable_edit(f, v) {
                body.extend(m);
            }
        }
        let row = self.recs[i].row_id.clone().expect("a row");
        let (base, table) = self.base_table();
        self.count("Airtable edits");
        self.note(format!(
            "Airtable edit of {row} ({}): {values:?}",
            self.recs[i].page_id
        ));
        if let Err(e) =
            self.w
                .airtable
                .update_record_as_person(&base, &table, &row, Value::Object(body))
        {
            self.fail(&format!("Airtable refused a person's edit: {e:#}"));
        }
        let r = &mut self.recs[i];
        for (f, v) in values {
            r.a.as_mut().expect("a row").insert(f.notion, v.clone());
        }
    }

    /// The same field edited on both sides before a sync: a conflict (or
    /// not, when both typed the same value).
    pub fn edit_both(&mut self) {
        let Some(i) = self.pick(|r| !r.trashed && r.a.is_some()) else {
            return;
        };
        self.count("same field edited on both sides");
        let f = *FIELDS.choose(&mut self.rng).expect("fields");
        let n = random_value(&mut self.rng, f.notion, self.step);
        let a = random_value(&mut self.rng, f.notion, self.step + 1);
        self.write_notion(i, &[(f, n)]);
        self.write_airtable(i, &[(f, a)]);
    }

    /// A value edited and edited back before a sync: unchanged, by design.
    pub fn edit_and_revert(&mut self) {
        let Some(i) = self.pick(|r| !r.trashed && r.a.is_some()) else {
            return;
        };
        let f = *FIELDS.choose(&mut self.rng).expect("fields");
        let v = random_value(&mut self.rng, f.notion, self.step);
        if self.rng.random_bool(0.5) {
            let old = self.recs[i].n[f.notion].clone();
            self.write_notion(i, &[(f, v)]);
            self.write_notion(i, &[(f, old)]);
        } else {
            let old = self.recs[i].a.as_ref().expect("a row")[f.notion].clone();
            self.write_airtable(i, &[(f, v)]);
            self.write_airtable(i, &[(f, old)]);
        }
    }

    /// A person writes a new spec in Notion (sometimes filling in an ops
    /// field, which Airtable's empty value then overrides).
    pub fn new_page(&mut self) {
        let mut vals = empty_vals();
        for f in ["Name", "Status", "Priority", "Owner", "Sprint"] {
            if f == "Name" || self.rng.random_bool(0.6) {
                vals.insert(f, random_value(&mut self.rng, f, self.step));
            }
        }
        let mut body = serde_json::Map::new();
        for (f, v) in vals.iter().filter(|(_, v)| !v.is_empty()) {
            if let Value::Object(m) = notion_edit(f, v, &self.people) {
                body.extend(m);
            }
        }
        let person = self.person();
        let id = self
            .w
            .notion
            .insert_page_as_person(&self.w.team_n.data_source_id, &person, json!(body))
            .unwrap_or_else(|e| self.fail(&format!("Notion refused a new page: {e:#}")));
        self.count("new pages");
        self.note(format!("new page {id}: {vals:?}"));
        self.recs.push(Rec::new(id, vals));
        self.hot.push(self.recs.len() - 1);
    }

    pub fn trash(&mut self) {
        if let Some(i) = self.pick(|r| !r.trashed) {
            self.set_trashed(i, true);
        }
    }

    pub fn restore(&mut self) {
        if let Some(i) = self.pick(|r| r.trashed) {
            self.set_trashed(i, false);
        }
    }

    pub fn set_trashed(&mut self, i: usize, trashed: bool) {
        let person = self.person();
        let page = self.recs[i].page_id.clone();
        self.count(if trashed { "trashes" } else { "restores" });
        self.note(format!("page {page} in_trash = {trashed}"));
        if let Err(e) = self.w.notion.set_trashed_as_person(&page, &person, trashed) {
            self.fail(&format!("Notion refused (un)trashing: {e:#}"));
        }
        self.recs[i].trashed = trashed;
    }

    /// A person deletes a row. A row whose link was never committed is
    /// unknown to the engine, so its page simply gets a row again (modelled
    /// as "no row yet"); a linked row stays deleted.
    pub fn delete_row(&mut self) {
        if let Some(i) = self.pick(|r| r.a.is_some()) {
            self.delete_row_of(i);
        }
    }

    pub fn delete_row_of(&mut self, i: usize) {
        let row = self.recs[i].row_id.clone().expect("a row");
        let (base, table) = self.base_table();
        self.count("row deletes");
        self.note(format!("row {row} of {} deleted", self.recs[i].page_id));
        if let Err(e) = self.w.airtable.delete_record_as_person(&base, &table, &row) {
            self.fail(&format!("Airtable refused a delete: {e:#}"));
        }
        let r = &mut self.recs[i];
        r.a = None;
        if r.link == Link::None {
            r.row_id = None;
        } else {
            r.row_deleted = true;
        }
    }
}
