//! Every conversion in both directions, with the edge cases that make syncs
//! flip-flop: empty vs null, whitespace, long text, unicode, dates across
//! time zones, option names with commas.

use serde_json::json;

use super::*;

fn notion_prop(ty: &str, inner: Json) -> Json {
    json!({ "id": "abc", "type": ty, ty: inner })
}

fn rt(text: &str) -> Json {
    json!([{ "type": "text", "text": { "content": text }, "plain_text": text, "annotations": {}, "href": null }])
}

/// Write to Notion, read the written body back as a property: must give the same value.
fn notion_round_trip(value: &Value, ty: &str, kind: Kind, users: &[Person]) -> Value {
    let body = to_notion(value, ty, users).unwrap();
    let mut prop = body.clone();
    prop["type"] = json!(ty);
    if ty == "people" {
        // The API answers people with full user objects; emulate that.
        let ids: Vec<_> = body["people"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].clone())
            .collect();
        let full: Vec<_> = ids
            .iter()
            .map(|id| {
                let u = users.iter().find(|u| json!(u.id) == *id).unwrap();
                json!({ "object": "user", "id": u.id, "name": u.name })
            })
            .collect();
        prop["people"] = json!(full);
    }
    from_notion(&prop, kind).unwrap()
}

fn airtable_round_trip(value: &Value, kind: Kind) -> Value {
    let cell = to_airtable(value, kind);
    // Airtable omits empty cells (null, "", [], false) from the record.
    let omitted = cell.is_null() || cell == json!("") || cell == json!([]) || cell == json!(false);
    from_airtable(if omitted { None } else { Some(&cell) }, kind).unwrap()
}

fn users() -> Vec<Person> {
    vec![
        Person {
            id: "u1".into(),
            name: Some("Maya Chen".into()),
            email: Some("maya@example.com".into()),
        },
        Person {
            id: "u2".into(),
            name: Some("Jonas Berg".into()),
            email: Some("jonas@example.com".into()),
        },
        Person {
            id: "u3".into(),
            name: Some("Sam Rivera".into()),
            email: None,
        },
        Person {
            id: "u4".into(),
            name: Some("Sam Rivera".into()),
            email: Some("sam2@example.com".into()),
        },
    ]
}

#[test]
fn kinds_for_supported_and_refused_pairs() {
    assert_eq!(Kind::for_types("title", "singleLineText"), Ok(Kind::Text));
    assert_eq!(
        Kind::for_types("rich_text", "multilineText"),
        Ok(Kind::Text)
    );
    assert_eq!(Kind::for_types("status", "singleSelect"), Ok(Kind::Select));
    assert_eq!(
        Kind::for_types("multi_select", "multipleSelects"),
        Ok(Kind::MultiSelect)
    );
    assert_eq!(
        Kind::for_types("people", "singleLineText"),
        Ok(Kind::People)
    );
    assert_eq!(Kind::for_types("date", "date"), Ok(Kind::Date));
    assert_eq!(Kind::for_types("date", "dateTime"), Ok(Kind::DateTime));
    assert_eq!(Kind::for_types("number", "currency"), Ok(Kind::Number));
    assert_eq!(Kind::for_types("checkbox", "checkbox"), Ok(Kind::Checkbox));
    let err = Kind::for_types("checkbox", "date").unwrap_err();
    assert!(
        err.contains("`checkbox`") && err.contains("`date`"),
        "{err}"
    );
    assert!(Kind::for_types("people", "singleSelect").is_err());
}

#[test]
fn text_both_ways_with_empty_and_whitespace() {
    assert_eq!(
        from_notion(&notion_prop("title", json!([])), Kind::Text).unwrap(),
        Value::Empty
    );
    assert_eq!(
        from_notion(&notion_prop("rich_text", rt("x ")), Kind::Text).unwrap(),
        Value::text("x ")
    );
    assert_eq!(
        from_notion(&notion_prop("url", json!(null)), Kind::Text).unwrap(),
        Value::Empty
    );
    assert_eq!(from_airtable(None, Kind::Text).unwrap(), Value::Empty);
    assert_eq!(
        from_airtable(Some(&json!("")), Kind::Text).unwrap(),
        Value::Empty
    );
    for v in [
        Value::Empty,
        Value::text("  padded  "),
        Value::text("Ünïcödé ✓ 日本語 🚀"),
    ] {
        assert_eq!(notion_round_trip(&v, "rich_text", Kind::Text, &[]), v);
        assert_eq!(notion_round_trip(&v, "title", Kind::Text, &[]), v);
        assert_eq!(airtable_round_trip(&v, Kind::Text), v);
    }
    // Notion rejects empty strings for url/email/phone: clear with null.
    assert_eq!(
        to_notion(&Value::Empty, "url", &[]).unwrap(),
        json!({ "url": null })
    );
}

