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

// ---------------------------------------------------------------- rich text (Airtable Markdown)

fn bold_word_prop() -> Json {
    notion_prop(
        "rich_text",
        json!([
            { "type": "text", "text": { "content": "ship " }, "plain_text": "ship ",
              "annotations": { "bold": false, "italic": false, "strikethrough": false,
                               "underline": false, "code": false, "color": "default" }, "href": null },
            { "type": "text", "text": { "content": "today" }, "plain_text": "today",
              "annotations": { "bold": true, "italic": false, "strikethrough": false,
                               "underline": false, "code": false, "color": "default" }, "href": null },
        ]),
    )
}

/// Write to Notion with `to_notion_with`, read the body back as a property.
fn notion_echo(value: &Value, ty: &str, kind: Kind) -> Value {
    let written = to_notion_with(value, kind, ty, None, &[]).unwrap();
    let mut prop = written.body.clone();
    prop["type"] = json!(ty);
    from_notion(&prop, kind).unwrap()
}

/// Write to Airtable, read back as Airtable returns rich text: with "\n".
fn airtable_rich_echo(value: &Value, kind: Kind) -> Value {
    let cell = to_airtable(value, kind);
    let returned = cell.as_str().map(|s| json!(format!("{s}\n")));
    from_airtable(returned.as_ref(), kind).unwrap()
}

#[test]
fn kinds_for_rich_text_and_status() {
    assert_eq!(Kind::for_types("rich_text", "richText"), Ok(Kind::RichText));
    assert_eq!(Kind::for_types("title", "richText"), Ok(Kind::RichText));
    assert_eq!(Kind::for_types("url", "richText"), Ok(Kind::MarkdownText));
    assert_eq!(
        Kind::for_types("status", "richText"),
        Ok(Kind::MarkdownText)
    );
    // Plain long text keeps plain-text behaviour.
    assert_eq!(
        Kind::for_types("rich_text", "multilineText"),
        Ok(Kind::Text)
    );
    assert_eq!(
        Kind::for_types("status", "singleLineText"),
        Ok(Kind::Select)
    );
    assert!(Kind::for_types("people", "richText").is_err());
}

#[test]
fn airtable_rich_text_trailing_newline_never_reaches_notion() {
    let from_airtable_side =
        from_airtable(Some(&json!("Ready to ship\n")), Kind::RichText).unwrap();
    let from_notion_side = from_notion(
        &notion_prop("rich_text", rt("Ready to ship")),
        Kind::RichText,
    )
    .unwrap();
    // Equal values: a one-way field does not look changed.
    assert_eq!(from_airtable_side, from_notion_side);
    let body = to_notion_with(&from_airtable_side, Kind::RichText, "rich_text", None, &[]).unwrap();
    assert_eq!(
        body.body["rich_text"][0]["text"]["content"],
        "Ready to ship"
    );
    assert_eq!(body.body["rich_text"].as_array().unwrap().len(), 1);
    // The same for a rich-text field mapped to a Notion url.
    assert_eq!(
        from_airtable(Some(&json!("https://x.test/a_b\n")), Kind::MarkdownText).unwrap(),
        Value::text("https://x.test/a_b")
    );
}

#[test]
fn notion_formatting_becomes_markdown_and_back() {
    let v = from_notion(&bold_word_prop(), Kind::RichText).unwrap();
    assert_eq!(v, Value::text("ship **today**"));
    assert_eq!(to_airtable(&v, Kind::RichText), json!("ship **today**"));
    let body = to_notion_with(&v, Kind::RichText, "rich_text", None, &[])
        .unwrap()
        .body;
    assert_eq!(body["rich_text"][1]["text"]["content"], "today");
    assert_eq!(body["rich_text"][1]["annotations"]["bold"], true);
    // Each format Airtable documents, read into annotations and links.
    let md = json!("*i* ~~s~~ `c` [l](https://x.test/l)\n");
    let v = from_airtable(Some(&md), Kind::RichText).unwrap();
    let body = to_notion_with(&v, Kind::RichText, "rich_text", None, &[])
        .unwrap()
        .body;
    let pieces = body["rich_text"].as_array().unwrap();
    assert_eq!(pieces[0]["annotations"]["italic"], true);
    assert_eq!(pieces[2]["annotations"]["strikethrough"], true);
    assert_eq!(pieces[4]["annotations"]["code"], true);
    assert_eq!(pieces[6]["text"]["link"]["url"], "https://x.test/l");
}

