//! Computed fields: each vendor's value shapes read as the canonical value
//! the writable target takes, the refusals, and the kinds and directions.

use serde_json::json;

use super::super::{from_airtable, from_notion, to_airtable, to_notion_with};
use super::*;

fn prop(ty: &str, inner: Json) -> Json {
    json!({ "id": "abc", "type": ty, ty: inner })
}

fn n(property: &Json, fit: Fit) -> Value {
    from_notion(property, Kind::NotionComputed(fit)).unwrap()
}

fn a(cell: Json, fit: Fit) -> Value {
    from_airtable(Some(&cell), Kind::AirtableComputed(fit)).unwrap()
}

fn t(s: &str) -> Value {
    Value::text(s)
}

#[test]
fn notion_formulas_read_as_their_result_type() {
    let string = prop(
        "formula",
        json!({ "type": "string", "string": "SPEC-ready" }),
    );
    assert_eq!(n(&string, Fit::Text), t("SPEC-ready"));
    let number = prop("formula", json!({ "type": "number", "number": 42.5 }));
    assert_eq!(n(&number, Fit::Number), Value::Number(42.5));
    assert_eq!(n(&number, Fit::Text), t("42.5"));
    let boolean = prop("formula", json!({ "type": "boolean", "boolean": true }));
    assert_eq!(n(&boolean, Fit::Checkbox), Value::Bool(true));
    let date = prop(
        "formula",
        json!({ "type": "date", "date": { "start": "2026-03-01T09:30:00.000+02:00", "end": null } }),
    );
    assert_eq!(
        n(&date, Fit::DateTime),
        Value::DateTime("2026-03-01T07:30:00.000Z".into())
    );
    // Into a date field: the day the page shows, not the UTC day.
    assert_eq!(n(&date, Fit::Date), Value::Date("2026-03-01".into()));
    let day = prop(
        "formula",
        json!({ "type": "date", "date": { "start": "2026-03-01" } }),
    );
    assert_eq!(n(&day, Fit::Text), t("2026-03-01"));
}

#[test]
fn empty_notion_formulas_are_empty_never_zero_or_false() {
    for inner in [
        json!({ "type": "string", "string": null }),
        json!({ "type": "string", "string": "" }),
        json!({ "type": "number", "number": null }),
        json!({ "type": "date", "date": null }),
    ] {
        let p = prop("formula", inner);
        assert_eq!(n(&p, Fit::Text), Value::Empty, "{p}");
        assert_eq!(n(&p, Fit::Number), Value::Empty, "{p}");
    }
}

#[test]
fn notion_rollups_read_numbers_dates_and_arrays() {
    let sum = prop(
        "rollup",
        json!({ "type": "number", "number": 13, "function": "sum" }),
    );
    assert_eq!(n(&sum, Fit::Number), Value::Number(13.0));
    let latest = prop(
        "rollup",
        json!({ "type": "date", "date": { "start": "2026-02-10" }, "function": "latest_date" }),
    );
    assert_eq!(n(&latest, Fit::Date), Value::Date("2026-02-10".into()));
    let titles = prop(
        "rollup",
        json!({ "type": "array", "function": "show_original", "array": [
            { "type": "title", "title": [{ "plain_text": "Auth" }] },
            { "type": "title", "title": [] },
            { "type": "title", "title": [{ "plain_text": "Billing" }] },
        ]}),
    );
    assert_eq!(n(&titles, Fit::Text), t("Auth, Billing"));
    let one = prop(
        "rollup",
        json!({ "type": "array", "function": "show_original", "array": [
            { "type": "number", "number": 8 }
        ]}),
    );
    assert_eq!(n(&one, Fit::Number), Value::Number(8.0));
    let incomplete = prop("rollup", json!({ "type": "incomplete", "incomplete": {} }));
    assert_eq!(n(&incomplete, Fit::Text), Value::Empty);
}

#[test]
fn notion_unique_ids_read_as_shown_or_as_their_number() {
    let with_prefix = prop("unique_id", json!({ "prefix": "SPEC", "number": 12 }));
    assert_eq!(n(&with_prefix, Fit::Text), t("SPEC-12"));
    assert_eq!(n(&with_prefix, Fit::Number), Value::Number(12.0));
    let bare = prop("unique_id", json!({ "prefix": null, "number": 7 }));
    assert_eq!(n(&bare, Fit::Text), t("7"));
}

