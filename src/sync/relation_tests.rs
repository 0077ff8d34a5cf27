use serde_json::json;

use super::*;

const P1: &str = "11111111-1111-1111-1111-111111111111";
const P2: &str = "22222222-2222-2222-2222-222222222222";

fn targets() -> Targets {
    let mut t = Targets::default();
    t.insert(P1, "recOne");
    // Stored compact and upper-case: translated to the dashed form anyway.
    t.insert("22222222222222222222222222222222", "recTwo");
    t
}

#[test]
fn notion_references_read_as_an_order_insensitive_set_of_page_ids() {
    let a =
        json!({ "type": "relation", "relation": [{ "id": P2 }, { "id": P1 }], "has_more": false });
    let b = json!({ "type": "relation", "relation": [{ "id": P1 }, { "id": P2 }, { "id": P1 }] });
    assert_eq!(read_notion(&a), read_notion(&b));
    assert_eq!(read_notion(&json!({ "relation": [] })), Value::Empty);
    // Compact ids (no dashes) are the same page.
    let compact = json!({ "relation": [{ "id": P1.replace('-', "") }] });
    assert_eq!(read_notion(&compact), Value::set([P1]));
}

#[test]
fn airtable_links_translate_to_the_pages_they_are_linked_to() {
    let t = targets();
    let cell = json!(["recTwo", "recOne"]);
    assert_eq!(read_airtable(Some(&cell), Some(&t)), Value::set([P1, P2]));
    // Webhook (V2) cells are {id, name} objects.
    let v2 = json!([{ "id": "recOne", "name": "Alpha" }]);
    assert_eq!(read_airtable(Some(&v2), Some(&t)), Value::set([P1]));
    assert_eq!(read_airtable(None, Some(&t)), Value::Empty);
    assert_eq!(read_airtable(Some(&json!([])), Some(&t)), Value::Empty);
}

#[test]
fn a_record_not_linked_yet_stays_a_record_id_so_the_sides_differ() {
    let cell = json!(["recOne", "recNew"]);
    let v = read_airtable(Some(&cell), Some(&targets()));
    assert_eq!(v, Value::set([P1, "recNew"]));
    assert_ne!(v, Value::set([P1]));
}

#[test]
fn writes_to_airtable_translate_every_page_or_refuse_the_whole_list() {
    let t = targets();
    let cell = to_airtable(&Value::set([P1, P2]), Some(&t)).unwrap();
    let mut ids: Vec<String> = serde_json::from_value(cell).unwrap();
    ids.sort();
    assert_eq!(ids, ["recOne", "recTwo"]);
    assert_eq!(to_airtable(&Value::Empty, Some(&t)).unwrap(), json!([]));
    let unlinked = "33333333-3333-3333-3333-333333333333";
    let e = to_airtable(&Value::set([P1, unlinked]), Some(&t)).unwrap_err();
    assert_eq!(waiting_for(&e), Some(&[unlinked.to_owned()][..]));
    assert!(e.to_string().contains(unlinked), "{e}");
    // No links at all: nothing is translated, nothing partial is written.
    assert!(to_airtable(&Value::set([P1]), None).is_err());
}

#[test]
fn writes_to_notion_translate_records_or_refuse_the_whole_list() {
    let t = targets();
    let body = to_notion(&Value::set([P1, "recTwo"]), Some(&t)).unwrap();
    let ids = notion_ids(&body);
    assert_eq!(Value::set(ids), Value::set([P1, P2]));
    assert_eq!(
        to_notion(&Value::Empty, Some(&t)).unwrap(),
        json!({ "relation": [] })
    );
    let e = to_notion(&Value::set(["recNew"]), Some(&t)).unwrap_err();
    assert_eq!(waiting_for(&e), Some(&["recNew".to_owned()][..]));
}

#[test]
fn more_than_a_hundred_relations_are_refused_for_notion_never_cut() {
    let pages: Vec<String> = (0..101)
        .map(|i| format!("00000000-0000-0000-0000-{i:012}"))
        .collect();
    let e = to_notion(&Value::set(pages.clone()), None).unwrap_err();
    assert!(e.to_string().contains("at most 100"), "{e}");
    assert_eq!(waiting_for(&e), None);
    let hundred = to_notion(&Value::set(pages[..100].to_vec()), None).unwrap();
    assert_eq!(hundred["relation"].as_array().unwrap().len(), 100);
}

#[test]
fn the_kind_is_relation_to_linked_records_only() {
    use crate::sync::convert::Kind;
    assert_eq!(
        Kind::for_types("relation", "multipleRecordLinks"),
        Ok(Kind::Relation)
    );
    assert!(Kind::for_types("relation", "singleLineText").is_err());
    assert!(Kind::for_types("rich_text", "multipleRecordLinks").is_err());
}

#[test]
fn page_ids_normalise_to_the_dashed_lowercase_form() {
    assert_eq!(normal_page_id(&P1.replace('-', "").to_uppercase()), P1);
    assert_eq!(normal_page_id("recOne"), "recOne");
}

#[test]
fn a_target_gone_on_one_side_is_not_taken_for_a_removal() {
    let mut t = targets();
    t.mark_gone(P2, true);
    let snapshot = Value::set([P1, P2]);
    // Airtable dropped the deleted row from the cell by itself.
    let (n, a) = keep_gone(
        Value::set([P1, P2]),
        Value::set([P1]),
        Some(&snapshot),
        Some(&t),
    );
    assert_eq!((n, a.clone()), (snapshot.clone(), snapshot.clone()));
    // Writing to Airtable leaves out what it cannot hold; Notion keeps it.
    assert_eq!(to_airtable(&a, Some(&t)).unwrap(), json!(["recOne"]));
    // A page trashed in Notion: its absence there is no removal either.
    let mut t = targets();
    t.mark_gone(P1, false);
    let (n, _) = keep_gone(
        Value::set([P2]),
        Value::set([P1, P2]),
        Some(&snapshot),
        Some(&t),
    );
    assert_eq!(n, snapshot);
    // Nothing held before, nothing kept: a new value is taken as it is.
    let (n, a) = keep_gone(Value::Empty, Value::Empty, None, Some(&t));
    assert_eq!((n, a), (Value::Empty, Value::Empty));
}