#[test]
fn a_format_only_edit_is_a_change_for_rich_text_but_not_plain_text() {
    let plain = from_notion(&notion_prop("rich_text", rt("ship today")), Kind::RichText).unwrap();
    let bolded = from_notion(&bold_word_prop(), Kind::RichText).unwrap();
    assert_ne!(plain, bolded);
    // And in Airtable: making the word bold there is seen too.
    let a_plain = from_airtable(Some(&json!("ship today\n")), Kind::RichText).unwrap();
    let a_bold = from_airtable(Some(&json!("ship __today__\n")), Kind::RichText).unwrap();
    assert_eq!(a_plain, plain);
    assert_eq!(a_bold, bolded);
    // Notion rich text ↔ a plain long text: formatting is not a change.
    assert_eq!(
        from_notion(&bold_word_prop(), Kind::Text).unwrap(),
        Value::text("ship today")
    );
}

#[test]
fn asterisks_and_underscores_in_text_survive_both_ways() {
    let typed = "a*b*c and snake_case_name, **not bold**";
    let v = from_notion(&notion_prop("rich_text", rt(typed)), Kind::RichText).unwrap();
    let cell = to_airtable(&v, Kind::RichText);
    assert_ne!(cell, json!(typed), "escaped on write");
    assert_eq!(airtable_rich_echo(&v, Kind::RichText), v);
    let body = to_notion_with(&v, Kind::RichText, "rich_text", None, &[])
        .unwrap()
        .body;
    assert_eq!(plain_text(&body["rich_text"]), typed);
    assert!(body["rich_text"][0].get("annotations").is_none());
    // Escapes typed in Airtable are unescaped for Notion.
    let v = from_airtable(Some(&json!("a\\*b\\_c\n")), Kind::RichText).unwrap();
    let body = to_notion_with(&v, Kind::RichText, "rich_text", None, &[])
        .unwrap()
        .body;
    assert_eq!(plain_text(&body["rich_text"]), "a*b_c");
    // A url ↔ rich text field: escaped on write, unescaped on read.
    let url = Value::text("https://x.test/a_b*c");
    assert_eq!(airtable_rich_echo(&url, Kind::MarkdownText), url);
}

#[test]
fn long_formatted_text_is_split_and_too_many_pieces_are_refused() {
    let long = format!("**{}** tail", "b".repeat(4500));
    let v = from_airtable(Some(&json!(long)), Kind::RichText).unwrap();
    let body = to_notion_with(&v, Kind::RichText, "rich_text", None, &[])
        .unwrap()
        .body;
    let pieces = body["rich_text"].as_array().unwrap();
    assert_eq!(pieces.len(), 4);
    assert!(pieces[..3].iter().all(|p| p["annotations"]["bold"] == true));
    assert!(pieces.iter().all(|p| {
        p["text"]["content"]
            .as_str()
            .unwrap()
            .encode_utf16()
            .count()
            <= 2000
    }));
    assert_eq!(notion_echo(&v, "rich_text", Kind::RichText), v);
    // 101 formatting runs cannot be written: refused, not truncated.
    let many: String = (0..101)
        .map(|i| {
            if i % 2 == 0 {
                "**x** ".to_owned()
            } else {
                "y ".to_owned()
            }
        })
        .collect();
    let v = from_airtable(Some(&json!(many)), Kind::RichText).unwrap();
    assert!(matches!(
        to_notion_with(&v, Kind::RichText, "rich_text", None, &[]),
        Err(ConvertError::TooManyPieces(n)) if n > 100
    ));
    let plain_long = Value::text("p".repeat(2000 * 100 + 1));
    assert_eq!(
        to_notion_with(&plain_long, Kind::Text, "rich_text", None, &[]),
        Err(ConvertError::TooManyPieces(101))
    );
}

