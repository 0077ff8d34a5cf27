//! `sync.toml` parsing and validation: the shipped example parses into the
//! team's schema, and every kind of mistake gets an error naming the file,
//! the pair and the field.

use std::path::Path;

use notion_airtable_sync::config::{
    AirtableDeleteAction, ConflictRule, Direction, NotionTrashAction, SyncConfig,
};

use crate::common::mapping::EXAMPLE;

const MINIMAL: &str = r#"
[[pair]]
name = "specs"
[pair.notion]
database_id = "db1"
[pair.airtable]
base_id = "app123"
table = "Delivery Tracker"
page_id_field = "Notion Page ID"
[[pair.field]]
notion = "Name"
airtable = "Spec Name"
"#;

fn parse_err(text: &str) -> String {
    SyncConfig::parse(text).expect_err("should be rejected")
}

#[test]
fn the_example_reproduces_the_team_schema() {
    let cfg = SyncConfig::load(Path::new(EXAMPLE)).unwrap();
    let pair = cfg.pair("specs").unwrap();
    assert_eq!(pair.airtable_table, "Delivery Tracker");
    assert_eq!(pair.airtable_page_id_field, "Notion Page ID");
    assert_eq!(
        pair.airtable_last_synced_field.as_deref(),
        Some("Last Synced")
    );
    assert_eq!(
        pair.airtable_notion_url_field.as_deref(),
        Some("Notion URL")
    );
    assert_eq!(
        pair.notion_record_id_property.as_deref(),
        Some("Airtable Record ID")
    );
    let names: Vec<_> = pair.fields.iter().map(|f| f.notion.as_str()).collect();
    assert_eq!(
        names,
        [
            "Name",
            "Status",
            "Priority",
            "Owner",
            "Target Quarter",
            "Sprint",
            "Ship Date",
            "Blockers"
        ]
    );
    let sprint = pair.fields.iter().find(|f| f.notion == "Sprint").unwrap();
    assert_eq!(sprint.direction, Direction::AirtableToNotion);
    assert_eq!(sprint.conflict, ConflictRule::Airtable);
    let status = pair.fields.iter().find(|f| f.notion == "Status").unwrap();
    assert_eq!(
        (status.direction, status.conflict),
        (Direction::Both, ConflictRule::Notion)
    );
    match &pair.options.on_notion_trash {
        NotionTrashAction::Set(set) => assert_eq!(set["Status"], "Archived"),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        pair.options.on_airtable_delete,
        AirtableDeleteAction::Ignore
    );
    assert_eq!(pair.options.debounce_ms, 2000);
    assert!(!pair.options.create_notion_pages);
    assert_eq!(cfg.log_retention_days, 90);
}

#[test]
fn log_retention_defaults_and_must_be_positive() {
    assert_eq!(SyncConfig::parse(MINIMAL).unwrap().log_retention_days, 90);
    let text = format!("[sync_log]\nretention_days = 7\n{MINIMAL}");
    assert_eq!(SyncConfig::parse(&text).unwrap().log_retention_days, 7);
    let text = format!("[sync_log]\nretention_days = 0\n{MINIMAL}");
    assert!(parse_err(&text).contains("retention_days"));
}

#[test]
fn defaults_apply_when_options_are_omitted() {
    let cfg = SyncConfig::parse(MINIMAL).unwrap();
    let pair = &cfg.pairs[0];
    assert_eq!(pair.fields[0].direction, Direction::Both);
    assert_eq!(pair.fields[0].conflict, ConflictRule::Notion);
    assert_eq!(
        pair.options.on_airtable_delete,
        AirtableDeleteAction::Ignore
    );
    assert!(matches!(
        pair.options.on_notion_trash,
        NotionTrashAction::Set(_)
    ));
}

#[test]
fn unknown_direction_names_pair_field_and_choices() {
    let text = MINIMAL.replace(
        "airtable = \"Spec Name\"",
        "airtable = \"Spec Name\"\ndirection = \"sideways\"",
    );
    let err = parse_err(&text);
    for needle in ["pair \"specs\"", "Name", "sideways", "notion_to_airtable"] {
        assert!(err.contains(needle), "missing {needle:?} in: {err}");
    }
}

#[test]
fn unknown_conflict_rule_is_rejected() {
    let text = MINIMAL.replace(
        "airtable = \"Spec Name\"",
        "airtable = \"Spec Name\"\nconflict = \"newest\"",
    );
    assert!(parse_err(&text).contains("unknown conflict rule \"newest\""));
}

#[test]
fn missing_table_is_reported() {
    let text = MINIMAL.replace("table = \"Delivery Tracker\"\n", "");
    let err = parse_err(&text);
    assert!(err.contains("table"), "{err}");
}

#[test]
fn empty_table_is_reported_with_the_pair() {
    let text = MINIMAL.replace("table = \"Delivery Tracker\"", "table = \"  \"");
    let err = parse_err(&text);
    assert!(
        err.contains("pair \"specs\"") && err.contains("table is missing"),
        "{err}"
    );
}

#[test]
fn duplicate_fields_are_rejected() {
    let dup_notion =
        format!("{MINIMAL}\n[[pair.field]]\nnotion = \"Name\"\nairtable = \"Other\"\n");
    assert!(parse_err(&dup_notion).contains("Notion property \"Name\" is mapped twice"));
    let dup_airtable =
        format!("{MINIMAL}\n[[pair.field]]\nnotion = \"Title\"\nairtable = \"Spec Name\"\n");
    assert!(parse_err(&dup_airtable).contains("Airtable field \"Spec Name\" is mapped twice"));
}

