//! Found by the scenario: with `[pair.body]` mapped, a page's record job
//! read the page and its content but neither sized the page's files nor
//! read its long relations whole (as a query's pages are). A file attached
//! in Notion then never reached Airtable ("Notion gave no size"), and a
//! relation of more than 25 references looked cut to 25 next to its
//! snapshot, so an unrelated Airtable edit removed the other links.

use serde_json::json;

use super::agree::{airtable_files, file, records_of};
use super::script::Scenario;
use crate::common::TestDb;

async fn with_a_body_a_page_job_sizes_files_and_reads_long_relations_whole(db: TestDb) {
    let titles: Vec<String> = (1..=30).map(|i| format!("Epic {i}")).collect();
    let mut s = Box::pin(Scenario::start_with(db, &titles)).await;
    let spec = s.w.team_n.page_ids[0].clone();
    let (base, table) = (s.w.team_a.base_id.clone(), s.w.team_a.table_id.clone());
    let person = s.w.person();
    let epics = s.w.epic_pages();
    assert_eq!(epics.len(), 30);

    // In Notion: a file attached and 30 epics related (past a page read's 25).
    let bytes: Vec<u8> = (0..1500u32).map(|i| (i % 251) as u8).collect();
    let upload =
        s.w.notion
            .upload_file_as_person("flow.pdf", "application/pdf", bytes.clone());
    let files = json!({ "files": [{ "name": "flow.pdf", "type": "file_upload", "file_upload": { "id": upload } }] });
    s.w.notion
        .update_page_as_person(&spec, &person, json!({ "Mockup": files }))
        .unwrap();
    s.w.relate_in_notion(&spec, &epics);
    s.notion_event("specs", &spec).await;
    s.settle("a file and 30 epics in Notion").await;
    let row_id = s.w.record_of("specs", &spec).await;
    let row = s.w.airtable.record(&base, &table, &row_id).unwrap();
    assert_eq!(airtable_files(&row).await, [file("flow.pdf", &bytes)]);
    let all = records_of(&s, "epics", epics.clone()).await;
    assert_eq!(s.w.airtable_links(&row_id), all);

    // In Airtable: an unrelated edit. The page job reads the relation whole:
    // no link is removed on either side.
    let cell = json!({ "Sprint": "Sprint 20" });
    s.w.airtable
        .update_record_as_person(&base, &table, &row_id, cell)
        .unwrap();
    s.airtable_ping("specs").await;
    let f = s.settle("an unrelated edit in Airtable").await.clone();
    assert_eq!(f.airtable_writes, 0, "{f:?}");
    assert_eq!(s.w.airtable_links(&row_id), all);
    let mut notion = epics.clone();
    notion.sort();
    assert_eq!(s.w.notion_links(&spec).await, notion);
    let issues = s.w.db.store.open_issues(None).await.unwrap();
    assert!(issues.is_empty(), "{issues:#?}");
}

both_backends! {
    with_a_body_a_page_job_sizes_files_and_reads_long_relations_whole,
}
