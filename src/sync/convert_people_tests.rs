use serde_json::json;

use super::super::{
    Kind, Person, Value, from_airtable, from_notion, to_airtable, to_notion_with,
    types::check_airtable_value,
};
use super::*;

fn notion_person(id: &str, name: &str, email: Option<&str>) -> Json {
    let person = email.map_or_else(|| json!({}), |e| json!({ "email": e }));
    json!({"object": "user", "id": id, "name": name, "type": "person", "person": person})
}

fn property(people: Vec<Json>) -> Json {
    json!({"id": "p", "type": "people", "people": people})
}

fn users() -> Vec<Person> {
    let user = |id: &str, name: &str, email: &str| Person {
        id: id.into(),
        name: Some(name.into()),
        email: Some(email.into()),
    };
    vec![
        user("u-maya", "Maya Chen", "maya@example.com"),
        user("u-jonas", "Jonas Berg", "Jonas@Example.com"),
    ]
}

const MULTI: Kind = Kind::Collaborators(true);
const SINGLE: Kind = Kind::Collaborators(false);

#[test]
fn the_type_pairs_and_their_refusals() {
    assert_eq!(Kind::for_types("people", "singleCollaborator"), Ok(SINGLE));
    assert_eq!(
        Kind::for_types("people", "multipleCollaborators"),
        Ok(MULTI)
    );
    assert_eq!(
        Kind::for_types("people", "singleLineText"),
        Ok(Kind::People)
    );
    let refused = Kind::for_types("rich_text", "multipleCollaborators").unwrap_err();
    assert!(
        refused.contains("syncs with a Notion people property"),
        "{refused}"
    );
    let refused = Kind::for_types("people", "number").unwrap_err();
    assert!(refused.contains("matched by email"), "{refused}");
}

#[test]
fn both_sides_read_as_the_same_order_insensitive_set_of_emails() {
    let notion = property(vec![
        notion_person("u-jonas", "Jonas Berg", Some("Jonas@Example.com")),
        notion_person("u-maya", "Maya Chen", Some("maya@example.com")),
    ]);
    let airtable = json!([
        {"id": "usr1", "email": "maya@example.com", "name": "Maya Chen"},
        {"id": "usr2", "email": "jonas@example.com", "name": "Jonas Berg"},
    ]);
    let n = from_notion(&notion, MULTI).unwrap();
    assert_eq!(n, from_airtable(Some(&airtable), MULTI).unwrap());
    assert_eq!(
        n,
        Value::Set(vec!["jonas@example.com".into(), "maya@example.com".into()])
    );
    let single = json!({"id": "usr1", "email": "Maya@example.com", "name": "Maya"});
    assert_eq!(
        from_airtable(Some(&single), SINGLE).unwrap(),
        Value::Set(vec!["maya@example.com".into()])
    );
}

#[test]
fn empty_values_are_empty_on_both_sides() {
    assert_eq!(from_notion(&property(vec![]), MULTI).unwrap(), Value::Empty);
    assert_eq!(from_airtable(None, MULTI).unwrap(), Value::Empty);
    assert_eq!(
        from_airtable(Some(&json!([])), MULTI).unwrap(),
        Value::Empty
    );
    assert_eq!(to_airtable(&Value::Empty, MULTI), Json::Null);
    assert_eq!(to_airtable(&Value::Empty, SINGLE), Json::Null);
    let body = to_notion_with(&Value::Empty, MULTI, "people", None, &users()).unwrap();
    assert_eq!(body.body, json!({"people": []}));
}

#[test]
fn a_person_without_a_visible_email_makes_the_value_unreadable() {
    let notion = property(vec![
        notion_person("u-maya", "Maya Chen", Some("maya@example.com")),
        notion_person("u-x", "Sam Hidden", None),
    ]);
    let err = from_notion(&notion, MULTI).unwrap_err().to_string();
    assert!(err.contains("Sam Hidden"), "{err}");
    assert!(err.contains("email addresses\" capability"), "{err}");
    // A bot (no `person`) cannot be matched either.
    let bot = property(vec![
        json!({"object": "user", "id": "b1", "type": "bot", "bot": {}}),
    ]);
    assert!(from_notion(&bot, MULTI).is_err());
    // Nor can an Airtable collaborator without an email.
    let group = json!([{"id": "ugp1", "name": "Design"}]);
    let err = from_airtable(Some(&group), MULTI).unwrap_err().to_string();
    assert!(err.contains("Design"), "{err}");
}

