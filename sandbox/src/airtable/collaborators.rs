//! Collaborator fields (`singleCollaborator`, `multipleCollaborators`) and the base's
//! collaborators: the people who can be assigned.
//!
//! Field model: a collaborator cell reads `{id, email, name}` (an array of them for
//! multiple collaborators, in REST and webhook payloads alike) and is written as `{id}` or
//! `{email}`; a multiple-collaborator write replaces the whole array. Only a collaborator
//! of the base can be assigned. Airtable documents no error for someone else [U]: the
//! sandbox answers the cell's 422 `INVALID_VALUE_FOR_COLUMN`, as for any value the field
//! cannot hold. A single-collaborator field given an array is refused the same way.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::errors::{AtError, AtResult};
use super::ids::new_id;
use super::schema::{Field, FieldType};

/// A base collaborator (a person with access to the base).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Collaborator {
    pub id: String,
    pub email: String,
    pub name: String,
}

impl Collaborator {
    /// A new collaborator with a fresh `usr…` id.
    pub fn new(email: &str, name: &str) -> Self {
        Self {
            id: new_id("usr"),
            email: email.to_string(),
            name: name.to_string(),
        }
    }

    /// The cell rendering (V1 and V2): `{id, email, name}`.
    pub fn to_json(&self) -> Value {
        json!({"id": self.id, "email": self.email, "name": self.name})
    }
}

/// Validate a written collaborator cell against the base's collaborators. With
/// `typecast`, a string naming a collaborator's email or name is accepted too.
pub(crate) fn validate(
    field: &Field,
    value: &Value,
    typecast: bool,
    known: &[Collaborator],
) -> AtResult<Option<Value>> {
    let multiple = field.field_type == FieldType::MultipleCollaborators;
    let items: Vec<&Value> = match (multiple, value) {
        (true, Value::Array(items)) => items.iter().collect(),
        (false, Value::Array(_)) => return Err(AtError::invalid_value(&field.name)),
        (true, Value::String(s)) if typecast => {
            return strings(field, s.split(','), known);
        }
        (_, one) => vec![one],
    };
    let mut out: Vec<Value> = Vec::new();
    for item in items {
        let c = find(field, item, typecast, known)?.to_json();
        if !out.contains(&c) {
            out.push(c);
        }
    }
    Ok(match (multiple, out.len()) {
        (_, 0) => None,
        (true, _) => Some(Value::Array(out)),
        (false, _) => out.into_iter().next(),
    })
}

fn strings<'a>(
    field: &Field,
    names: impl Iterator<Item = &'a str>,
    known: &[Collaborator],
) -> AtResult<Option<Value>> {
    let values: Vec<Value> = names
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| Value::String(n.to_string()))
        .collect();
    validate(field, &Value::Array(values), true, known)
}

/// The collaborator an item names: `{id}` or `{email}` (emails compare without case).
fn find<'a>(
    field: &Field,
    item: &Value,
    typecast: bool,
    known: &'a [Collaborator],
) -> AtResult<&'a Collaborator> {
    let found = match item {
        Value::Object(o) => match (o.get("id"), o.get("email")) {
            (Some(Value::String(id)), _) => known.iter().find(|c| c.id == *id),
            (None, Some(Value::String(email))) => known
                .iter()
                .find(|c| c.email.eq_ignore_ascii_case(email.trim())),
            _ => None,
        },
        Value::String(s) if typecast => known
            .iter()
            .find(|c| c.email.eq_ignore_ascii_case(s.trim()) || c.name == s.trim()),
        _ => None,
    };
    found.ok_or_else(|| AtError::invalid_value(&field.name))
}

/// `cellFormat=string`: the collaborators' names, comma-separated.
pub(crate) fn display(stored: &Value) -> Option<String> {
    let name = |c: &Value| c["name"].as_str().map(str::to_string);
    match stored {
        Value::Object(_) => name(stored),
        Value::Array(items) if items.iter().all(Value::is_object) => {
            Some(items.iter().filter_map(name).collect::<Vec<_>>().join(", "))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::airtable::schema::FieldSchema;

    fn known() -> Vec<Collaborator> {
        vec![
            Collaborator::new("maya@example.com", "Maya Chen"),
            Collaborator::new("jonas@example.com", "Jonas Berg"),
        ]
    }

    fn field(t: FieldType) -> Field {
        Field::from_schema(&FieldSchema::new("Assignee", t))
    }

    #[test]
    fn collaborators_are_written_by_id_or_email_and_read_whole() {
        let known = known();
        let multi = field(FieldType::MultipleCollaborators);
        let written = json!([{"email": "MAYA@example.com"}, {"id": known[1].id}]);
        let stored = validate(&multi, &written, false, &known).unwrap().unwrap();
        assert_eq!(stored, json!([known[0].to_json(), known[1].to_json()]));
        assert_eq!(display(&stored).unwrap(), "Maya Chen, Jonas Berg");
        let single = field(FieldType::SingleCollaborator);
        let one = validate(
            &single,
            &json!({"email": "jonas@example.com"}),
            false,
            &known,
        );
        assert_eq!(one.unwrap(), Some(known[1].to_json()));
        assert_eq!(validate(&multi, &json!([]), false, &known).unwrap(), None);
    }

    #[test]
    fn webhook_payloads_carry_the_same_collaborator_objects() {
        let known = known();
        let multi = field(FieldType::MultipleCollaborators);
        let stored = validate(
            &multi,
            &json!([{"email": "maya@example.com"}]),
            false,
            &known,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            crate::airtable::cells::to_v2(&multi, Some(&stored)),
            json!([known[0].to_json()])
        );
    }

    #[test]
    fn someone_who_is_not_a_collaborator_is_refused() {
        let known = known();
        let multi = field(FieldType::MultipleCollaborators);
        let err = validate(
            &multi,
            &json!([{"email": "ghost@example.com"}]),
            false,
            &known,
        )
        .unwrap_err();
        assert_eq!(err.kind(), Some("INVALID_VALUE_FOR_COLUMN"));
        let single = field(FieldType::SingleCollaborator);
        let two = json!([{"email": "maya@example.com"}]);
        assert!(validate(&single, &two, false, &known).is_err());
        assert!(validate(&multi, &json!("Maya Chen"), false, &known).is_err());
        let cast = validate(&multi, &json!("Maya Chen, jonas@example.com"), true, &known);
        assert_eq!(cast.unwrap().unwrap().as_array().unwrap().len(), 2);
    }
}
