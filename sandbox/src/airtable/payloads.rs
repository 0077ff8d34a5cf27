//! Webhook payloads built from one transaction (one API request or one person's edit),
//! filtered and shaped by each webhook's specification (api-facts §3.5). Cell values are in
//! the V2 format.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use super::cells;
use super::table::Table;
use super::webhooks::Spec;
use super::writes::{Change, FieldProps};
use crate::common::airtable_time;

/// Who made a change: the token's owner through the API (`publicApi`) or a person in the
/// app (`client`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Actor {
    pub id: String,
    pub email: String,
    pub name: String,
    pub source: &'static str,
}

impl Actor {
    /// `actionMetadata` (example in the list-payloads docs; `name` from third-party types).
    fn metadata(&self) -> Value {
        json!({
            "source": self.source,
            "sourceMetadata": {"user": {
                "id": self.id,
                "email": self.email,
                "permissionLevel": "create",
                "name": self.name,
            }},
        })
    }
}

/// One committed write to one table.
pub(crate) struct Transaction<'a> {
    pub timestamp: OffsetDateTime,
    pub table: &'a Table,
    pub actor: &'a Actor,
    pub changes: &'a [Change],
}

/// The payload `spec` gets for `txn` (without `baseTransactionNumber`, which the webhook
/// adds), or `None` when its filters leave nothing. Record changes need the `tableData`
/// data type, field-schema changes `tableFields`.
pub(crate) fn build(spec: &Spec, txn: &Transaction) -> Option<Value> {
    let table = txn.table;
    if spec
        .scope
        .as_ref()
        .is_some_and(|s| *s != table.id && *s != table.view_id)
    {
        return None;
    }
    if spec
        .from_sources
        .as_ref()
        .is_some_and(|s| !s.iter().any(|x| x == txn.actor.source))
    {
        return None;
    }
    let mut changed = Map::new();
    if spec.has_data_type("tableData") {
        record_changes(spec, table, txn.changes, &mut changed);
    }
    if spec.has_data_type("tableFields") {
        field_changes(spec, txn.changes, &mut changed);
    }
    if changed.is_empty() {
        return None;
    }
    Some(json!({
        "timestamp": airtable_time(txn.timestamp),
        "payloadFormat": "v0",
        "actionMetadata": txn.actor.metadata(),
        "changedTablesById": {table.id.clone(): changed},
    }))
}

fn wants(spec: &Spec, change_type: &str) -> bool {
    spec.change_types
        .as_ref()
        .is_none_or(|c| c.iter().any(|x| x == change_type))
}

/// `TableChanged`'s record parts: createdRecordsById, changedRecordsById,
/// destroyedRecordIds.
fn record_changes(spec: &Spec, table: &Table, changes: &[Change], out: &mut Map<String, Value>) {
    let (mut created, mut changed, mut destroyed) = (Map::new(), Map::new(), Vec::new());
    for change in changes {
        match change {
            Change::Created {
                record_id,
                created: at,
                cells,
            } if wants(spec, "add") => {
                let values = v2_cells(table, cells.iter().map(|(k, v)| (k, Some(v))));
                created.insert(
                    record_id.clone(),
                    json!({"createdTime": airtable_time(*at), "cellValuesByFieldId": values}),
                );
            }
            Change::Updated {
                record_id,
                diffs,
                after,
            } if wants(spec, "update") && watched(spec, diffs) => {
                changed.insert(record_id.clone(), changed_record(spec, table, diffs, after));
            }
            Change::Destroyed { record_id } if wants(spec, "remove") => {
                destroyed.push(Value::String(record_id.clone()));
            }
            _ => {}
        }
    }
    insert_non_empty(out, "createdRecordsById", Value::Object(created));
    insert_non_empty(out, "changedRecordsById", Value::Object(changed));
    insert_non_empty(out, "destroyedRecordIds", Value::Array(destroyed));
}

