use serde_json::json;

use super::*;
use crate::sync::convert::{Kind, from_airtable, from_notion};

fn notion_file(name: &str, size: u64, url: &str) -> Json {
    json!({"name": name, "type": "file", "file": {"url": url, "expiry_time": "2026-01-01T01:00:00.000Z"}, SIZE_KEY: size})
}

fn attachment(id: &str, name: &str, size: u64) -> Json {
    json!({"id": id, "url": format!("https://dl.example/{id}"), "filename": name, "size": size, "type": "image/png"})
}

#[test]
fn kind_only_for_attachments() {
    assert_eq!(
        Kind::for_types("files", "multipleAttachments"),
        Ok(Kind::Files)
    );
    let why = Kind::for_types("files", "singleLineText").unwrap_err();
    assert!(why.contains("`multipleAttachments`"), "{why}");
    let why = Kind::for_types("rich_text", "multipleAttachments").unwrap_err();
    assert!(why.contains("Notion `files`"), "{why}");
}

#[test]
fn both_sides_read_as_the_same_files_whatever_the_order_and_urls() {
    let notion = json!({"id": "f", "type": "files", "files": [
        notion_file("b.pdf", 20, "https://n/1?sig=1"),
        notion_file("a.png", 10, "https://n/2?sig=2"),
    ]});
    let airtable = json!([
        attachment("att1", "a.png", 10),
        attachment("att2", "b.pdf", 20)
    ]);
    let n = from_notion(&notion, Kind::Files).unwrap();
    let a = from_airtable(Some(&airtable), Kind::Files).unwrap();
    assert_eq!(n, a);
    assert_eq!(
        n,
        Value::Files(vec![FileRef::new("a.png", 10), FileRef::new("b.pdf", 20)])
    );
    // An empty list and an absent cell are both no value.
    assert_eq!(from_airtable(None, Kind::Files).unwrap(), Value::Empty);
    let empty = json!({"type": "files", "files": []});
    assert_eq!(from_notion(&empty, Kind::Files).unwrap(), Value::Empty);
}

#[test]
fn same_name_different_size_is_another_file_and_copies_stay_two() {
    let one = read_airtable(&json!([attachment("x", "a.png", 10)]));
    let other = read_airtable(&json!([attachment("x", "a.png", 11)]));
    assert_ne!(one, other);
    let two = read_airtable(&json!([
        attachment("x", "a.png", 10),
        attachment("y", "a.png", 10)
    ]));
    assert_eq!(two.display(), "a.png (10 bytes), a.png (10 bytes)");
}

#[test]
fn a_notion_file_without_size_or_an_external_link_is_refused_whole() {
    let unknown = json!([{"name": "a.png", "type": "file", "file": {"url": "u"}, SIZE_ERROR_KEY: "HTTP 404"}]);
    let e = read_notion(&unknown).unwrap_err().to_string();
    assert!(e.contains("a.png") && e.contains("HTTP 404"), "{e}");
    let external = json!([
        notion_file("a.png", 10, "u"),
        {"name": "site", "type": "external", "external": {"url": "https://example.com"}}
    ]);
    let e = read_notion(&external).unwrap_err().to_string();
    assert!(e.contains("external link"), "{e}");
}

#[test]
fn airtable_write_keeps_ids_and_copies_only_new_files() {
    let target = Value::files([FileRef::new("a.png", 10), FileRef::new("new.pdf", 5)]);
    let current = json!([
        attachment("att1", "a.png", 10),
        attachment("att9", "gone.txt", 1)
    ]);
    let notion = json!([
        notion_file("a.png", 10, "https://n/a"),
        notion_file("new.pdf", 5, "https://n/new")
    ]);
    let cell = airtable_cell(&target, Some(&current), Some(&notion)).unwrap();
    assert_eq!(
        cell,
        json!([{"id": "att1"}, {"url": "https://n/new", "filename": "new.pdf"}])
    );
    // Clearing writes an empty list.
    assert_eq!(
        airtable_cell(&Value::Empty, Some(&current), None).unwrap(),
        json!([])
    );
}

#[test]
fn notion_write_passes_kept_files_back_and_marks_uploads() {
    let target = Value::files([FileRef::new("a.png", 10), FileRef::new("mock.png", 7)]);
    let current = json!([notion_file("a.png", 10, "https://n/a")]);
    let airtable = json!([
        attachment("att1", "a.png", 10),
        attachment("att2", "mock.png", 7)
    ]);
    let body = notion_body(&target, Some(&current), Some(&airtable)).unwrap();
    assert_eq!(
        body,
        json!({"files": [
            {"name": "a.png", "type": "file", "file": {"url": "https://n/a"}},
            {"name": "mock.png", "type": "file_upload", "file_upload": {"id": null},
             PENDING_KEY: {"url": "https://dl.example/att2", "size": 7, "content_type": "image/png"}},
        ]})
    );
}

#[test]
fn a_file_over_20_mb_is_uploaded_one_found_nowhere_refuses_the_whole_list() {
    // Over the single-part limit: still an upload (the engine sends it in
    // parts, and checks the workspace's limit).
    let big = NOTION_SINGLE_PART_LIMIT + 1;
    let target = Value::files([FileRef::new("small.png", 1), FileRef::new("huge.mov", big)]);
    let airtable = json!([
        attachment("s", "small.png", 1),
        attachment("h", "huge.mov", big)
    ]);
    let body = notion_body(&target, None, Some(&airtable)).unwrap();
    let huge = body["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "huge.mov")
        .unwrap();
    assert_eq!(huge[PENDING_KEY]["size"], json!(big));
    let target = Value::files([FileRef::new("ghost.png", 3)]);
    assert!(airtable_cell(&target, None, None).is_err());
    assert!(notion_body(&target, None, None).is_err());
}
