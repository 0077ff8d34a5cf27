//! `[pair.body]` through the `serve` binary, with webhooks flowing both ways:
//! a person's content edit in Notion (`page.content_updated`) reaches the
//! Airtable long text, an edit of the long text (the row's webhook) reaches
//! the page's content, and once converged the service writes nothing more.

use std::time::{Duration, Instant};

use notion_airtable_sandbox::{
    airtable::{AirtableSandbox, FieldSchema, FieldType},
    notion::NotionSandbox,
};
use notion_airtable_sync::store::Store;
use serde_json::{Value, json};

use super::{ANCHOR, body_mapping};
use crate::common::{
    Backend, TempDir, database_url, mapping::Mapping, sandboxes::Sandboxes, serve::ServeConfig,
    wait::eventually,
};

fn spec_of(airtable: &AirtableSandbox, base: &str, table: &str, page: &str) -> Option<Value> {
    airtable
        .records(base, table)
        .into_iter()
        .find(|r| r["fields"]["Notion Page ID"] == json!(page))
        .map(|r| r["fields"]["Spec"].clone())
}

fn writes(notion: &NotionSandbox, airtable: &AirtableSandbox) -> u64 {
    let (n, a) = (notion.calls().snapshot(), airtable.calls().snapshot());
    n.iter()
        .chain(&a)
        .filter(|c| {
            c.method != "GET" && !c.route.contains("/query") && !c.route.contains("listRecords")
        })
        .map(|c| c.count)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_content_edits_flow_through_webhooks_without_echoes() {
    content_edits_flow(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_content_edits_flow_through_webhooks_without_echoes() {
    content_edits_flow(Backend::Postgres).await;
}

async fn content_edits_flow(backend: Backend) {
    let dir = TempDir::new();
    let db_url = database_url(backend, &dir.0).await;
    let Sandboxes {
        notion,
        airtable,
        team_n,
        team_a,
    } = Sandboxes::start().await;
    let (base, table) = (team_a.base_id.clone(), team_a.table_id.clone());
    airtable
        .create_field_as_person(&base, &table, FieldSchema::new("Spec", FieldType::RichText))
        .unwrap();
    let mut serve = ServeConfig::new(&notion, &airtable, &dir.0, &db_url);
    serve.subscribe_notion(&notion);
    let mapping = body_mapping("notion");
    Mapping::example(&team_n.database_id, &base)
        .debounce_ms(0)
        .edit(ANCHOR, &mapping)
        .write_to(&dir.0);
    let _serve = serve.spawn();
    eventually(60, "the initial sync", async || {
        (airtable.records(&base, &table).len() == 47).then_some(())
    })
    .await;

    let ids = &team_n.page_ids;
    let person = team_n.people[0].1.clone();
    // Notion → Airtable: a content edit sends page.content_updated.
    let t0 = Instant::now();
    let text = "# Checkout v2\n\nThe **new** flow.\n\n- cart\n- pay";
    notion
        .set_content_as_person(&ids[0], &person, text)
        .unwrap();
    eventually(20, "the content in Airtable", async || {
        (spec_of(&airtable, &base, &table, &ids[0])? == json!(format!("{text}\n"))).then_some(())
    })
    .await;
    eprintln!("Notion content → Airtable in {:?}", t0.elapsed());

    // Airtable → Notion: the row's webhook.
    let rec = airtable
        .records(&base, &table)
        .into_iter()
        .find(|r| r["fields"]["Notion Page ID"] == json!(ids[1]))
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let t0 = Instant::now();
    airtable
        .update_record_as_person(
            &base,
            &table,
            &rec,
            json!({ "Spec": "Written in Airtable\n" }),
        )
        .unwrap();
    eventually(20, "the long text in Notion", async || {
        (notion.content(&ids[1]).ok()? == "Written in Airtable").then_some(())
    })
    .await;
    eprintln!("Airtable long text → Notion in {:?}", t0.elapsed());

    // Echo free: once idle and quiet for two seconds, nothing more is written.
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
        "writes after converging"
    );
    assert_eq!(notion.content(&ids[0]).unwrap(), text);
    let dead = store
        .list_jobs(Some(notion_airtable_sync::store::JobState::Dead), 10)
        .await
        .unwrap();
    assert!(dead.is_empty(), "dead jobs: {dead:?}");
}
