//! What a person does in the Airtable app (edits attributed to a person user, source
//! `client`), and the setup the sandbox offers outside the API: bases, tables, the team seed.
//! Shared by the Rust handle and the HTTP control API; nothing here is counted or rate
//! limited.

use std::{collections::BTreeMap, sync::Arc};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::collaborators::Collaborator;
use super::errors::{AtError, AtResult};
use super::fields;
use super::schema::{FieldSchema, FieldType};
use super::state::Shared;
use super::table::{Base, RenderOptions, Table};
use super::writes::{self, RecordInput, UpdateMode};
use crate::team;

/// The team's Airtable side: ids of the seeded base, table and fields (name → id).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamAirtable {
    pub base_id: String,
    pub table_id: String,
    pub field_ids: BTreeMap<String, String>,
}

/// The "Delivery Tracker" fields; `Spec Name` is the primary field.
pub(crate) fn team_fields() -> Vec<FieldSchema> {
    let mut statuses: Vec<&str> = team::STATUSES.to_vec();
    statuses.push("Archived");
    let text = |n: &str| FieldSchema::new(n, FieldType::SingleLineText);
    vec![
        text("Spec Name"),
        FieldSchema::single_select("Status", &statuses),
        FieldSchema::single_select("Priority", &team::PRIORITIES),
        text("Owner"),
        FieldSchema::single_select("Target Quarter", &team::QUARTERS),
        FieldSchema::new("Notion URL", FieldType::Url),
        text("Sprint"),
        FieldSchema::new("Ship Date", FieldType::Date),
        FieldSchema::new("Blockers", FieldType::MultilineText),
        FieldSchema::new("Last Synced", FieldType::DateTime),
        text("Notion Page ID"),
    ]
}

/// Seed the team base and table (empty: the service creates the rows). Idempotent: a
/// second call returns the same base.
pub(crate) fn seed_team(shared: &Shared) -> TeamAirtable {
    let mut store = shared.store();
    let existing = store.bases.iter().find_map(|b| {
        let table = b.table(team::AIRTABLE_TABLE_NAME)?;
        (b.name == team::AIRTABLE_BASE_NAME).then(|| team_ids(b, table))
    });
    if let Some(ids) = existing {
        return ids;
    }
    let mut base = Base::new(team::AIRTABLE_BASE_NAME);
    base.tables
        .push(Table::new(team::AIRTABLE_TABLE_NAME, &team_fields()));
    // The team members can be assigned, as in the Notion workspace.
    base.collaborators = team::PEOPLE
        .iter()
        .map(|p| Collaborator::new(p.email, p.name))
        .collect();
    let ids = team_ids(&base, &base.tables[0]);
    store.bases.push(base);
    ids
}

fn team_ids(base: &Base, table: &Table) -> TeamAirtable {
    TeamAirtable {
        base_id: base.id.clone(),
        table_id: table.id.clone(),
        field_ids: table
            .fields
            .iter()
            .map(|f| (f.name.clone(), f.id.clone()))
            .collect(),
    }
}

/// The base's collaborators.
pub(crate) fn collaborators(shared: &Shared, base: &str) -> AtResult<Vec<Collaborator>> {
    let store = shared.store();
    let base = store.base(base)?;
    Ok(base.collaborators.clone())
}

/// Give exactly these people (email, name) access to the base. Someone already there keeps
/// their id; cells naming someone who leaves keep them (Airtable's "former collaborators").
pub(crate) fn set_collaborators(
    shared: &Shared,
    base: &str,
    people: &[(String, String)],
) -> AtResult<Vec<Collaborator>> {
    let mut store = shared.store();
    let base = store.base_mut(base)?;
    let list: Vec<Collaborator> = people
        .iter()
        .map(|(email, name)| {
            match base
                .collaborators
                .iter()
                .find(|c| c.email.eq_ignore_ascii_case(email))
            {
                Some(c) => Collaborator {
                    name: name.clone(),
                    ..c.clone()
                },
                None => Collaborator::new(email, name),
            }
        })
        .collect();
    base.collaborators = list.clone();
    Ok(list)
}