/// `TableChanged`'s field parts (model/webhooks-table-changed): createdFieldsById
/// `{fld: {name, type}}`, changedFieldsById `{fld: {current, previous?}}` where each side
/// holds only the properties that changed and `previous` needs
/// `includePreviousFieldDefinitions`, and destroyedFieldIds.
fn field_changes(spec: &Spec, changes: &[Change], out: &mut Map<String, Value>) {
    let (mut created, mut changed, mut destroyed) = (Map::new(), Map::new(), Vec::new());
    for change in changes {
        match change {
            Change::FieldCreated {
                field_id,
                name,
                field_type,
            } if wants(spec, "add") && schema_watched(spec, field_id) => {
                created.insert(
                    field_id.clone(),
                    json!({"name": name, "type": field_type.api_name()}),
                );
            }
            Change::FieldChanged {
                field_id,
                previous,
                current,
            } if wants(spec, "update") && schema_watched(spec, field_id) => {
                let mut entry = json!({"current": props_json(current)});
                if spec.include_previous_fields {
                    entry["previous"] = props_json(previous);
                }
                changed.insert(field_id.clone(), entry);
            }
            Change::FieldDestroyed { field_id }
                if wants(spec, "remove") && schema_watched(spec, field_id) =>
            {
                destroyed.push(Value::String(field_id.clone()));
            }
            _ => {}
        }
    }
    insert_non_empty(out, "createdFieldsById", Value::Object(created));
    insert_non_empty(out, "changedFieldsById", Value::Object(changed));
    insert_non_empty(out, "destroyedFieldIds", Value::Array(destroyed));
}

/// With `watchSchemasOfFieldIds`, only those fields' schema changes count.
fn schema_watched(spec: &Spec, field_id: &str) -> bool {
    spec.watch_schema_fields
        .as_ref()
        .is_none_or(|w| w.iter().any(|f| f == field_id))
}

fn props_json(props: &FieldProps) -> Value {
    let mut out = Map::new();
    if let Some(name) = &props.name {
        out.insert("name".into(), json!(name));
    }
    if let Some(t) = props.field_type {
        out.insert("type".into(), json!(t.api_name()));
    }
    Value::Object(out)
}

fn insert_non_empty(out: &mut Map<String, Value>, key: &str, value: Value) {
    let empty = match &value {
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    };
    if !empty {
        out.insert(key.to_string(), value);
    }
}

type Diffs = BTreeMap<String, (Option<Value>, Option<Value>)>;

/// With `watchDataInFieldIds`, an update only counts if it changed a watched field.
fn watched(spec: &Spec, diffs: &Diffs) -> bool {
    spec.watch_fields
        .as_ref()
        .is_none_or(|w| diffs.keys().any(|k| w.contains(k)))
}

fn changed_record(
    spec: &Spec,
    table: &Table,
    diffs: &Diffs,
    after: &BTreeMap<String, Value>,
) -> Value {
    let current = v2_cells(table, diffs.iter().map(|(k, (_, cur))| (k, cur.as_ref())));
    let mut out = json!({"current": {"cellValuesByFieldId": current}});
    if spec.include_previous {
        let previous = v2_cells(table, diffs.iter().map(|(k, (prev, _))| (k, prev.as_ref())));
        out["previous"] = json!({"cellValuesByFieldId": previous});
    }
    let unchanged = v2_cells(
        table,
        table
            .fields
            .iter()
            .map(|f| &f.id)
            .filter(|id| spec.include_cells.contains(id) && !diffs.contains_key(*id))
            .map(|id| (id, after.get(id))),
    );
    if !unchanged.is_empty() {
        out["unchanged"] = json!({"cellValuesByFieldId": unchanged});
    }
    out
}

