use serde_json::json;

use super::*;
use crate::config::{ConflictRule, Direction};
use crate::sync::convert::{from_airtable, from_notion, to_airtable, to_notion_with};
use crate::sync::merge::{Decision, FieldInput, Reason, Side, merge_field};

fn content(markdown: &str, truncated: bool) -> PageMarkdown {
    PageMarkdown {
        markdown: markdown.to_owned(),
        truncated,
        unknown_block_ids: if truncated {
            vec!["b1".into()]
        } else {
            Vec::new()
        },
    }
}

fn notion_value(markdown: &str) -> Value {
    from_notion(&property(&content(markdown, false)).raw, Kind::Body).unwrap()
}

#[test]
fn canonical_drops_what_is_no_content_and_converts_what_notion_converts() {
    assert_eq!(canonical("# Spec\r\n\r\nText\r\n"), "# Spec\n\nText");
    assert_eq!(canonical("Text\n\n\n  \n"), "Text");
    assert_eq!(canonical("##### Five\n###### Six"), "#### Five\n#### Six");
    // Fenced code is literal in Notion; #######-lines are no headings.
    assert_eq!(
        canonical("```\n##### code\n```\n####### seven"),
        "```\n##### code\n```\n####### seven"
    );
    // Inner spacing, list markers and emphasis stay as typed.
    let typed = "- a\n* b\n\n  indented  \n__bold__ and *it*";
    assert_eq!(canonical(typed), typed);
}

#[test]
fn canonical_is_a_fixed_point() {
    for text in [
        "",
        "\n",
        "# A\n\n\n##### B\r\n",
        "```\n##### x\n",
        "tail  \n\n",
    ] {
        let once = canonical(text);
        assert_eq!(canonical(&once), once, "{text:?}");
    }
}

#[test]
fn rich_text_trailing_newline_and_notion_form_compare_equal() {
    let airtable = from_airtable(Some(&json!("# Spec\n\nBody **bold**\n")), Kind::Body).unwrap();
    assert_eq!(airtable, notion_value("# Spec\n\nBody **bold**"));
    // What Notion stores for a level-5 heading equals the Airtable text
    // typed with one: no write either way.
    let airtable = from_airtable(Some(&json!("##### Deep\n")), Kind::Body).unwrap();
    assert_eq!(airtable, notion_value("#### Deep"));
}

#[test]
fn empty_content_reads_as_empty() {
    assert_eq!(notion_value(""), Value::Empty);
    assert_eq!(from_airtable(None, Kind::Body).unwrap(), Value::Empty);
    assert_eq!(notion_value("\n\n"), Value::Empty);
}

#[test]
fn a_truncated_read_is_refused() {
    let raw = property(&content("part <unknown/>", true)).raw;
    let err = from_notion(&raw, Kind::Body).unwrap_err().to_string();
    assert!(err.contains("truncated"), "{err}");
}

#[test]
fn airtable_limit_refuses_without_truncating() {
    let at_limit = Value::text("x".repeat(AIRTABLE_LIMIT));
    assert!(check_airtable(&at_limit).is_ok());
    // Characters, not bytes: 100,000 "é" fit.
    assert!(check_airtable(&Value::text("é".repeat(AIRTABLE_LIMIT))).is_ok());
    let over = Value::text("x".repeat(AIRTABLE_LIMIT + 1));
    let err = check_airtable(&over).unwrap_err().to_string();
    assert!(err.contains("100001 characters"), "{err}");
    assert!(err.contains("100000"), "{err}");
    assert_eq!(
        to_airtable(&at_limit, Kind::Body),
        json!("x".repeat(AIRTABLE_LIMIT))
    );
}

#[test]
fn notion_payload_limit_refuses() {
    let fits = Value::text("x".repeat(400_000));
    let body = to_notion_with(&fits, Kind::Body, NOTION_TYPE, None, &[]).unwrap();
    assert_eq!(body.body[NOTION_TYPE].as_str().map(str::len), Some(400_000));
    // Multi-byte characters count by their UTF-8 bytes on the wire.
    let over = Value::text("€".repeat(200_000));
    let err = to_notion_with(&over, Kind::Body, NOTION_TYPE, None, &[])
        .unwrap_err()
        .to_string();
    assert!(err.contains("500000"), "{err}");
}

fn input<'a>(n: &'a Value, a: &'a Value, s: Option<&'a Value>) -> FieldInput<'a> {
    FieldInput {
        notion: n,
        airtable: a,
        snapshot: s,
        direction: Direction::Both,
        conflict: ConflictRule::Airtable,
        notion_edited: None,
        airtable_edited: None,
        computed_source: false,
    }
}

