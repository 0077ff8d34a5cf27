//! The multi-select ↔ text list, rating, duration, currency/percent and
//! time-zoned date conversions, both ways, with their edge cases.

use serde_json::json;

use super::super::{from_airtable, from_notion, to_airtable, to_notion_with};
use super::*;

fn notion_prop(ty: &str, inner: Json) -> Json {
    json!({ "id": "abc", "type": ty, ty: inner })
}

fn options(names: &[&str]) -> Json {
    json!(
        names
            .iter()
            .map(|n| json!({ "name": n }))
            .collect::<Vec<_>>()
    )
}

#[test]
fn the_new_type_pairs_have_kinds() {
    for (n, a, kind) in [
        ("multi_select", "singleLineText", Kind::TextList),
        ("multi_select", "multilineText", Kind::TextList),
        ("number", "rating", Kind::Rating),
        ("number", "duration", Kind::Duration),
        ("number", "currency", Kind::Number),
        ("number", "percent", Kind::Number),
        ("date", "dateTime", Kind::DateTime),
    ] {
        assert_eq!(Kind::for_types(n, a), Ok(kind), "{n} ↔ {a}");
    }
}

#[test]
fn refused_pairs_say_why() {
    for (n, a, why) in [
        ("multi_select", "richText", "rich text"),
        ("multi_select", "number", "comma-separated"),
        ("rich_text", "rating", "Notion `number`"),
        ("checkbox", "duration", "Notion `number`"),
        ("number", "singleLineText", "rating or duration"),
        ("status", "multipleSelects", "one option"),
    ] {
        let e = Kind::for_types(n, a).unwrap_err();
        assert!(e.contains(why), "{n} ↔ {a}: {e}");
    }
}

#[test]
fn a_text_list_is_an_order_insensitive_trimmed_set() {
    let from_text = |s: &str| from_airtable(Some(&json!(s)), Kind::TextList).unwrap();
    let notion = from_notion(
        &notion_prop("multi_select", options(&["Web", "API"])),
        Kind::TextList,
    )
    .unwrap();
    assert_eq!(from_text(" API ,Web"), notion);
    assert_eq!(from_text("Web, API, Web,"), notion);
    assert_eq!(from_text(""), Value::Empty);
    assert_eq!(from_text(" , "), Value::Empty);
    assert_eq!(from_airtable(None, Kind::TextList).unwrap(), Value::Empty);
    assert_eq!(
        from_notion(&notion_prop("multi_select", json!([])), Kind::TextList).unwrap(),
        Value::Empty
    );
    // Written as Airtable holds it, it reads back the same.
    let cell = to_airtable(&notion, Kind::TextList);
    assert_eq!(cell, json!("API, Web"));
    assert_eq!(from_airtable(Some(&cell), Kind::TextList).unwrap(), notion);
    assert_eq!(to_airtable(&Value::Empty, Kind::TextList), Json::Null);
}

#[test]
fn a_text_list_goes_to_notion_as_options() {
    let v = from_airtable(Some(&json!("b, a")), Kind::TextList).unwrap();
    let body = to_notion_with(&v, Kind::TextList, "multi_select", None, &[]).unwrap();
    assert_eq!(
        body.body,
        json!({ "multi_select": [{ "name": "a" }, { "name": "b" }] })
    );
    let empty = to_notion_with(&Value::Empty, Kind::TextList, "multi_select", None, &[]).unwrap();
    assert_eq!(empty.body, json!({ "multi_select": [] }));
}

#[test]
fn an_option_name_with_a_comma_is_refused_not_split() {
    let v = from_notion(
        &notion_prop("multi_select", options(&["Paris, TX", "Rome"])),
        Kind::TextList,
    )
    .unwrap();
    assert_eq!(
        check_airtable_value(Kind::TextList, None, &v),
        Err(ConvertError::CommaInOption("Paris, TX".into()))
    );
    let fine = Value::set(["Rome"]);
    assert_eq!(check_airtable_value(Kind::TextList, None, &fine), Ok(()));
}

#[test]
fn ratings_take_whole_stars_from_one_to_max() {
    let max5 = json!({ "max": 5, "icon": "star", "color": "yellowBright" });
    let check = |n: f64, o: &Json| check_airtable_value(Kind::Rating, Some(o), &Value::Number(n));
    assert_eq!(check(1.0, &max5), Ok(()));
    assert_eq!(check(5.0, &max5), Ok(()));
    for bad in [0.0, 6.0, 7.0, 2.5, -1.0] {
        let e = check(bad, &max5).unwrap_err().to_string();
        assert!(e.contains("1 to 5"), "{bad}: {e}");
    }
    assert_eq!(check(10.0, &json!({ "max": 10 })), Ok(()));
    // Without options Airtable's default maximum (5) applies.
    assert!(check_airtable_value(Kind::Rating, None, &Value::Number(6.0)).is_err());
    assert_eq!(
        check_airtable_value(Kind::Rating, Some(&max5), &Value::Empty),
        Ok(())
    );
    // Both ways the number is the same number.
    let from_at = from_airtable(Some(&json!(4)), Kind::Rating).unwrap();
    let from_n = from_notion(&notion_prop("number", json!(4)), Kind::Rating).unwrap();
    assert_eq!(from_at, from_n);
    assert_eq!(to_airtable(&from_n, Kind::Rating), json!(4.0));
    assert_eq!(from_airtable(None, Kind::Rating).unwrap(), Value::Empty);
}

