//! `serve` end to end: the binary runs against the sandbox servers with
//! webhooks flowing both ways (a Notion subscription verified with the
//! token it sent, an Airtable webhook registered by the service at start).
//! A person's edit in Notion reaches Airtable, one in Airtable reaches
//! Notion, a new page becomes a row, a trashed page archives its row, and
//! once converged the service makes no further writes (echo free).

use std::time::{Duration, Instant};

use notion_airtable_sandbox::{airtable::AirtableSandbox, notion::NotionSandbox};
use notion_airtable_sync::store::Store;
use serde_json::{Value, json};

use crate::common::{
    Backend, TempDir, database_url, mapping::Mapping, sandboxes::Sandboxes, serve::ServeConfig,
    wait::eventually,
};

fn row<'a>(rows: &'a [Value], page_id: &str) -> Option<&'a Value> {
    rows.iter()
        .find(|r| r["fields"]["Notion Page ID"] == json!(page_id))
}

fn writes(notion: &NotionSandbox, airtable: &AirtableSandbox) -> u64 {
    let n = notion.calls().snapshot();
    let a = airtable.calls().snapshot();
    n.iter()
        .chain(&a)
        .filter(|c| {
            c.method != "GET" && !c.route.contains("/query") && !c.route.contains("listRecords")
        })
        .map(|c| c.count)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_edits_flow_both_ways_through_webhooks_without_echoes() {
    edits_flow_both_ways(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_edits_flow_both_ways_through_webhooks_without_echoes() {
    edits_flow_both_ways(Backend::Postgres).await;
}

async fn edits_flow_both_ways(backend: Backend) {
    let dir = TempDir::new();
    let db_url = database_url(backend, &dir.0).await;
    let Sandboxes {
        notion,
        airtable,
        team_n,
        team_a,
    } = Sandboxes::start().await;
    let mut serve = ServeConfig::new(&notion, &airtable, &dir.0, &db_url);
    serve.subscribe_notion(&notion);
    Mapping::example(&team_n.database_id, &team_a.base_id)
        .debounce_ms(0)
        .write_to(&dir.0);
    let base_url = serve.url();
    let _serve = serve.spawn();
    let (base, table) = (&team_a.base_id, &team_a.table_id);
    // The sweep at start creates every row.
    eventually(60, "the initial sync", async || {
        (airtable.records(base, table).len() == 47).then_some(())
    })
    .await;
    let http = reqwest::Client::new();
    let ready = http.get(format!("{base_url}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);

    let ids = &team_n.page_ids;
    let person = team_n.people[0].1.clone();
    // Notion → Airtable.
    let t0 = Instant::now();
    let before =
        row(&airtable.records(base, table), &ids[0]).unwrap()["fields"]["Priority"].clone();
    assert_ne!(before, json!("P3"));
    notion
        .update_page_as_person(
            &ids[0],
            &person,
            json!({ "Priority": { "select": { "name": "P3" } } }),
        )
        .unwrap();
    eventually(20, "the Notion edit in Airtable", async || {
        let rows = airtable.records(base, table);
        (row(&rows, &ids[0])?["fields"]["Priority"] == json!("P3")).then_some(())
    })
    .await;
    eprintln!("Notion → Airtable in {:?}", t0.elapsed());
    // Airtable → Notion.
    let rec = row(&airtable.records(base, table), &ids[1]).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let t0 = Instant::now();
    airtable
        .update_record_as_person(base, table, &rec, json!({ "Sprint": "Sprint 31" }))
        .unwrap();
    eventually(20, "the Airtable edit in Notion", async || {
        let page = notion.page(&ids[1])?;
        (page["properties"]["Sprint"]["rich_text"][0]["plain_text"] == json!("Sprint 31"))
            .then_some(())
    })
    .await;
    eprintln!("Airtable → Notion in {:?}", t0.elapsed());
    // A new page becomes a row; a trashed page archives its row.
    let new_page = notion
        .insert_page_as_person(
            &team_n.data_source_id,
            &person,
            json!({
                "Name": { "title": [{ "text": { "content": "Webhook-born spec" } }] },
            }),
        )
        .unwrap();
    notion
        .set_trashed_as_person(&ids[2], &person, true)
        .unwrap();
    eventually(20, "the new row and the archived row", async || {
        let rows = airtable.records(base, table);
        let born = row(&rows, &new_page)?["fields"]["Spec Name"] == json!("Webhook-born spec");
        let archived = row(&rows, &ids[2])?["fields"]["Status"] == json!("Archived");
        (born && archived).then_some(())
    })
    .await;

    // Echo free: once the queue is empty and the counters stop moving for
    // two seconds (the sandbox delivers our own writes' webhooks meanwhile),
    // nothing more is written.
    let store = Store::connect(&db_url).await.unwrap();
    let mut stable_since: Option<(Instant, u64)> = None;
    let converged = eventually(30, "a quiet, idle service", async || {
        let counts = store.job_counts().await.ok()?;
        let busy = counts.pending + counts.running > 0;
        let now = writes(&notion, &airtable);
        match stable_since {
            Some((since, w)) if w == now && !busy && since.elapsed() >= Duration::from_secs(2) => {
                Some(now)
            }
            Some((_, w)) if w == now && !busy => None,
            _ => {
                stable_since = Some((Instant::now(), now));
                None
            }
        }
    })
    .await;
    assert_eq!(
        writes(&notion, &airtable),
        converged,
        "the service kept writing after converging"
    );
    let dead = store
        .list_jobs(Some(notion_airtable_sync::store::JobState::Dead), 10)
        .await
        .unwrap();
    assert!(dead.is_empty(), "dead jobs: {dead:?}");
}