#[test]
fn merge_on_the_whole_text() {
    let old = Value::text("# Spec\n\nv1");
    let notion = Value::text("# Spec\n\nv2 from Notion");
    let airtable = Value::text("# Spec\n\nv2 from Airtable");
    // One side edited: it goes over.
    match merge_field(&input(&notion, &old, Some(&old))) {
        Decision::Write { to, value, .. } => {
            assert_eq!((to, value), (Side::Airtable, notion.clone()))
        }
        other => panic!("{other:?}"),
    }
    // Both edited: the rule decides (here Airtable), as a conflict.
    match merge_field(&input(&notion, &airtable, Some(&old))) {
        Decision::Write { to, value, reason } => {
            assert_eq!((to, &value), (Side::Notion, &airtable));
            assert!(matches!(reason, Reason::Conflict { .. }));
        }
        other => panic!("{other:?}"),
    }
    // Never emptied unless a person emptied it: an empty side at first
    // contact is filled, not copied over the other.
    match merge_field(&input(&Value::Empty, &airtable, None)) {
        Decision::Write { to, value, .. } => {
            assert_eq!((to, value), (Side::Notion, airtable.clone()))
        }
        other => panic!("{other:?}"),
    }
}

mod planned {
    //! The body in a record's plan, built on the plan tests' pair.
    use super::*;
    use crate::store::LinkState;
    use crate::sync::plan::{
        AirtableWrite, NotionWrite, plan_page,
        tests::{NOW, link, page, pair, record},
    };

    fn body_pair() -> crate::sync::pair::ResolvedPair {
        let mut pair = pair();
        let table: TableSchema = serde_json::from_value(json!({
            "id": "tbl1", "name": "T",
            "fields": [{ "id": "fldSpec", "name": "Spec", "type": "richText" }],
        }))
        .unwrap();
        let mapping = BodyMapping {
            airtable: "Spec".into(),
            direction: Direction::Both,
            conflict: ConflictRule::Notion,
        };
        pair.fields.push(resolve(&mapping, &table).unwrap());
        pair
    }

    fn with_body(mut p: Page, markdown: Option<&str>) -> Page {
        if let Some(md) = markdown {
            attach(&mut p, &content(md, false));
        }
        p
    }

    fn spec_row(spec: &str) -> crate::airtable::Record {
        let mut row = record("Ready", "S1");
        row.fields.insert("Spec".into(), json!(spec));
        row
    }

    fn synced_link(spec: &str) -> crate::store::RecordLink {
        let mut link = link("Ready", "S1", LinkState::Active);
        link.snapshot.insert(
            BODY_FIELD.into(),
            serde_json::to_value(Value::text(spec)).unwrap(),
        );
        link
    }

    #[test]
    fn a_page_read_without_its_content_keeps_the_body_and_writes_nothing() {
        // A sweep's query carries no content; the row's text differs.
        let plan = plan_page(
            &body_pair(),
            &with_body(page("Ready", "S1", false), None),
            Some(&spec_row("Edited in Airtable\n")),
            Some(&synced_link("Synced")),
            NOW,
        );
        assert_eq!(plan.writes(), 0, "{plan:?}");
        assert_eq!(
            plan.snapshot.unwrap()[BODY_FIELD],
            serde_json::to_value(Value::text("Synced")).unwrap()
        );
    }

    #[test]
    fn content_edits_are_written_whole_to_the_other_side() {
        let pair = body_pair();
        let notion_edit = plan_page(
            &pair,
            &with_body(page("Ready", "S1", false), Some("# New\n\ntext")),
            Some(&spec_row("Synced\n")),
            Some(&synced_link("Synced")),
            NOW,
        );
        let AirtableWrite::Update { fields, .. } = &notion_edit.airtable else {
            panic!("{notion_edit:?}")
        };
        assert_eq!(fields["Spec"], json!("# New\n\ntext"));
        assert_eq!(notion_edit.notion, NotionWrite::None);

        let airtable_edit = plan_page(
            &pair,
            &with_body(page("Ready", "S1", false), Some("Synced")),
            Some(&spec_row("From Airtable\n")),
            Some(&synced_link("Synced")),
            NOW,
        );
        let NotionWrite::Update { properties, .. } = &airtable_edit.notion else {
            panic!("{airtable_edit:?}")
        };
        assert_eq!(
            properties[BODY_FIELD],
            json!({ NOTION_TYPE: "From Airtable" })
        );
        // Unchanged apart from Airtable's trailing newline: nothing to do.
        let same = plan_page(
            &pair,
            &with_body(page("Ready", "S1", false), Some("Synced")),
            Some(&spec_row("Synced\n")),
            Some(&synced_link("Synced")),
            NOW,
        );
        assert_eq!(same.writes(), 0, "{same:?}");
    }

    #[test]
    fn an_unreadable_body_is_reported_and_keeps_its_snapshot() {
        let mut p = page("Ready", "S1", false);
        attach_unreadable(&mut p, "no capability");
        let plan = plan_page(
            &body_pair(),
            &p,
            Some(&spec_row("Edited\n")),
            Some(&synced_link("Synced")),
            NOW,
        );
        assert_eq!(plan.writes(), 0, "{plan:?}");
        assert_eq!(plan.refused.len(), 1, "{plan:?}");
        assert_eq!(plan.refused[0].field, BODY_FIELD);
        assert_eq!(plan.refused[0].message, "no capability");
    }
}