#[test]
fn the_link_field_cannot_be_mapped() {
    let text =
        format!("{MINIMAL}\n[[pair.field]]\nnotion = \"Id\"\nairtable = \"Notion Page ID\"\n");
    assert!(parse_err(&text).contains("written by the service itself"));
}

#[test]
fn duplicate_pairs_and_bad_names_are_rejected() {
    assert!(parse_err(&format!("{MINIMAL}{MINIMAL}")).contains("defined twice"));
    assert!(
        parse_err(&MINIMAL.replace("name = \"specs\"", "name = \"My Specs\"")).contains("name")
    );
}

#[test]
fn unknown_keys_and_bad_actions_are_rejected() {
    let typo = MINIMAL.replace("page_id_field", "page_id_feild");
    assert!(parse_err(&typo).contains("page_id_feild"));
    let text = MINIMAL.replace(
        "[[pair.field]]",
        "[pair.options]\non_airtable_delete = \"explode\"\n[[pair.field]]",
    );
    assert!(parse_err(&text).contains("on_airtable_delete: unknown action \"explode\""));
    let text = MINIMAL.replace(
        "[[pair.field]]",
        "[pair.options]\non_notion_trash = \"archive\"\n[[pair.field]]",
    );
    assert!(parse_err(&text).contains("on_notion_trash: unknown action \"archive\""));
}

#[test]
fn bad_base_id_and_no_pairs_are_rejected() {
    assert!(parse_err(&MINIMAL.replace("app123", "base123")).contains("not an Airtable base id"));
    assert!(parse_err("").contains("no [[pair]]"));
    assert!(
        parse_err(&MINIMAL.replace(
            "[[pair.field]]\nnotion = \"Name\"\nairtable = \"Spec Name\"\n",
            ""
        ))
        .contains("no [[pair.field]]")
    );
}

#[test]
fn load_names_the_file() {
    let err = SyncConfig::load(Path::new("does/not/exist.toml"))
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("does/not/exist.toml:"), "{err}");
    let dir = std::env::temp_dir().join(format!("nas-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.toml");
    std::fs::write(&path, "[[pair]]\nname = 3\n").unwrap();
    let err = SyncConfig::load(&path).unwrap_err().to_string();
    assert!(err.contains("bad.toml") && err.contains("line"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn creating_notion_pages_needs_the_record_id_property() {
    let text = MINIMAL.replace(
        "[[pair.field]]",
        "[pair.options]\ncreate_notion_pages = true\n[[pair.field]]",
    );
    assert!(parse_err(&text).contains("record_id_property"));
    let text = text.replace(
        "database_id = \"db1\"",
        "database_id = \"db1\"\nrecord_id_property = \"Airtable Record ID\"",
    );
    assert!(
        SyncConfig::parse(&text).unwrap().pairs[0]
            .options
            .create_notion_pages
    );
}

#[test]
fn the_page_body_maps_to_one_long_text_with_a_direction_and_a_rule() {
    let body = "\n[pair.body]\nairtable = \"Spec\"\ndirection = \"airtable_to_notion\"\nconflict = \"airtable\"\n";
    let cfg = SyncConfig::parse(&format!("{MINIMAL}{body}")).unwrap();
    let mapped = cfg.pairs[0].body.clone().unwrap();
    assert_eq!(
        (mapped.airtable.as_str(), mapped.direction, mapped.conflict),
        ("Spec", Direction::AirtableToNotion, ConflictRule::Airtable)
    );
    // Defaults as for fields; absent means no body sync.
    let cfg = SyncConfig::parse(&format!("{MINIMAL}\n[pair.body]\nairtable = \"Spec\"\n")).unwrap();
    let mapped = cfg.pairs[0].body.clone().unwrap();
    assert_eq!(
        (mapped.direction, mapped.conflict),
        (Direction::Both, ConflictRule::Notion)
    );
    assert!(SyncConfig::parse(MINIMAL).unwrap().pairs[0].body.is_none());
}

#[test]
fn a_bad_page_body_mapping_is_refused_with_the_reason() {
    let cases = [
        (
            "airtable = \"Spec\"\ndirection = \"up\"",
            "unknown direction \"up\"",
        ),
        (
            "airtable = \"Spec\"\nconflict = \"newest\"",
            "unknown conflict rule \"newest\"",
        ),
        (
            "airtable = \"Spec Name\"",
            "also mapped as a [[pair.field]]",
        ),
        (
            "airtable = \"Notion Page ID\"",
            "written by the service itself",
        ),
        ("airtable = \"\"", "required"),
    ];
    for (body, needle) in cases {
        let err = parse_err(&format!("{MINIMAL}\n[pair.body]\n{body}\n"));
        assert!(
            err.contains(needle) && err.contains("pair \"specs\""),
            "{body}: missing {needle:?} in: {err}"
        );
    }
    // The body is the page's content: it names no Notion property.
    let err = parse_err(&format!(
        "{MINIMAL}\n[pair.body]\nnotion = \"Body\"\nairtable = \"Spec\"\n"
    ));
    assert!(
        err.contains("unknown field `notion`") && err.contains("`airtable`"),
        "{err}"
    );
}
