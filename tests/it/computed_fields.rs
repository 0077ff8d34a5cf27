//! Computed fields one way, end to end against both sandboxes over HTTP, on
//! SQLite and Postgres: a Notion `unique_id` and `created_by` mirrored into
//! Airtable text fields. A person's edit of the mirror is put back (the
//! computed side owns the value), and one more sweep writes nothing.

use crate::common;

use common::{
    TestDb,
    world::{Extra, World, world_extended},
};
use notion_airtable_sandbox::common::CallLog;
use serde_json::json;

/// The example's section after its two-way fields; the new fields go before it.
const ANCHOR: &str = "# Operational data:";

const FIELDS: &str = r#"[[pair.field]]
notion = "Key"
airtable = "Spec Key"
direction = "notion_to_airtable"

[[pair.field]]
notion = "Author"
airtable = "Author"
direction = "notion_to_airtable"

# Operational data:"#;

fn extra() -> Extra {
    Extra {
        notion_properties: json!({
            "Key": { "unique_id": { "prefix": "SPEC" } },
            "Author": { "created_by": {} },
        }),
        airtable_fields: vec![
            json!({ "name": "Spec Key", "type": "singleLineText" }),
            json!({ "name": "Author", "type": "singleLineText" }),
        ],
    }
}

fn writes(calls: &CallLog) -> u64 {
    calls
        .snapshot()
        .iter()
        .filter(|c| {
            c.method != "GET" && !c.route.contains("query") && !c.route.contains("listRecords")
        })
        .map(|c| c.count)
        .sum()
}

/// What the page shows: `SPEC-12` and its creator's name.
fn computed_on_page(w: &World, page: &str) -> (String, String) {
    let p = &w.page(page)["properties"];
    let id = &p["Key"]["unique_id"];
    let key = format!("{}-{}", id["prefix"].as_str().unwrap(), id["number"]);
    let author = p["Author"]["created_by"]["name"]
        .as_str()
        .unwrap()
        .to_owned();
    (key, author)
}

async fn notion_computed_properties_mirror_one_way_into_airtable_text(db: TestDb) {
    let w = world_extended(db, &[(ANCHOR, FIELDS)], extra()).await;
    let (base, table) = (w.team_a.base_id.clone(), w.team_a.table_id.clone());
    let summary = w.sweep(true).await;
    assert!(summary.problems.is_empty(), "{:?}", summary.problems);
    let mut keys = Vec::new();
    for page in &w.team_n.page_ids {
        let (key, author) = computed_on_page(&w, page);
        let f = &w.row_for(page)["fields"];
        assert_eq!(
            (&f["Spec Key"], &f["Author"]),
            (&json!(key), &json!(author))
        );
        keys.push(key);
    }
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), w.team_n.page_ids.len(), "one id per page");

    // The mirror is Notion's: a person's edit in Airtable is put back.
    let page = w.team_n.page_ids[0].clone();
    let row = w.row_for(&page)["id"].as_str().unwrap().to_owned();
    w.airtable
        .update_record_as_person(&base, &table, &row, json!({ "Spec Key": "typed over" }))
        .unwrap();
    w.sweep(true).await;
    let (key, _) = computed_on_page(&w, &page);
    assert_eq!(w.row_for(&page)["fields"]["Spec Key"], json!(key));

    // Converged: one more sweep writes nothing on either side.
    w.notion.calls().reset();
    w.airtable.calls().reset();
    let again = w.sweep(true).await;
    assert_eq!(
        (again.updated_airtable, again.updated_notion),
        (0, 0),
        "{again:?}"
    );
    let calls: [(&str, &CallLog); 2] = [
        ("notion", w.notion.calls()),
        ("airtable", w.airtable.calls()),
    ];
    for (side, log) in calls {
        assert_eq!(writes(log), 0, "{side}: {:?}", log.snapshot());
    }
}

both_backends! {
    notion_computed_properties_mirror_one_way_into_airtable_text,
}