/// xorshift64*, for the randomized round trips below.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n as u64) as usize
    }
}

/// A Notion rich-text property as the API returns it, with random text,
/// annotations and links.
fn random_notion_rich_text(rng: &mut Rng) -> Json {
    const WORDS: &[&str] = &[
        "ship",
        "today",
        " ",
        " ",
        "\n",
        "a*b",
        "snake_case",
        "~",
        "`x`",
        "[1]",
        "(p)",
        "!",
        "日本",
        "😀",
        "\\",
        "# ",
        "- ",
        "tail ",
    ];
    let pieces: Vec<Json> = (0..1 + rng.below(8))
        .map(|_| {
            let text: String = (0..1 + rng.below(3))
                .map(|_| WORDS[rng.below(WORDS.len())])
                .collect();
            let link = (rng.below(5) == 0).then_some("https://x.test/p");
            json!({
                "type": "text",
                "text": { "content": text, "link": link.map(|u| json!({ "url": u })) },
                "plain_text": text,
                "href": link,
                "annotations": {
                    "bold": rng.below(3) == 0, "italic": rng.below(3) == 0,
                    "strikethrough": rng.below(6) == 0, "code": rng.below(8) == 0,
                    "underline": rng.below(4) == 0, "color": "default"
                }
            })
        })
        .collect();
    notion_prop("rich_text", json!(pieces))
}

#[test]
fn rich_text_round_trips_and_echoes_compare_equal() {
    let mut rng = Rng(0x5eed);
    for _ in 0..3_000 {
        let prop = random_notion_rich_text(&mut rng);
        let v = from_notion(&prop, Kind::RichText).unwrap();
        // Notion → Airtable → read back (with Airtable's "\n"): equal.
        assert_eq!(airtable_rich_echo(&v, Kind::RichText), v, "{prop}");
        // Airtable → Notion → read back: equal.
        assert_eq!(notion_echo(&v, "rich_text", Kind::RichText), v, "{prop}");
        // The text itself is never changed (trailing line breaks aside).
        let text = plain_text(&prop["rich_text"]);
        let written = to_notion_with(&v, Kind::RichText, "rich_text", None, &[]).unwrap();
        assert_eq!(
            plain_text(&written.body["rich_text"]),
            text.trim_end_matches('\n')
        );
    }
}

// ---------------------------------------------------------------- status

#[test]
fn status_reads_its_name_and_writes_a_status_body() {
    let prop = notion_prop(
        "status",
        json!({ "id": "s1", "name": "In progress", "color": "blue" }),
    );
    assert_eq!(
        from_notion(&prop, Kind::Select).unwrap(),
        Value::text("In progress")
    );
    assert_eq!(
        to_notion_with(&Value::text("Done"), Kind::Select, "status", None, &[])
            .unwrap()
            .body,
        json!({ "status": { "name": "Done" } })
    );
    assert_eq!(
        to_notion_with(&Value::Empty, Kind::Select, "status", None, &[])
            .unwrap()
            .body,
        json!({ "status": null })
    );
    // A status mapped to a rich-text long text reads the option name too.
    assert_eq!(
        from_notion(&prop, Kind::MarkdownText).unwrap(),
        Value::text("In progress")
    );
}

// ---------------------------------------------------------------- date ranges

fn range(start: &str, end: Option<&str>) -> Json {
    notion_prop(
        "date",
        json!({ "start": start, "end": end, "time_zone": null }),
    )
}