pub(crate) fn create_base(shared: &Shared, name: &str) -> String {
    let base = Base::new(name);
    let id = base.id.clone();
    shared.store().bases.push(base);
    id
}

/// Create a table; returns its id and its field ids (name → id).
pub(crate) fn create_table(
    shared: &Shared,
    base_id: &str,
    name: &str,
    fields: &[FieldSchema],
) -> AtResult<(String, BTreeMap<String, String>)> {
    if fields.is_empty() {
        return Err(AtError::invalid_request("a table needs at least one field"));
    }
    let mut store = shared.store();
    let base = store.base_mut(base_id)?;
    if base.table(name).is_some() {
        return Err(AtError::invalid_request(format!(
            "table \"{name}\" already exists"
        )));
    }
    let table = Table::new(name, fields);
    let ids = table
        .fields
        .iter()
        .map(|f| (f.name.clone(), f.id.clone()))
        .collect();
    let id = table.id.clone();
    base.tables.push(table);
    Ok((id, ids))
}

fn fields_object(fields: &Value) -> AtResult<Map<String, Value>> {
    fields
        .as_object()
        .cloned()
        .ok_or_else(|| AtError::invalid_request("fields must be a JSON object"))
}

/// A person creates a record (typing a new select option creates it, as in the app).
pub(crate) fn create_record(
    shared: &Arc<Shared>,
    base: &str,
    table: &str,
    fields: &Value,
) -> AtResult<String> {
    let fields = fields_object(fields)?;
    let actor = shared.person_actor.clone();
    shared.write(base, table, &actor, |t, now| {
        let out = writes::create(t, &[fields], true, now)?;
        Ok((
            out.record_ids.first().cloned().unwrap_or_default(),
            out.changes,
        ))
    })
}

pub(crate) fn update_record(
    shared: &Arc<Shared>,
    base: &str,
    table: &str,
    record: &str,
    fields: &Value,
) -> AtResult<()> {
    let input = RecordInput {
        id: Some(record.to_string()),
        fields: fields_object(fields)?,
    };
    let mode = UpdateMode {
        typecast: true,
        ..UpdateMode::default()
    };
    let actor = shared.person_actor.clone();
    shared.write(base, table, &actor, |t, now| {
        if t.record(record).is_none() {
            return Err(AtError::not_found());
        }
        Ok(((), writes::update(t, &[input], &mode, now)?.changes))
    })
}

/// A paste over many rows: one action, so one webhook payload that carries
/// every row it changed (as Airtable reports one user action).
pub(crate) fn update_records(
    shared: &Arc<Shared>,
    base: &str,
    table: &str,
    records: &[(String, Value)],
) -> AtResult<()> {
    let inputs = records
        .iter()
        .map(|(id, fields)| {
            Ok(RecordInput {
                id: Some(id.clone()),
                fields: fields_object(fields)?,
            })
        })
        .collect::<AtResult<Vec<_>>>()?;
    let mode = UpdateMode {
        typecast: true,
        ..UpdateMode::default()
    };
    let actor = shared.person_actor.clone();
    shared.write(base, table, &actor, |t, now| {
        if records.iter().any(|(id, _)| t.record(id).is_none()) {
            return Err(AtError::not_found());
        }
        Ok(((), writes::update(t, &inputs, &mode, now)?.changes))
    })
}

pub(crate) fn delete_record(
    shared: &Arc<Shared>,
    base: &str,
    table: &str,
    record: &str,
) -> AtResult<()> {
    let actor = shared.person_actor.clone();
    shared.write(base, table, &actor, |t, _now| {
        Ok(((), writes::delete(t, &[record.to_string()])?.changes))
    })
}

/// Restore a deleted record from the base's trash (a person's action in
/// the app; the API has none).
pub(crate) fn restore_record(
    shared: &Arc<Shared>,
    base: &str,
    table: &str,
    record: &str,
) -> AtResult<()> {
    let actor = shared.person_actor.clone();
    shared.write(base, table, &actor, |t, _now| {
        Ok(((), writes::restore(t, record)?.changes))
    })
}

