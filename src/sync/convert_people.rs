//! Notion `people` ↔ Airtable collaborators (`singleCollaborator`,
//! `multipleCollaborators`), matched by email.
//!
//! The canonical value is the set of the people's email addresses,
//! lower-cased (emails are compared without case, and the set makes the
//! comparison order-insensitive). A person who cannot be matched is never
//! dropped: reading a Notion person whose email the token cannot see, or a
//! list Notion may have cut, fails the read (the field is left alone on both
//! sides and reported); writing an email no Notion user has, more than one
//! person to a single collaborator, or more people than Notion takes in one
//! request, fails the write (same). A list of 25 people or more is read
//! whole through the property-item endpoint by the engine
//! (`engine::people`), which marks it `has_more: false`. Whether an
//! email is a collaborator of the Airtable base only Airtable knows (the
//! base's collaborator list is an Enterprise API): it answers 422 to a write
//! naming someone else, and that refusal is reported for the field.

use serde_json::{Value as Json, json};

use super::{ConvertError, Person, Value};

/// Notion page reads return at most 25 people per property ("the 26th
/// reference and beyond might be returned as Untitled, Anonymous, or not be
/// returned at all"): a list of this length may be cut.
pub const NOTION_READ_CAP: usize = 25;

/// "people: 100 users" per property in one request (Notion request limits).
pub const NOTION_WRITE_LIMIT: usize = 100;

/// Why a Notion person without an email cannot be matched.
pub const NO_EMAIL: &str = "the Notion integration does not see this user's email (it needs the \
\"Read user information including email addresses\" capability; bots and guests have none), so \
no Airtable collaborator can be matched";

/// A Notion `people` property (`{people: [...]}`, with `has_more: false`
/// once read whole) → the set of emails.
pub fn read_notion(property: &Json) -> Result<Value, ConvertError> {
    let people = property["people"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    if people.len() >= NOTION_READ_CAP && property["has_more"] != Json::Bool(false) {
        return Err(capped(people.len()));
    }
    let emails = people
        .iter()
        .map(|p| match p["person"]["email"].as_str() {
            Some(email) if !email.is_empty() => Ok(normal(email)),
            _ => Err(ConvertError::BadValue(format!(
                "{}: {NO_EMAIL}",
                who(p["name"].as_str(), p["id"].as_str())
            ))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Value::set(emails))
}

/// An Airtable collaborator cell (`{id, email, name}`, or an array of them)
/// → the set of emails. A collaborator without an email (a user group in
/// the V2 format, say) cannot be matched and fails the read.
pub fn read_airtable(cell: &Json) -> Result<Value, ConvertError> {
    let items = match cell {
        Json::Array(items) => items.as_slice(),
        one => std::slice::from_ref(one),
    };
    let emails = items
        .iter()
        .map(|c| match c["email"].as_str() {
            Some(email) if !email.is_empty() => Ok(normal(email)),
            _ => Err(ConvertError::BadValue(format!(
                "{} has no email on the Airtable side, so no Notion user can be matched",
                who(c["name"].as_str(), c["id"].as_str())
            ))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Value::set(emails))
}

/// The Notion write body: every email must be exactly one workspace user's;
/// otherwise nothing is written (never a partial list).
pub fn to_notion(value: &Value, users: &[Person]) -> Result<Json, ConvertError> {
    let emails = emails_of(value);
    if emails.len() > NOTION_WRITE_LIMIT {
        return Err(ConvertError::BadValue(format!(
            "{} people cannot be written to Notion: it takes at most {NOTION_WRITE_LIMIT} \
             people per property in one request, and a partial list is never written",
            emails.len()
        )));
    }
    let ids = emails
        .iter()
        .map(|email| {
            let matches: Vec<&Person> = users
                .iter()
                .filter(|u| u.email.as_deref().is_some_and(|e| normal(e) == *email))
                .collect();
            match matches.as_slice() {
                [one] => Ok(json!({ "object": "user", "id": one.id })),
                [] if users.iter().all(|u| u.email.is_none()) => Err(ConvertError::BadValue(
                    format!(
                        "{email} cannot be matched: the Notion integration sees no user's email \
                         (it needs the \"Read user information including email addresses\" capability)"
                    ),
                )),
                [] => Err(ConvertError::BadValue(format!(
                    "no Notion workspace member has the email {email}"
                ))),
                _ => Err(ConvertError::BadValue(format!(
                    "several Notion users have the email {email}"
                ))),
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(json!({ "people": ids }))
}

/// Whether `value` fits the Airtable field: a single collaborator holds one
/// person at most.
pub fn check_airtable(value: &Value, multiple: bool) -> Result<(), ConvertError> {
    let emails = emails_of(value);
    if !multiple && emails.len() > 1 {
        return Err(ConvertError::BadValue(format!(
            "{} people cannot go into a single-collaborator field ({})",
            emails.len(),
            emails.join(", ")
        )));
    }
    Ok(())
}

/// The Airtable cell: collaborators written by email (`{email}`, which
/// Airtable accepts besides `{id}`); `null` clears the cell.
pub fn to_airtable(value: &Value, multiple: bool) -> Json {
    let cells: Vec<Json> = emails_of(value)
        .into_iter()
        .map(|email| json!({ "email": email }))
        .collect();
    match (multiple, cells.as_slice()) {
        (_, []) => Json::Null,
        (false, [one, ..]) => one.clone(),
        (true, _) => Json::Array(cells),
    }
}

fn emails_of(value: &Value) -> Vec<String> {
    match value {
        Value::Empty => Vec::new(),
        Value::Set(emails) => emails.clone(),
        other => vec![normal(&other.display())],
    }
}

fn normal(email: &str) -> String {
    email.trim().to_lowercase()
}

fn who(name: Option<&str>, id: Option<&str>) -> String {
    match (name, id) {
        (Some(name), _) => format!("`{name}`"),
        (None, Some(id)) => format!("the user {id}"),
        (None, None) => "a user".to_owned(),
    }
}

fn capped(n: usize) -> ConvertError {
    ConvertError::BadValue(format!(
        "{n} people: Notion's page reads return at most {NOTION_READ_CAP} people per property \
         and this list was not read whole through the property-item endpoint, so it may be cut \
         and is not synced"
    ))
}

#[cfg(test)]
#[path = "convert_people_tests.rs"]
mod tests;
