//! A file over 20 MiB attached in Airtable reaches Notion end to end, on
//! SQLite and Postgres: refused with the reason while the workspace's limit
//! is lower (no upload is started), then, once the workspace allows larger
//! files (a paid plan), sent in parts through the multi-part File Upload
//! API, exactly once: more sweeps upload nothing and write nothing.

use crate::common;

use common::{
    TestDb,
    world::{Extra, World, world_extended},
};
use notion_airtable_sync::store::IssueScope;
use serde_json::json;

const ANCHOR: &str = "# Operational data:";

const FIELDS: &str = r#"[[pair.field]]
notion = "Mockup"
airtable = "Mockup"
direction = "both"
conflict = "latest"

# Operational data:"#;

const MIB: u64 = 1024 * 1024;

/// 25 MiB and a few bytes: two parts of 10 MiB and a last, smaller one.
const SIZE: usize = 25 * MIB as usize + 123;

fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// `(route, count)` of the Notion file-upload calls since the last reset.
fn upload_calls(w: &World) -> Vec<(String, u64)> {
    let mut calls: Vec<(String, u64)> = w
        .notion
        .calls()
        .snapshot()
        .into_iter()
        .filter(|c| c.route.contains("file_uploads"))
        .map(|c| (c.route, c.count))
        .collect();
    calls.sort();
    calls
}

async fn a_file_over_20_mib_reaches_notion_once_in_parts(db: TestDb) {
    let extra = Extra {
        notion_properties: json!({ "Mockup": { "files": {} } }),
        airtable_fields: vec![json!({ "name": "Mockup", "type": "multipleAttachments" })],
        ..Extra::default()
    };
    let w = world_extended(db, &[(ANCHOR, FIELDS)], extra).await;
    w.notion.set_max_upload_bytes(20 * MIB);
    w.sweep(true).await;
    let a = w.team_n.page_ids[0].clone();
    let movie = pattern(SIZE, 5);
    let att =
        w.airtable
            .upload_attachment_as_person("walkthrough.mov", "video/quicktime", movie.clone());
    let row = w.row_for(&a)["id"].as_str().unwrap().to_owned();
    let (base, table) = (&w.team_a.base_id, &w.team_a.table_id);
    w.airtable
        .update_record_as_person(base, table, &row, json!({ "Mockup": [{ "id": att }] }))
        .unwrap();

    // A workspace taking 20 MiB a file: refused before any upload, reported.
    w.notion.calls().reset();
    w.sweep(true).await;
    assert_eq!(upload_calls(&w), [], "nothing uploaded");
    let issues = w.engine.store.open_issues(Some("specs")).await.unwrap();
    let ours: Vec<_> = issues
        .iter()
        .filter(|i| i.scope == IssueScope::Record && i.subject == a && i.field == "Mockup")
        .collect();
    assert_eq!(ours.len(), 1, "{issues:#?}");
    assert!(
        ours[0].message.contains("walkthrough.mov")
            && ours[0]
                .message
                .contains(&format!("at most {} bytes", 20 * MIB)),
        "{issues:#?}"
    );

    // A paid plan's limit: the file goes in three parts, then is completed.
    w.notion.set_max_upload_bytes(5 * 1024 * MIB);
    w.notion.calls().reset();
    let summary = w.sweep(true).await;
    assert!(summary.problems.is_empty(), "{:?}", summary.problems);
    assert_eq!(
        upload_calls(&w),
        [
            ("/v1/file_uploads".to_owned(), 1),
            ("/v1/file_uploads/{id}/complete".to_owned(), 1),
            ("/v1/file_uploads/{id}/send".to_owned(), 3),
        ]
    );
    let files = w.page(&a)["properties"]["Mockup"]["files"].clone();
    assert_eq!(files.as_array().unwrap().len(), 1, "{files}");
    assert_eq!(files[0]["name"], "walkthrough.mov");
    let url = files[0]["file"]["url"].as_str().unwrap();
    let bytes = reqwest::get(url).await.unwrap().bytes().await.unwrap();
    assert_eq!(bytes.len(), SIZE);
    assert!(
        bytes.as_ref() == movie.as_slice(),
        "the bytes crossed whole"
    );
    let issues = w.engine.store.open_issues(Some("specs")).await.unwrap();
    assert!(issues.iter().all(|i| i.subject != a), "{issues:#?}");

    // Identity by name and size: nothing is uploaded or written again.
    w.notion.calls().reset();
    for _ in 0..2 {
        let again = w.sweep(true).await;
        assert_eq!(
            (again.updated_airtable, again.updated_notion),
            (0, 0),
            "{again:?}"
        );
    }
    assert_eq!(upload_calls(&w), [], "no duplicate upload");
    let attachments = w.row_for(&a)["fields"]["Mockup"].clone();
    assert_eq!(attachments.as_array().unwrap().len(), 1, "{attachments}");
    assert_eq!(
        w.page(&a)["properties"]["Mockup"]["files"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

both_backends! {
    a_file_over_20_mib_reaches_notion_once_in_parts,
}