#[test]
fn notion_timestamps_and_authors_read_as_instants_and_names() {
    let created = prop("created_time", json!("2026-01-05T10:21:00.000Z"));
    assert_eq!(
        n(&created, Fit::DateTime),
        Value::DateTime("2026-01-05T10:21:00.000Z".into())
    );
    assert_eq!(n(&created, Fit::Date), Value::Date("2026-01-05".into()));
    assert_eq!(n(&created, Fit::Text), t("2026-01-05T10:21:00.000Z"));
    let by = prop(
        "created_by",
        json!({ "object": "user", "id": "u1", "name": "Ada Lovelace", "type": "person",
                "person": { "email": "ada@example.com" } }),
    );
    assert_eq!(n(&by, Fit::Text), t("Ada Lovelace"));
    // A partial user (no name shared with the integration): never empty.
    let partial = prop("last_edited_by", json!({ "object": "user", "id": "u2" }));
    assert_eq!(n(&partial, Fit::Text), t("u2"));
    let bad = prop("last_edited_time", json!("yesterday"));
    assert!(from_notion(&bad, Kind::NotionComputed(Fit::DateTime)).is_err());
}

#[test]
fn airtable_computed_cells_read_as_the_notion_target_takes_them() {
    assert_eq!(a(json!(17), Fit::Number), Value::Number(17.0));
    assert_eq!(a(json!(17), Fit::Text), t("17"));
    assert_eq!(
        a(json!("2026-01-05T10:21:33.000Z"), Fit::DateTime),
        Value::DateTime("2026-01-05T10:21:33.000Z".into())
    );
    assert_eq!(
        a(json!("2026-01-05"), Fit::DateTime),
        Value::DateTime("2026-01-05T00:00:00.000Z".into())
    );
    assert_eq!(a(json!("Auth ready"), Fit::Text), t("Auth ready"));
    // Formulas have no boolean result: TRUE() is 1.
    assert_eq!(a(json!(1), Fit::Checkbox), Value::Bool(true));
    assert_eq!(a(json!(0), Fit::Checkbox), Value::Bool(false));
    // Lookups are arrays: one value is that value, several are listed.
    assert_eq!(a(json!([5]), Fit::Number), Value::Number(5.0));
    assert_eq!(
        a(json!(["Auth", "", "Billing"]), Fit::Text),
        t("Auth, Billing")
    );
    assert_eq!(
        a(
            json!([{ "id": "usr1", "email": "ada@example.com", "name": "Ada" }]),
            Fit::Text
        ),
        t("Ada")
    );
    assert_eq!(a(json!([]), Fit::Text), Value::Empty);
}

#[test]
fn airtable_errors_and_absent_cells_are_empty_so_the_mirror_is_kept() {
    assert_eq!(a(json!({ "error": "#ERROR!" }), Fit::Text), Value::Empty);
    assert_eq!(
        a(json!({ "specialValue": "NaN" }), Fit::Number),
        Value::Empty
    );
    // Absent is not "unchecked" for a computed source.
    let absent = from_airtable(None, Kind::AirtableComputed(Fit::Checkbox)).unwrap();
    assert_eq!(absent, Value::Empty);
}

#[test]
fn the_writable_side_is_read_and_written_with_the_plain_kind() {
    let kind = Kind::NotionComputed(Fit::Text);
    assert_eq!(
        from_airtable(Some(&json!("SPEC-12")), kind).unwrap(),
        t("SPEC-12")
    );
    assert_eq!(to_airtable(&t("SPEC-12"), kind), json!("SPEC-12"));
    let kind = Kind::AirtableComputed(Fit::Number);
    assert_eq!(
        from_notion(&prop("number", json!(3)), kind).unwrap(),
        Value::Number(3.0)
    );
    let body = to_notion_with(&Value::Number(3.0), kind, "number", None, &[]).unwrap();
    assert_eq!(body.body, json!({ "number": 3.0 }));
}