#[test]
fn durations_keep_the_decimals_their_format_shows() {
    let format = |f: &str| json!({ "durationFormat": f });
    let check = |n: f64, o: &Json| check_airtable_value(Kind::Duration, Some(o), &Value::Number(n));
    assert_eq!(check(5400.0, &format("h:mm")), Ok(()));
    assert!(check(90.5, &format("h:mm:ss")).is_err());
    assert_eq!(check(90.5, &format("h:mm:ss.S")), Ok(()));
    assert_eq!(check(0.1, &format("h:mm:ss.S")), Ok(()));
    assert!(check(90.25, &format("h:mm:ss.S")).is_err());
    assert_eq!(check(90.25, &format("h:mm:ss.SS")), Ok(()));
    assert_eq!(check(90.125, &format("h:mm:ss.SSS")), Ok(()));
    let e = check(1.5, &format("h:mm")).unwrap_err().to_string();
    assert!(e.contains("whole seconds"), "{e}");
    assert_eq!(duration_decimals(None), 0);
    let seconds = from_airtable(Some(&json!(3600)), Kind::Duration).unwrap();
    assert_eq!(seconds, Value::Number(3600.0));
}

#[test]
fn currency_and_percent_keep_the_number_as_stored() {
    // Percent 0.5 is 50% on both sides: Notion's percent format shows the
    // stored number × 100, Airtable's percent field stores the fraction.
    let pct = from_notion(&notion_prop("number", json!(0.125)), Kind::Number).unwrap();
    assert_eq!(
        from_airtable(Some(&json!(0.125)), Kind::Number).unwrap(),
        pct
    );
    assert_eq!(to_airtable(&pct, Kind::Number), json!(0.125));
    // More decimals than the field shows are kept, not rounded.
    let price = from_airtable(Some(&json!(19.999)), Kind::Number).unwrap();
    let body = to_notion_with(&price, Kind::Number, "number", None, &[]).unwrap();
    assert_eq!(body.body, json!({ "number": 19.999 }));
}

#[test]
fn a_date_time_goes_back_in_the_offset_the_page_shows() {
    let current = json!({ "type": "date", "date": {
        "start": "2026-03-01T09:00:00.000+01:00", "end": null, "time_zone": null } });
    let v = from_airtable(Some(&json!("2026-03-02T07:30:00.000Z")), Kind::DateTime).unwrap();
    let body = to_notion_with(&v, Kind::DateTime, "date", Some(&current), &[]).unwrap();
    assert_eq!(
        body.body,
        json!({ "date": { "start": "2026-03-02T08:30:00.000+01:00" } })
    );
    // The instant is unchanged: read back it is the Airtable value.
    let mut prop = body.body.clone();
    prop["type"] = json!("date");
    assert_eq!(from_notion(&prop, Kind::DateTime).unwrap(), v);
    // A UTC page, or none yet, takes the canonical UTC form.
    let body = to_notion_with(&v, Kind::DateTime, "date", None, &[]).unwrap();
    assert_eq!(
        body.body,
        json!({ "date": { "start": "2026-03-02T07:30:00.000Z" } })
    );
}

#[test]
fn a_date_range_keeps_its_end_in_the_same_offset() {
    let current = json!({ "type": "date", "date": {
        "start": "2026-03-01T09:00:00.000-05:00", "end": "2026-03-05T17:00:00.000-05:00" } });
    let v = Value::DateTime("2026-03-02T14:00:00.000Z".into());
    let body = to_notion_with(&v, Kind::DateTime, "date", Some(&current), &[]).unwrap();
    assert_eq!(
        body.body,
        json!({ "date": {
            "start": "2026-03-02T09:00:00.000-05:00",
            "end": "2026-03-05T17:00:00.000-05:00" } })
    );
}

#[test]
fn offsets_across_the_date_line_and_bad_input() {
    assert_eq!(
        in_current_offset(
            "2026-01-01T10:00:00.000Z",
            Some("2026-01-01T00:00:00+13:45")
        ),
        "2026-01-01T23:45:00.000+13:45"
    );
    assert_eq!(
        in_current_offset("2026-01-01T10:00:00.000Z", Some("not a date")),
        "2026-01-01T10:00:00.000Z"
    );
    // A date-only page value has no offset: the body is left alone.
    let mut body = json!({ "date": { "start": "2026-01-01T10:00:00.000Z" } });
    keep_offset(
        &mut body,
        Some(&json!({ "date": { "start": "2026-01-01" } })),
    );
    assert_eq!(body["date"]["start"], "2026-01-01T10:00:00.000Z");
}