#[test]
fn a_range_compares_by_its_start_only() {
    let notion = from_notion(&range("2026-03-01", Some("2026-03-05")), Kind::Date).unwrap();
    let airtable = from_airtable(Some(&json!("2026-03-01")), Kind::Date).unwrap();
    assert_eq!(notion, airtable);
}

#[test]
fn writing_a_start_keeps_the_pages_end() {
    let current = range("2026-03-01", Some("2026-03-05"));
    let new = Value::Date("2026-03-02".into());
    let written = to_notion_with(&new, Kind::Date, "date", Some(&current), &[]).unwrap();
    assert_eq!(
        written.body,
        json!({ "date": { "start": "2026-03-02", "end": "2026-03-05" } })
    );
    assert_eq!(written.note, None);
    // The same day as the end is still a range.
    let same = Value::Date("2026-03-05".into());
    let written = to_notion_with(&same, Kind::Date, "date", Some(&current), &[]).unwrap();
    assert_eq!(written.body["date"]["end"], "2026-03-05");
    // Instants: the end is fitted to the start's form, and both are written
    // in the offset the page shows (the same instants).
    let current = range(
        "2026-03-01T09:00:00.000+02:00",
        Some("2026-03-01T17:00:00.000+02:00"),
    );
    let new = Value::DateTime("2026-03-01T08:00:00.000Z".into());
    let written = to_notion_with(&new, Kind::DateTime, "date", Some(&current), &[]).unwrap();
    assert_eq!(
        written.body,
        json!({ "date": { "start": "2026-03-01T10:00:00.000+02:00", "end": "2026-03-01T17:00:00.000+02:00" } })
    );
}

#[test]
fn an_end_before_the_new_start_is_dropped_and_said() {
    let current = range("2026-03-01", Some("2026-03-05"));
    let new = Value::Date("2026-03-09".into());
    let written = to_notion_with(&new, Kind::Date, "date", Some(&current), &[]).unwrap();
    assert_eq!(written.body, json!({ "date": { "start": "2026-03-09" } }));
    let note = written.note.unwrap();
    assert!(
        note.contains("2026-03-05") && note.contains("2026-03-09"),
        "{note}"
    );
    // No range, or no current page: only the start, no note.
    for current in [Some(range("2026-03-01", None)), None] {
        let written = to_notion_with(&new, Kind::Date, "date", current.as_ref(), &[]).unwrap();
        assert_eq!(
            written,
            NotionBody {
                body: json!({ "date": { "start": "2026-03-09" } }),
                note: None
            }
        );
    }
    // Clearing the date clears the range.
    let cleared = to_notion_with(&Value::Empty, Kind::Date, "date", Some(&current), &[]).unwrap();
    assert_eq!(cleared.body, json!({ "date": null }));
}

// ---------------------------------------------------------------- refused values

fn notion_schema(ty: &str, options: &[&str]) -> crate::notion::PropertySchema {
    let options: Vec<Json> = options
        .iter()
        .map(|n| json!({ "id": n, "name": n, "color": "gray" }))
        .collect();
    serde_json::from_value(
        json!({ "id": "p1", "name": "Field", "type": ty, ty: { "options": options } }),
    )
    .unwrap()
}

fn refusal(schema: &crate::notion::PropertySchema, value: &Value) -> Option<String> {
    let body = to_notion_with(value, Kind::Text, &schema.kind, None, &[]).ok()?;
    check_notion_write(schema, value, &body.body)
        .err()
        .map(|r| r.to_string())
}