#[test]
fn a_result_that_does_not_fit_the_target_is_refused() {
    // A text formula into an Airtable number field.
    let p = prop("formula", json!({ "type": "string", "string": "soon" }));
    let v = n(&p, Fit::Number);
    assert_eq!(v, t("soon"));
    let err =
        super::super::types::check_airtable_value(Kind::NotionComputed(Fit::Number), None, &v)
            .unwrap_err();
    assert!(
        err.to_string().contains("does not fit this Airtable field"),
        "{err}"
    );
    // A text formula from Airtable into a Notion date.
    let v = a(json!("next week"), Fit::DateTime);
    assert_eq!(v, t("next week"));
    let err =
        to_notion_with(&v, Kind::AirtableComputed(Fit::DateTime), "date", None, &[]).unwrap_err();
    assert!(err.to_string().contains("holds a date and time"), "{err}");
    // Empty always fits (and the one-way merge keeps the mirror).
    assert!(check_fits(Fit::Number, &Value::Empty, "Airtable").is_ok());
}

#[test]
fn kinds_come_from_the_writable_target() {
    let k = |n: &str, a: &str| Kind::for_types(n, a);
    assert_eq!(
        k("unique_id", "singleLineText"),
        Ok(Kind::NotionComputed(Fit::Text))
    );
    assert_eq!(
        k("unique_id", "number"),
        Ok(Kind::NotionComputed(Fit::Number))
    );
    assert_eq!(
        k("created_time", "dateTime"),
        Ok(Kind::NotionComputed(Fit::DateTime))
    );
    assert_eq!(
        k("formula", "checkbox"),
        Ok(Kind::NotionComputed(Fit::Checkbox))
    );
    assert_eq!(
        k("rich_text", "autoNumber"),
        Ok(Kind::AirtableComputed(Fit::Text))
    );
    assert_eq!(
        k("number", "count"),
        Ok(Kind::AirtableComputed(Fit::Number))
    );
    assert_eq!(
        k("date", "createdTime"),
        Ok(Kind::AirtableComputed(Fit::DateTime))
    );
    assert_eq!(
        k("date", "multipleLookupValues"),
        Ok(Kind::AirtableComputed(Fit::DateTime))
    );
    let both = k("formula", "formula").unwrap_err();
    assert!(both.contains("both sides are computed"), "{both}");
    let person = k("created_by", "number").unwrap_err();
    assert!(
        person.contains("Notion `created_by` is computed by Notion"),
        "{person}"
    );
    assert!(person.contains("the person's name"), "{person}");
    let stamp = k("checkbox", "lastModifiedTime").unwrap_err();
    assert!(stamp.contains("text or a date"), "{stamp}");
}

#[test]
fn only_the_computed_sides_direction_is_allowed() {
    use crate::config::Direction::*;
    let notion = Kind::NotionComputed(Fit::Text);
    for wrong in [Both, AirtableToNotion] {
        let why = direction_problem(notion, "formula", "singleLineText", wrong).unwrap();
        assert_eq!(
            why,
            "Notion `formula` is computed by Notion and cannot be written: use direction = \
             \"notion_to_airtable\""
        );
    }
    assert_eq!(
        direction_problem(notion, "formula", "x", NotionToAirtable),
        None
    );
    let airtable = Kind::AirtableComputed(Fit::Number);
    let why = direction_problem(airtable, "number", "autoNumber", Both).unwrap();
    assert!(
        why.contains("use direction = \"airtable_to_notion\""),
        "{why}"
    );
    assert_eq!(
        direction_problem(airtable, "number", "count", AirtableToNotion),
        None
    );
    assert_eq!(
        direction_problem(Kind::Text, "title", "singleLineText", Both),
        None
    );
    assert_eq!(
        one_way_direction("created_by", "multilineText"),
        Some("notion_to_airtable")
    );
    assert_eq!(
        one_way_direction("date", "createdTime"),
        Some("airtable_to_notion")
    );
    assert_eq!(one_way_direction("title", "singleLineText"), None);
    assert_eq!(one_way_direction("formula", "rollup"), None);
}