/// Every record of a table in the REST shape (fields by name), in table order.
pub(crate) fn all_records(shared: &Shared, base: &str, table: &str) -> AtResult<Vec<Value>> {
    let store = shared.store();
    let (bi, ti) = store.locate(base, table)?;
    let t = &store.bases[bi].tables[ti];
    Ok(t.records
        .iter()
        .map(|r| t.render(r, RenderOptions::default(), None))
        .collect())
}

pub(crate) fn one_record(shared: &Shared, base: &str, table: &str, record: &str) -> Option<Value> {
    let store = shared.store();
    let (bi, ti) = store.locate(base, table).ok()?;
    let t = &store.bases[bi].tables[ti];
    t.record(record)
        .map(|r| t.render(r, RenderOptions::default(), None))
}

/// What a person changes about a field in the app: its name, description and type (with
/// the options a select type starts with). Every part is optional.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldEdit {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub field_type: Option<FieldType>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
}

/// A person adds a field → the field model.
pub(crate) fn create_field(
    shared: &Arc<Shared>,
    base: &str,
    table: &str,
    schema: &FieldSchema,
    description: Option<String>,
) -> AtResult<Value> {
    let actor = shared.person_actor.clone();
    // A count, lookup or rollup names its link field and looked-up field, picked by name
    // or id as in the UI, checked against the base and stored by id.
    let schema = {
        let store = shared.store();
        let (bi, ti) = store.locate(base, table)?;
        let b = &store.bases[bi];
        super::linked::prepare(b, &b.tables[ti], schema)?
    };
    shared.write(base, table, &actor, |t, _now| {
        let (field, changes) = fields::create(t, &schema, description)?;
        Ok((field.to_schema_json(), changes))
    })
}

/// A person renames, describes and/or changes the type of a field (by id or name), as one
/// transaction → the field model.
pub(crate) fn edit_field(
    shared: &Arc<Shared>,
    base: &str,
    table: &str,
    field: &str,
    edit: &FieldEdit,
) -> AtResult<Value> {
    let actor = shared.person_actor.clone();
    shared.write(base, table, &actor, |t, now| {
        let index = fields::index_by_key(t, field)?;
        let (mut result, mut changes) =
            fields::update(t, index, edit.name.as_deref(), edit.description.as_deref())?;
        if let Some(new_type) = edit.field_type {
            let (converted, more) = fields::change_type(t, index, new_type, &edit.choices, now)?;
            result = converted;
            changes.extend(more);
        }
        Ok((result.to_schema_json(), changes))
    })
}

/// A person deletes a field (by id or name): its cells disappear from every record.
pub(crate) fn delete_field(
    shared: &Arc<Shared>,
    base: &str,
    table: &str,
    field: &str,
) -> AtResult<String> {
    let actor = shared.person_actor.clone();
    shared.write(base, table, &actor, |t, _now| {
        let index = fields::index_by_key(t, field)?;
        let id = t.fields[index].id.clone();
        Ok((id, fields::delete(t, index)?))
    })
}

/// A person adds a grid view whose filter keeps the records `filter` (a
/// formula standing for the conditions the UI builds) keeps → its id.
/// Views are not made through the API; this is the UI's doing.
pub(crate) fn create_view(
    shared: &Arc<Shared>,
    base: &str,
    table: &str,
    name: &str,
    filter: Option<String>,
) -> AtResult<String> {
    let mut store = shared.store();
    let (bi, ti) = store.locate(base, table)?;
    let t = &mut store.bases[bi].tables[ti];
    if t.has_view(name) {
        return Err(AtError::invalid_request(format!(
            "a view named \"{name}\" exists"
        )));
    }
    if let Some(f) = &filter {
        super::formula::Formula::compile(f, t)?;
    }
    let id = super::ids::new_id("viw");
    t.views.push(super::table::View {
        id: id.clone(),
        name: name.to_owned(),
        filter,
    });
    Ok(id)
}
