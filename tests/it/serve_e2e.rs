//! `serve` end to end: the binary runs against the sandbox servers with
//! webhooks flowing both ways (a Notion subscription verified with the
//! token it sent, an Airtable webhook registered by the service at start).
//! A person's edit in Notion reaches Airtable, one in Airtable reaches
//! Notion, a new page becomes a row, a trashed page archives its row, and
//! once converged the service makes no further writes (echo free).

use crate::common;

use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use notion_airtable_sync::{
    sandbox::{
        airtable::{AirtableSandbox, AirtableSandboxConfig},
        notion::{NotionSandbox, NotionSandboxConfig},
    },
    store::Store,
};
use serde_json::{Value, json};

struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Poll `check` until it returns `Some`, or fail after `secs` seconds.
async fn eventually<T>(secs: u64, what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

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
    let dir = std::env::temp_dir().join(format!("nas-serve-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let db_url = format!("sqlite://{}", dir.join("sync.db").display());
    edits_flow_both_ways(&dir, &db_url).await;
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_edits_flow_both_ways_through_webhooks_without_echoes() {
    let dir = std::env::temp_dir().join(format!("nas-serve-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let db_url = common::fresh_postgres_database().await;
    edits_flow_both_ways(&dir, &db_url).await;
    std::fs::remove_dir_all(&dir).ok();
}

async fn edits_flow_both_ways(dir: &std::path::Path, db_url: &str) {
    let notion = NotionSandbox::start_local(NotionSandboxConfig::default())
        .await
        .unwrap();
    let airtable = AirtableSandbox::start_local(AirtableSandboxConfig {
        penalty: Duration::from_secs(1),
        ..AirtableSandboxConfig::default()
    })
    .await
    .unwrap();
    let team_n = notion.seed_team();
    let team_a = airtable.seed_team();
    let port = free_port();
    let base_url = format!("http://127.0.0.1:{port}");
    let subscription = notion.subscribe(&format!("{base_url}/webhooks/notion"));
    notion
        .verify_subscription(&subscription.id, &subscription.verification_token)
        .unwrap();

    let config = std::fs::read_to_string("sync.example.toml")
        .unwrap()
        .replace("00000000-0000-0000-0000-000000000000", &team_n.database_id)
        .replace("appXXXXXXXXXXXXXX", &team_a.base_id)
        .replace("debounce_ms = 2000", "debounce_ms = 0");
    std::fs::write(dir.join("sync.toml"), config).unwrap();
    let _serve = Serve(
        Command::new(env!("CARGO_BIN_EXE_notion-airtable-sync"))
            .arg("serve")
            .current_dir(dir)
            .env("DATABASE_URL", db_url)
            .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
            .env("NOTION_TOKEN", notion.token())
            .env("AIRTABLE_TOKEN", airtable.token())
            .env("NOTION_API_URL", notion.base_url())
            .env("AIRTABLE_API_URL", airtable.base_url())
            .env("NOTION_WEBHOOK_SECRET", &subscription.verification_token)
            .env("PUBLIC_URL", &base_url)
            .env("ADMIN_TOKEN", "test-admin")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
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
    let store = Store::connect(db_url).await.unwrap();
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