fn v2_cells<'a>(
    table: &Table,
    cells: impl Iterator<Item = (&'a String, Option<&'a Value>)>,
) -> Map<String, Value> {
    cells
        .filter_map(|(id, v)| {
            table
                .field_by_id(id)
                .map(|f| (id.clone(), cells::to_v2(f, v)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::airtable::schema::{FieldSchema, FieldType};
    use crate::airtable::webhooks::IncludeCells;
    use crate::airtable::writes::{self, RecordInput, UpdateMode};

    fn actor(source: &'static str) -> Actor {
        Actor {
            id: "usrX".into(),
            email: "x@example.com".into(),
            name: "X".into(),
            source,
        }
    }

    fn setup() -> (Table, Vec<Change>, Vec<Change>) {
        let mut t = Table::new(
            "T",
            &[
                FieldSchema::new("Name", FieldType::SingleLineText),
                FieldSchema::single_select("Status", &["Draft", "Shipped"]),
            ],
        );
        let at = time::macros::datetime!(2026-01-01 00:00 UTC);
        let input = json!({"Name": "a", "Status": "Draft"})
            .as_object()
            .unwrap()
            .clone();
        let created = writes::create(&mut t, &[input], false, at).unwrap();
        let id = created.record_ids[0].clone();
        let fields = json!({"Status": "Shipped"}).as_object().unwrap().clone();
        let upd = RecordInput {
            id: Some(id),
            fields,
        };
        let updated = writes::update(&mut t, &[upd], &UpdateMode::default(), at).unwrap();
        (t, created.changes, updated.changes)
    }

    fn spec() -> Spec {
        Spec {
            data_types: vec!["tableData".into()],
            ..Spec::default()
        }
    }

    #[test]
    fn updates_carry_v2_values_and_honour_includes() {
        let (t, _, updated) = setup();
        let a = actor("publicApi");
        let txn = Transaction {
            timestamp: t.records[0].created,
            table: &t,
            actor: &a,
            changes: &updated,
        };
        let status = t.field("Status").unwrap().id.clone();
        let name = t.field("Name").unwrap().id.clone();
        let plain = build(&spec(), &txn).unwrap();
        let rec = &plain["changedTablesById"][&t.id]["changedRecordsById"][&t.records[0].id];
        assert_eq!(
            rec["current"]["cellValuesByFieldId"][&status]["name"],
            "Shipped"
        );
        assert!(rec.get("previous").is_none() && rec.get("unchanged").is_none());
        let rich = Spec {
            include_previous: true,
            include_cells: IncludeCells::All,
            ..spec()
        };
        let full = build(&rich, &txn).unwrap();
        let rec = &full["changedTablesById"][&t.id]["changedRecordsById"][&t.records[0].id];
        assert_eq!(
            rec["previous"]["cellValuesByFieldId"][&status]["name"],
            "Draft"
        );
        assert_eq!(rec["unchanged"]["cellValuesByFieldId"][&name], "a");
        assert_eq!(full["actionMetadata"]["source"], "publicApi");
        assert_eq!(
            full["actionMetadata"]["sourceMetadata"]["user"]["id"],
            "usrX"
        );
    }

    #[test]
    fn filters_drop_payloads() {
        let (t, created, updated) = setup();
        let a = actor("publicApi");
        let txn = Transaction {
            timestamp: t.records[0].created,
            table: &t,
            actor: &a,
            changes: &created,
        };
        let clients_only = Spec {
            from_sources: Some(vec!["client".into()]),
            ..spec()
        };
        assert!(build(&clients_only, &txn).is_none());
        let updates_only = Spec {
            change_types: Some(vec!["update".into()]),
            ..spec()
        };
        assert!(build(&updates_only, &txn).is_none());
        let other_table = Spec {
            scope: Some("tblOther".into()),
            ..spec()
        };
        assert!(build(&other_table, &txn).is_none());
        let name = t.field("Name").unwrap().id.clone();
        let watch_name = Spec {
            watch_fields: Some(vec![name.clone()]),
            ..spec()
        };
        let txn = Transaction {
            changes: &updated,
            ..txn
        };
        assert!(build(&watch_name, &txn).is_none());
        let created_payload = build(
            &spec(),
            &Transaction {
                changes: &created,
                ..txn
            },
        )
        .unwrap();
        let rec =
            &created_payload["changedTablesById"][&t.id]["createdRecordsById"][&t.records[0].id];
        assert_eq!(rec["cellValuesByFieldId"][&name], "a");
    }
}
