//! What people do between syncs, applied to the sandboxes (as a person,
//! through the sandboxes' own APIs) and to the model.

use rand::{Rng, seq::IndexedRandom};
use serde_json::{Value, json};

use super::model::{BODY, EPIC, FIELDS, Field, Link, MOCKUP, Rec, empty_vals};
use super::run::Run;
use super::sides::{airtable_edit, body_form, notion_edit};
use super::values::{UNKNOWN_STATUSES, random_value};

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

    /// A random value for `field` that this world's schemas accept.
    pub fn value(&mut self, field: &str, step: usize) -> String {
        random_value(&mut self.rng, field, step, self.shape)
    }

    /// A value a person sets on one side of record `i` (the epics a
    /// relation can name depend on the side).
    fn side_value(&mut self, i: usize, field: &str, step: usize, notion: bool) -> String {
        match field {
            EPIC => self.epic_value(i, notion),
            MOCKUP => {
                let r = &self.recs[i];
                let current = match (notion, &r.a) {
                    (true, _) => r.n[MOCKUP].clone(),
                    (false, Some(a)) => a[MOCKUP].clone(),
                    (false, None) => String::new(),
                };
                self.files_value(&current)
            }
            _ => self.value(field, step),
        }
    }

    /// Where Notion's Status is a `status` property, an Airtable person
    /// sometimes picks a status Notion lacks (on a synced record: one never
    /// synced has no old snapshot value to keep).
    fn maybe_unknown_status(&mut self, i: usize, f: Field, v: String) -> String {
        let synced = self.recs[i].s.is_some();
        if self.shape.status_type && synced && f.notion == "Status" && self.rng.random_bool(0.6) {
            self.count("statuses Notion lacks typed in Airtable");
            return UNKNOWN_STATUSES
                .choose(&mut self.rng)
                .expect("statuses")
                .to_string();
        }
        v
    }

    /// Counts the bold or italic blockers people type.
    fn count_formatted(&mut self, values: &[(Field, String)]) {
        let formatted = |(f, v): &(Field, String)| f.notion == "Blockers" && v.contains('*');
        if values.iter().any(formatted) {
            self.count("formatted blockers typed");
        }
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
            .map(|f| (f, self.side_value(i, f.notion, self.step, true)))
            .collect();
        self.write_notion(i, &values);
    }

    /// A person's edit of a page: its properties, and its content (typed
    /// in the page: a separate edit, sent as typed; the model keeps its
    /// compared form).
    pub fn write_notion(&mut self, i: usize, values: &[(Field, String)]) {
        let mut body = serde_json::Map::new();
        for (f, v) in values.iter().filter(|(f, _)| f.notion != BODY) {
            let edit = match f.notion {
                EPIC => self.epic_refs(v),
                MOCKUP => self.notion_files_body(&self.recs[i].page_id, v),
                _ => notion_edit(f.notion, v, &self.people, self.shape),
            };
            if let Value::Object(m) = edit {
                body.extend(m);
            }
        }
        let content = values.iter().find(|(f, _)| f.notion == BODY);
        let person = self.person();
        let page = self.recs[i].page_id.clone();
        let values = compared(values);
        let edits = self.edits.entry(page.clone()).or_default();
        for (f, v) in &values {
            edits.notion(f.notion, v);
        }
        self.count("Notion edits");
        if values.iter().any(|(f, _)| f.notion == MOCKUP) {
            self.count("files set in Notion");
        }
        self.count_formatted(&values);
        self.note(format!("Notion edit of {page}: {values:?}"));
        if !body.is_empty() {
            if let Err(e) = self
                .w
                .notion
                .update_page_as_person(&page, &person, Value::Object(body))
            {
                self.fail(&format!("Notion refused a person's edit: {e:#}"));
            }
        }
        if let Some((_, typed)) = content {
            self.count("page contents typed in Notion");
            if let Err(e) = self.w.notion.set_content_as_person(&page, &person, typed) {
                self.fail(&format!("Notion refused a person's content edit: {e:#}"));
            }
        }
        for (f, v) in values {
            self.recs[i].n.insert(f.notion, v);
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
            .map(|f| {
                let v = self.side_value(i, f.notion, self.step, false);
                (f, self.maybe_unknown_status(i, f, v))
            })
            .collect();
        self.write_airtable(i, &values);
    }

    pub fn write_airtable(&mut self, i: usize, values: &[(Field, String)]) {
        let mut body = serde_json::Map::new();
        for (f, v) in values {
            let edit = match f.notion {
                EPIC => self.epic_cell(v),
                MOCKUP => {
                    let row = self.recs[i].row_id.as_deref().and_then(|r| self.row_of(r));
                    self.airtable_files_cell(row.as_ref(), v)
                }
                _ => airtable_edit(f, v),
            };
            if let Value::Object(m) = edit {
                body.extend(m);
            }
        }
        let row = self.recs[i].row_id.clone().expect("a row");
        let (base, table) = self.base_table();
        if values.iter().any(|(f, _)| f.notion == BODY) {
            self.count("page contents typed in Airtable");
        }
        let values = compared(values);
        let edits = self.edits.entry(self.recs[i].page_id.clone()).or_default();
        for (f, v) in &values {
            edits.airtable(f.notion, v);
        }
        self.count("Airtable edits");
        if values.iter().any(|(f, _)| f.notion == MOCKUP) {
            self.count("files set in Airtable");
        }
        self.count_formatted(&values);
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
            r.a.as_mut().expect("a row").insert(f.notion, v);
        }
    }

    /// The same field edited on both sides before a sync: a conflict (or
    /// not, when both typed the same value).
    pub fn edit_both(&mut self) {
        let Some(i) = self.pick(|r| !r.trashed && r.a.is_some()) else {
            return;
        };
        let f = *FIELDS.choose(&mut self.rng).expect("fields");
        self.count("same field edited on both sides");
        let n = self.side_value(i, f.notion, self.step, true);
        let a = self.side_value(i, f.notion, self.step + 1, false);
        let a = self.maybe_unknown_status(i, f, a);
        self.write_notion(i, &[(f, n)]);
        self.write_airtable(i, &[(f, a)]);
    }

    /// A value edited and edited back before a sync: unchanged, by design.
    pub fn edit_and_revert(&mut self) {
        let Some(i) = self.pick(|r| !r.trashed && r.a.is_some()) else {
            return;
        };
        let f = *FIELDS.choose(&mut self.rng).expect("fields");
        let notion = self.rng.random_bool(0.5);
        let v = self.side_value(i, f.notion, self.step, notion);
        if notion {
            let old = self.recs[i].n[f.notion].clone();
            self.write_notion(i, &[(f, v)]);
            self.write_notion(i, &[(f, old)]);
        } else {
            let old = self.recs[i].a.as_ref().expect("a row")[f.notion].clone();
            self.write_airtable(i, &[(f, v)]);
            self.write_airtable(i, &[(f, old)]);
        }
    }

    /// Before the sync's first run: people filled in ops fields on some
    /// Notion pages, and some specs already have an Airtable row (same
    /// name), whose cells are empty, equal to Notion's or different.
    pub fn before_first_contact(&mut self) {
        for i in 0..self.recs.len() {
            if self.rng.random_bool(0.3) {
                let ops: Vec<Field> = FIELDS.iter().filter(|f| f.one_way).copied().collect();
                let mut values: Vec<(Field, String)> = Vec::new();
                for f in ops {
                    if self.rng.random_bool(0.7) {
                        values.push((f, self.value(f.notion, i)));
                    }
                }
                if self.rng.random_bool(0.5) {
                    let body = FIELDS.iter().find(|f| f.notion == BODY).copied();
                    let body = body.expect("the body field");
                    values.push((body, self.value(BODY, i)));
                }
                if !values.is_empty() {
                    self.write_notion(i, &values);
                }
            }
            if self.rng.random_bool(0.4) {
                self.existing_row(i);
            }
        }
    }

    fn existing_row(&mut self, i: usize) {
        let n = self.recs[i].n.clone();
        let mut vals = empty_vals();
        vals.insert("Name", n["Name"].clone());
        for f in FIELDS.iter().filter(|f| f.notion != "Name") {
            let v = match self.rng.random_range(0..3) {
                0 => String::new(),
                1 => n[f.notion].clone(),
                _ => self.side_value(i, f.notion, i, false),
            };
            vals.insert(f.notion, v);
        }
        let mut body = serde_json::Map::new();
        for f in FIELDS {
            let edit = match f.notion {
                EPIC => self.epic_cell(&vals[f.notion]),
                MOCKUP => self.airtable_files_cell(None, &vals[f.notion]),
                _ => airtable_edit(&f, &vals[f.notion]),
            };
            if let Value::Object(m) = edit {
                body.extend(m.into_iter().filter(|(_, v)| !v.is_null()));
            }
        }
        if let Some(typed) = vals.get_mut(BODY) {
            *typed = body_form(typed);
        }
        let (base, table) = self.base_table();
        let id = self
            .w
            .airtable
            .insert_record_as_person(&base, &table, Value::Object(body))
            .unwrap_or_else(|e| self.fail(&format!("Airtable refused a row: {e:#}")));
        self.count("rows before first contact");
        self.note(format!(
            "row {id} ({}) before first contact: {vals:?}",
            n["Name"]
        ));
        let page = self.recs[i].page_id.clone();
        let edits = self.edits.entry(page).or_default();
        for (f, v) in &vals {
            edits.airtable(f, v);
        }
        let r = &mut self.recs[i];
        r.a = Some(vals);
        r.row_id = Some(id);
    }

    /// People replace every status Notion lacks (refused, or not synced
    /// yet) with one it has; the next sync carries it over and clears the
    /// record's issue.
    pub fn fix_refused(&mut self) {
        let status = FIELDS[1];
        for i in 0..self.recs.len() {
            let unknown = self.recs[i]
                .a
                .as_ref()
                .is_some_and(|a| UNKNOWN_STATUSES.contains(&a[status.notion].as_str()));
            if unknown {
                self.count("refused statuses replaced by a person");
                let v = self.value(status.notion, self.step);
                self.write_airtable(i, &[(status, v)]);
            }
        }
    }

    /// A person writes a new spec in Notion (sometimes filling in an ops
    /// field, which Airtable's empty value then overrides).
    pub fn new_page(&mut self) {
        let mut vals = empty_vals();
        for f in ["Name", "Status", "Priority", "Owner", "Sprint", BODY] {
            if f == "Name" || self.rng.random_bool(0.6) {
                vals.insert(f, self.value(f, self.step));
            }
        }
        let content = std::mem::take(vals.get_mut(BODY).expect("a body"));
        vals.insert(BODY, body_form(&content));
        let mut body = serde_json::Map::new();
        let props = vals.iter().filter(|(f, v)| **f != BODY && !v.is_empty());
        for (f, v) in props {
            if let Value::Object(m) = notion_edit(f, v, &self.people, self.shape) {
                body.extend(m);
            }
        }
        let person = self.person();
        let id = self
            .w
            .notion
            .insert_page_as_person(&self.w.team_n.data_source_id, &person, json!(body))
            .unwrap_or_else(|e| self.fail(&format!("Notion refused a new page: {e:#}")));
        if !content.is_empty() {
            // Typed into the new page right after creating it.
            if let Err(e) = self.w.notion.set_content_as_person(&id, &person, &content) {
                self.fail(&format!("Notion refused a new page's content: {e:#}"));
            }
        }
        self.count("new pages");
        self.note(format!("new page {id}: {vals:?}"));
        let edits = self.edits.entry(id.clone()).or_default();
        for (f, v) in &vals {
            edits.notion(f, v);
        }
        self.recs.push(Rec::new(id, vals, self.shape.status_type));
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

/// Typed values as the model holds them: the body in its compared form.
fn compared(values: &[(Field, String)]) -> Vec<(Field, String)> {
    values
        .iter()
        .map(|(f, v)| match f.notion {
            BODY => (*f, body_form(v)),
            _ => (*f, v.clone()),
        })
        .collect()
}