#[test]
fn notion_refusals_name_the_field_and_the_limit() {
    let status = notion_schema("status", &["Not started", "Done"]);
    assert_eq!(refusal(&status, &Value::text("Done")), None);
    assert_eq!(refusal(&status, &Value::Empty), None);
    let r = refusal(&status, &Value::text("Blocked")).unwrap();
    assert!(
        r.contains("\"Field\"")
            && r.contains("Blocked")
            && r.contains("cannot create status options"),
        "{r}"
    );
    // A select creates unknown options: fine.
    assert_eq!(
        refusal(&notion_schema("select", &[]), &Value::text("New")),
        None
    );
    for (ty, limit) in [("url", 2000), ("email", 200), ("phone_number", 200)] {
        let schema = notion_schema(ty, &[]);
        assert_eq!(
            refusal(&schema, &Value::text("x".repeat(limit))),
            None,
            "{ty}"
        );
        let r = refusal(&schema, &Value::text("x".repeat(limit + 1))).unwrap();
        assert!(r.contains(&format!("at most {limit}")), "{r}");
    }
    // UTF-16 units, as Notion counts: 101 emoji are 202 units.
    assert!(refusal(&notion_schema("email", &[]), &Value::text("😀".repeat(101))).is_some());
    let rich = notion_schema("rich_text", &[]);
    let too_long =
        json!({ "rich_text": [{ "type": "text", "text": { "content": "x".repeat(2001) } }] });
    assert!(
        check_notion_write(&rich, &Value::Empty, &too_long)
            .unwrap_err()
            .reason
            .contains("2000")
    );
    let long_link = json!({ "rich_text": [{ "type": "text",
        "text": { "content": "x", "link": { "url": "u".repeat(2001) } } }] });
    assert!(check_notion_write(&rich, &Value::Empty, &long_link).is_err());
    let many =
        json!({ "rich_text": vec![json!({ "type": "text", "text": { "content": "x" } }); 101] });
    assert!(
        check_notion_write(&rich, &Value::Empty, &many)
            .unwrap_err()
            .reason
            .contains("100")
    );
    assert_eq!(refusal(&rich, &Value::text("y".repeat(6000))), None);
    // Not a finite number.
    let number = notion_schema("number", &[]);
    let nan = Value::Number(f64::NAN);
    assert!(check_notion_write(&number, &nan, &json!({ "number": null })).is_err());
    assert!(to_notion_with(&nan, Kind::Number, "number", None, &[]).is_err());
    // The property changed type since the mapping was resolved.
    let r =
        check_notion_write(&number, &Value::text("x"), &json!({ "rich_text": [] })).unwrap_err();
    assert!(
        r.reason.contains("`number`") && r.reason.contains("`rich_text`"),
        "{r}"
    );
}

fn airtable_field(ty: &str) -> crate::airtable::FieldSchema {
    serde_json::from_value(json!({ "id": "fld1", "name": "Cell", "type": ty })).unwrap()
}

#[test]
fn airtable_refusals() {
    let select = airtable_field("singleSelect");
    // Unknown options are created by typecast.
    let v = Value::text("Brand new");
    assert_eq!(
        check_airtable_write(&select, Kind::Select, &v, &to_airtable(&v, Kind::Select)),
        Ok(())
    );
    let number = airtable_field("currency");
    let ok = Value::Number(2.5);
    assert_eq!(
        check_airtable_write(&number, Kind::Number, &ok, &to_airtable(&ok, Kind::Number)),
        Ok(())
    );
    let nan = Value::Number(f64::INFINITY);
    let r = check_airtable_write(
        &number,
        Kind::Number,
        &nan,
        &to_airtable(&nan, Kind::Number),
    )
    .unwrap_err();
    assert!(
        r.to_string().contains("\"Cell\"") && r.reason.contains("finite"),
        "{r}"
    );
    // A text field turned into a formula (or any type of another kind).
    let formula = airtable_field("formula");
    let r = check_airtable_write(&formula, Kind::Text, &v, &json!("x")).unwrap_err();
    assert!(r.reason.contains("`formula`"), "{r}");
    let rich = airtable_field("richText");
    assert_eq!(
        check_airtable_write(&rich, Kind::RichText, &v, &json!("x")),
        Ok(())
    );
    assert!(check_airtable_write(&rich, Kind::Text, &v, &json!("x")).is_err());
}