#[test]
fn a_list_notion_may_have_cut_is_read_only_once_completed() {
    let person =
        |i: usize| notion_person(&format!("u{i}"), "P", Some(&format!("p{i}@example.com")));
    let many: Vec<Json> = (0..NOTION_READ_CAP).map(person).collect();
    // As a page read shows it: 25 people may be the first 25 of more.
    let err = from_notion(&property(many), MULTI).unwrap_err().to_string();
    assert!(err.contains("not read whole"), "{err}");
    // Read whole through the property-item endpoint (the engine marks it).
    let whole: Vec<Json> = (0..40).map(person).collect();
    let mut read = property(whole);
    read["has_more"] = json!(false);
    let Value::Set(emails) = from_notion(&read, MULTI).unwrap() else {
        panic!("a set")
    };
    assert_eq!(emails.len(), 40);
    let fewer: Vec<Json> = (0..NOTION_READ_CAP - 1).map(person).collect();
    assert!(from_notion(&property(fewer), MULTI).is_ok());
}

#[test]
fn notion_takes_at_most_100_people_per_write() {
    let users: Vec<Person> = (0..=NOTION_WRITE_LIMIT)
        .map(|i| Person {
            id: format!("u{i}"),
            name: None,
            email: Some(format!("p{i}@example.com")),
        })
        .collect();
    let emails = |n: usize| Value::set((0..n).map(|i| format!("p{i}@example.com")));
    let body = to_notion_with(&emails(NOTION_WRITE_LIMIT), MULTI, "people", None, &users).unwrap();
    assert_eq!(body.body["people"].as_array().unwrap().len(), 100);
    let err = to_notion_with(
        &emails(NOTION_WRITE_LIMIT + 1),
        MULTI,
        "people",
        None,
        &users,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("at most 100 people"), "{err}");
}

#[test]
fn writing_to_notion_matches_users_by_email_without_case() {
    let value = Value::set(["jonas@example.com", "maya@example.com"]);
    let body = to_notion_with(&value, MULTI, "people", None, &users()).unwrap();
    assert_eq!(
        body.body,
        json!({"people": [
            {"object": "user", "id": "u-jonas"},
            {"object": "user", "id": "u-maya"},
        ]})
    );
}

#[test]
fn an_unknown_email_writes_nothing_to_notion() {
    let value = Value::set(["maya@example.com", "ghost@example.com"]);
    let err = to_notion_with(&value, MULTI, "people", None, &users())
        .unwrap_err()
        .to_string();
    assert!(err.contains("no Notion workspace member has the email ghost@example.com"));
    let hidden: Vec<Person> = users()
        .into_iter()
        .map(|u| Person { email: None, ..u })
        .collect();
    let err = to_notion_with(&value, MULTI, "people", None, &hidden)
        .unwrap_err()
        .to_string();
    assert!(err.contains("sees no user's email"), "{err}");
    let twice = [users(), users()].concat();
    let err = to_notion_with(
        &Value::set(["maya@example.com"]),
        MULTI,
        "people",
        None,
        &twice,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("several Notion users"), "{err}");
}

#[test]
fn airtable_cells_are_written_by_email() {
    let value = Value::set(["maya@example.com", "jonas@example.com"]);
    assert_eq!(
        to_airtable(&value, MULTI),
        json!([{"email": "jonas@example.com"}, {"email": "maya@example.com"}])
    );
    let one = Value::set(["maya@example.com"]);
    assert_eq!(
        to_airtable(&one, SINGLE),
        json!({"email": "maya@example.com"})
    );
    assert!(check_airtable_value(SINGLE, None, &one).is_ok());
    let err = check_airtable_value(SINGLE, None, &value)
        .unwrap_err()
        .to_string();
    assert!(err.contains("single-collaborator"), "{err}");
    assert!(check_airtable_value(MULTI, None, &value).is_ok());
}

#[test]
fn the_people_text_mapping_is_unchanged() {
    let notion = property(vec![notion_person("u-maya", "Maya Chen", None)]);
    assert_eq!(
        from_notion(&notion, Kind::People).unwrap(),
        Value::text("Maya Chen")
    );
}