#[test]
fn long_text_splits_at_2000_and_joins_back() {
    let long: String = "a".repeat(2001);
    let objects = rich_text_objects(&long);
    assert_eq!(objects.len(), 2);
    assert_eq!(objects[0]["text"]["content"].as_str().unwrap().len(), 2000);
    let v = Value::text(long.clone());
    assert_eq!(notion_round_trip(&v, "rich_text", Kind::Text, &[]), v);
    // Emoji are two UTF-16 units: never split inside one, never exceed 2,000 units.
    let emoji: String = "🚀".repeat(1500);
    for o in rich_text_objects(&emoji) {
        let s = o["text"]["content"].as_str().unwrap();
        assert!(s.encode_utf16().count() <= 2000);
    }
    assert_eq!(
        notion_round_trip(&Value::text(emoji.clone()), "rich_text", Kind::Text, &[]),
        Value::text(emoji)
    );
    assert!(rich_text_objects("").is_empty());
    assert_eq!(rich_text_objects(&"b".repeat(4500)).len(), 3);
}

#[test]
fn selects_both_ways_including_v2_cells_and_commas() {
    let prop = notion_prop(
        "select",
        json!({ "id": "x", "name": "Ready", "color": "blue" }),
    );
    assert_eq!(
        from_notion(&prop, Kind::Select).unwrap(),
        Value::text("Ready")
    );
    assert_eq!(
        from_notion(&notion_prop("status", json!(null)), Kind::Select).unwrap(),
        Value::Empty
    );
    assert_eq!(
        from_airtable(Some(&json!("Ready")), Kind::Select).unwrap(),
        Value::text("Ready")
    );
    // Webhook payloads (V2) carry the option as an object.
    let v2 = json!({ "id": "sel1", "name": "Ready", "color": "blueLight2" });
    assert_eq!(
        from_airtable(Some(&v2), Kind::Select).unwrap(),
        Value::text("Ready")
    );
    for ty in ["select", "status"] {
        assert_eq!(
            notion_round_trip(&Value::text("In Review"), ty, Kind::Select, &[]),
            Value::text("In Review")
        );
        assert_eq!(
            notion_round_trip(&Value::Empty, ty, Kind::Select, &[]),
            Value::Empty
        );
    }
    assert_eq!(
        airtable_round_trip(&Value::text("P0"), Kind::Select),
        Value::text("P0")
    );
    assert_eq!(
        to_notion(&Value::text("Blocked, waiting"), "select", &[]),
        Err(ConvertError::CommaInOption("Blocked, waiting".into()))
    );
    // Airtable accepts commas in option names.
    assert_eq!(
        to_airtable(&Value::text("Blocked, waiting"), Kind::Select),
        json!("Blocked, waiting")
    );
}

#[test]
fn multi_select_is_order_insensitive() {
    let a = from_notion(
        &notion_prop("multi_select", json!([{ "name": "B" }, { "name": "A" }])),
        Kind::MultiSelect,
    )
    .unwrap();
    let b = from_airtable(Some(&json!(["A", "B"])), Kind::MultiSelect).unwrap();
    assert_eq!(a, b);
    assert_eq!(
        from_airtable(Some(&json!([])), Kind::MultiSelect).unwrap(),
        Value::Empty
    );
    assert_eq!(
        notion_round_trip(&a, "multi_select", Kind::MultiSelect, &[]),
        a
    );
    assert_eq!(airtable_round_trip(&a, Kind::MultiSelect), a);
    assert_eq!(
        notion_round_trip(&Value::Empty, "multi_select", Kind::MultiSelect, &[]),
        Value::Empty
    );
}

