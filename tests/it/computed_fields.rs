//! Computed fields one way, end to end against both sandboxes over HTTP, on
//! SQLite and Postgres: a Notion `unique_id` and `created_by` mirrored into
//! Airtable text fields, and an Airtable `autoNumber`, `createdTime` and
//! `formula` into a Notion number, date and text. A person's edit of a
//! mirror is put back (the computed side owns the value), a formula follows
//! its inputs, and one more sweep writes nothing.

mod links;

use crate::common;

use common::{
    TestDb,
    world::{Extra, World, text_of, world_extended},
};
use notion_airtable_sandbox::common::CallLog;
use serde_json::{Value, json};

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

[[pair.field]]
notion = "Row"
airtable = "Row"
direction = "airtable_to_notion"

[[pair.field]]
notion = "Row Created"
airtable = "Created"
direction = "airtable_to_notion"

[[pair.field]]
notion = "Shout"
airtable = "Shout"
direction = "airtable_to_notion"

# Operational data:"#;

fn extra() -> Extra {
    Extra {
        notion_properties: json!({
            "Key": { "unique_id": { "prefix": "SPEC" } },
            "Author": { "created_by": {} },
            "Row": { "number": { "format": "number" } },
            "Row Created": { "date": {} },
            "Shout": { "rich_text": {} },
        }),
        airtable_fields: vec![
            json!({ "name": "Spec Key", "type": "singleLineText" }),
            json!({ "name": "Author", "type": "singleLineText" }),
            json!({ "name": "Row", "type": "autoNumber" }),
            json!({ "name": "Created", "type": "createdTime" }),
            json!({ "name": "Shout", "type": "formula",
                    "options": { "formula": "UPPER({Spec Name})" } }),
        ],
        ..Extra::default()
    }
}

fn instant(v: &Value) -> time::OffsetDateTime {
    let s = v.as_str().unwrap();
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).unwrap()
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

async fn computed_fields_mirror_one_way_in_both_directions(db: TestDb) {
    let w = world_extended(db, &[(ANCHOR, FIELDS)], extra()).await;
    let (base, table) = (w.team_a.base_id.clone(), w.team_a.table_id.clone());
    // The first sweep creates the rows; Airtable computes their values, which
    // the next sweep brings to Notion.
    for _ in 0..2 {
        let summary = w.sweep(true).await;
        assert!(summary.problems.is_empty(), "{:?}", summary.problems);
    }
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
    for page in &w.team_n.page_ids {
        let row = w.row_for(page);
        let p = &w.page(page)["properties"];
        assert_eq!(p["Row"]["number"].as_f64(), row["fields"]["Row"].as_f64());
        assert_eq!(
            instant(&p["Row Created"]["date"]["start"]),
            instant(&row["createdTime"])
        );
        let name = row["fields"]["Spec Name"].as_str().unwrap();
        assert_eq!(text_of(&p["Shout"]), name.to_uppercase());
    }

    // A formula follows its inputs: the title flows to Airtable, the
    // formula's new result back to Notion on the next read.
    let person = w.person();
    let page = w.team_n.page_ids[1].clone();
    let title = json!({ "title": [{ "type": "text", "text": { "content": "Renamed spec" } }] });
    w.notion
        .update_page_as_person(&page, &person, json!({ "Name": title }))
        .unwrap();
    w.sweep(true).await;
    w.sweep(true).await;
    assert_eq!(
        text_of(&w.page(&page)["properties"]["Shout"]),
        "RENAMED SPEC"
    );

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
    computed_fields_mirror_one_way_in_both_directions,
}
