//! A Notion `status`'s group ("To-do", "In progress", "Complete") as a
//! value of its own (`value = "group"`), end to end against both sandboxes
//! over HTTP, on SQLite and Postgres: every row's Stage shows the group of
//! its page's status beside the status itself; a status moved in Notion
//! moves the group with it in one reconcile; a person's edit of the group in
//! Airtable is overwritten from Notion (the field goes one way), logged;
//! one more sweep writes nothing.

use crate::common;

use common::{
    TestDb,
    world::{Extra, World, world_extended_with_status},
};
use notion_airtable_sandbox::team::STATUS_GROUPS;
use notion_airtable_sync::store::Cause;
use serde_json::{Value, json};

const ANCHOR: &str = "# Operational data:";

const GROUP: &str = "[[pair.field]]
notion = \"Status\"
value = \"group\"
airtable = \"Stage\"

# Operational data:";

async fn group_world(db: TestDb) -> World {
    let extra = Extra {
        airtable_fields: vec![json!({
            "name": "Stage",
            "type": "singleSelect",
            "options": { "choices": [] },
        })],
        ..Extra::default()
    };
    world_extended_with_status(db, &[(ANCHOR, GROUP)], extra).await
}

fn group_of(status: &str) -> &'static str {
    STATUS_GROUPS
        .iter()
        .find(|(_, options)| options.contains(&status))
        .map(|(group, _)| *group)
        .unwrap()
}

fn cell(w: &World, page: &str, field: &str) -> Value {
    w.row_for(page)["fields"][field].clone()
}

async fn each_row_shows_its_status_group_and_follows_a_move(db: TestDb) {
    let w = group_world(db).await;
    let created = w.sweep(true).await;
    assert_eq!(created.created_in_airtable, 47, "{created:?}");
    for page in &w.team_n.page_ids {
        let status = cell(&w, page, "Status");
        let status = status.as_str().unwrap();
        assert_eq!(cell(&w, page, "Stage"), json!(group_of(status)), "{page}");
    }

    // The PM moves a draft to review: the status and its group both move.
    let page = w
        .team_n
        .page_ids
        .iter()
        .find(|p| cell(&w, p, "Status") == json!("Draft"))
        .unwrap()
        .clone();
    let person = w.person();
    w.notion
        .update_page_as_person(
            &page,
            &person,
            json!({ "Status": { "status": { "name": "In Review" } } }),
        )
        .unwrap();
    w.notion.calls().reset();
    w.airtable.calls().reset();
    let summary = w
        .engine
        .reconcile_page(&w.pair, &page, Cause::Webhook)
        .await
        .unwrap();
    assert_eq!(summary.updated_airtable, 1, "{summary:?}");
    assert_eq!(cell(&w, &page, "Status"), json!("In Review"));
    assert_eq!(cell(&w, &page, "Stage"), json!("In progress"));
    let calls = |log: &notion_airtable_sandbox::common::CallLog| {
        log.snapshot().iter().map(|c| c.count).sum::<u64>()
    };
    // One page read; one row read and one write (status and group together).
    assert_eq!((calls(w.notion.calls()), calls(w.airtable.calls())), (1, 2));

    // Someone types another group in Airtable: the field goes one way, so
    // Notion's group stands, and the log says the service wrote it.
    let row = w.row_for(&page)["id"].as_str().unwrap().to_owned();
    w.airtable
        .update_record_as_person(
            &w.team_a.base_id,
            &w.team_a.table_id,
            &row,
            json!({ "Stage": "Complete" }),
        )
        .unwrap();
    w.engine
        .reconcile_page(&w.pair, &page, Cause::Webhook)
        .await
        .unwrap();
    assert_eq!(cell(&w, &page, "Stage"), json!("In progress"));
    assert_eq!(
        w.page(&page)["properties"]["Status"]["status"]["name"],
        "In Review"
    );

    let again = w.sweep(true).await;
    assert_eq!(
        (again.updated_airtable, again.updated_notion),
        (0, 0),
        "{again:?}"
    );
}

both_backends! {
    each_row_shows_its_status_group_and_follows_a_move,
}