#[test]
fn people_to_text_and_back_by_unique_name_or_email() {
    let prop = notion_prop(
        "people",
        json!([
            { "object": "user", "id": "u1", "name": "Maya Chen" },
            { "object": "user", "id": "u9", "person": { "email": "guest@example.com" } },
        ]),
    );
    assert_eq!(
        from_notion(&prop, Kind::People).unwrap(),
        Value::text("Maya Chen, guest@example.com")
    );
    let users = users();
    let body = to_notion(
        &Value::text("Maya Chen, jonas@example.com"),
        "people",
        &users,
    )
    .unwrap();
    assert_eq!(
        body,
        json!({ "people": [{ "object": "user", "id": "u1" }, { "object": "user", "id": "u2" }] })
    );
    assert_eq!(
        notion_round_trip(
            &Value::text("Maya Chen, Jonas Berg"),
            "people",
            Kind::People,
            &users
        ),
        Value::text("Maya Chen, Jonas Berg")
    );
    // Two users share the name: ambiguous, nothing is guessed.
    assert_eq!(
        to_notion(&Value::text("Sam Rivera"), "people", &users),
        Err(ConvertError::UnknownPerson("Sam Rivera".into()))
    );
    assert_eq!(
        to_notion(&Value::text("Nobody"), "people", &users),
        Err(ConvertError::UnknownPerson("Nobody".into()))
    );
    assert_eq!(
        to_notion(&Value::Empty, "people", &users).unwrap(),
        json!({ "people": [] })
    );
}

#[test]
fn dates_keep_their_precision_and_day() {
    // Date-only stays date-only through both sides, no time zone involved.
    let d = from_notion(
        &notion_prop(
            "date",
            json!({ "start": "2026-03-01", "end": null, "time_zone": null }),
        ),
        Kind::Date,
    )
    .unwrap();
    assert_eq!(d, Value::Date("2026-03-01".into()));
    assert_eq!(
        from_airtable(Some(&json!("2026-03-01")), Kind::Date).unwrap(),
        d
    );
    assert_eq!(notion_round_trip(&d, "date", Kind::Date, &[]), d);
    assert_eq!(airtable_round_trip(&d, Kind::Date), d);
    // A Notion date-time in New York late evening is still that day.
    let late = notion_prop("date", json!({ "start": "2026-03-01T23:30:00.000-05:00" }));
    assert_eq!(
        from_notion(&late, Kind::Date).unwrap(),
        Value::Date("2026-03-01".into())
    );
    // Date-times keep their instant.
    let t = from_notion(&late, Kind::DateTime).unwrap();
    assert_eq!(t, Value::DateTime("2026-03-02T04:30:00.000Z".into()));
    assert_eq!(
        from_airtable(Some(&json!("2026-03-02T04:30:00.000Z")), Kind::DateTime).unwrap(),
        t
    );
    assert_eq!(notion_round_trip(&t, "date", Kind::DateTime, &[]), t);
    assert_eq!(airtable_round_trip(&t, Kind::DateTime), t);
    assert_eq!(
        notion_round_trip(&Value::Empty, "date", Kind::Date, &[]),
        Value::Empty
    );
    assert!(from_airtable(Some(&json!("soon")), Kind::Date).is_err());
}

#[test]
fn numbers_and_checkboxes() {
    assert_eq!(
        from_notion(&notion_prop("number", json!(42)), Kind::Number).unwrap(),
        Value::Number(42.0)
    );
    assert_eq!(
        from_notion(&notion_prop("number", json!(null)), Kind::Number).unwrap(),
        Value::Empty
    );
    assert_eq!(
        airtable_round_trip(&Value::Number(0.5), Kind::Number),
        Value::Number(0.5)
    );
    assert_eq!(
        notion_round_trip(&Value::Number(-3.25), "number", Kind::Number, &[]),
        Value::Number(-3.25)
    );
    assert_eq!(
        airtable_round_trip(&Value::Empty, Kind::Number),
        Value::Empty
    );
    // Airtable omits false checkboxes: absent and false are the same value.
    assert_eq!(
        from_airtable(None, Kind::Checkbox).unwrap(),
        Value::Bool(false)
    );
    assert_eq!(
        from_notion(&notion_prop("checkbox", json!(false)), Kind::Checkbox).unwrap(),
        Value::Bool(false)
    );
    assert_eq!(
        airtable_round_trip(&Value::Bool(false), Kind::Checkbox),
        Value::Bool(false)
    );
    assert_eq!(
        notion_round_trip(&Value::Bool(true), "checkbox", Kind::Checkbox, &[]),
        Value::Bool(true)
    );
}
