//! What the selective sync tests share: a world re-resolved with a scope,
//! write counts, page statuses, links and log lines, and the binary run on
//! an edited sync.toml.

use crate::common;

use common::{
    mapping::Mapping,
    world::{World, select_of},
};
use notion_airtable_sync::{
    config::SyncConfig,
    engine::{Summary, load_pair},
    store::{Cause, LogQuery},
};
use serde_json::{Value, json};

/// Re-resolve the world's pair with `[pair.scope]` set to `scope` and the
/// example's lines `edits` replaced.
pub async fn scope(w: &mut World, scope: &str, edits: &[(&str, &str)]) {
    let mut mapping = Mapping::example(&w.team_n.database_id, &w.team_a.base_id);
    for (from, to) in edits {
        mapping = mapping.edit(from, to);
    }
    let text = format!("{}\n[pair.scope]\n{scope}\n", mapping.text());
    let config = SyncConfig::parse(&text).unwrap();
    w.pair = load_pair(&config.pairs[0], &w.engine.notion, &w.engine.airtable)
        .await
        .unwrap();
}

/// Every write either API received since the call logs were reset.
pub fn writes(w: &World) -> u64 {
    let airtable: u64 = w
        .airtable
        .calls()
        .snapshot()
        .iter()
        .filter(|c| c.method != "GET")
        .map(|c| c.count)
        .sum();
    let notion = w.notion.calls().count(Some("PATCH"), "/v1/pages/{page_id}")
        + w.notion.calls().count(Some("POST"), "/v1/pages");
    airtable + notion
}

pub fn reset_calls(w: &World) {
    w.notion.calls().reset();
    w.airtable.calls().reset();
}

pub fn status(w: &World, page: &str) -> Value {
    select_of(&w.page(page)["properties"]["Status"])
}

pub fn pages_with_status(w: &World, wanted: &str) -> Vec<String> {
    let pages = w.team_n.page_ids.iter();
    pages
        .filter(|p| status(w, p) == json!(wanted))
        .cloned()
        .collect()
}

pub fn set_status(w: &World, page: &str, value: &str) {
    let props = json!({ "Status": { "select": { "name": value } } });
    w.notion
        .update_page_as_person(page, &w.person(), props)
        .unwrap();
}

pub async fn link_count(w: &World) -> i64 {
    w.engine.store.count_links(w.pair.name()).await.unwrap()
}

pub async fn log_details(w: &World, page: &str) -> Vec<String> {
    let query = LogQuery {
        record: Some(page.to_owned()),
        ..LogQuery::default()
    };
    let log = w.engine.store.query_log(&query).await.unwrap();
    log.into_iter().filter_map(|e| e.detail).collect()
}

pub async fn record_job(w: &World, page: &str) -> Summary {
    w.engine
        .reconcile_page(&w.pair, page, Cause::Webhook)
        .await
        .unwrap()
}

/// The binary run as `args` in a folder holding the example mapping with
/// `[pair.scope]` set to `scope`, on the database at `url`: whether it
/// passed, and its stdout.
pub async fn run_cli(w: &World, scope: &str, url: &str, args: &[&str]) -> (bool, String) {
    let dir = std::env::temp_dir().join(format!("nas-scope-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let mapping = Mapping::example(&w.team_n.database_id, &w.team_a.base_id);
    let text = format!("{}\n[pair.scope]\n{scope}\n", mapping.text());
    std::fs::write(dir.join("sync.toml"), text).unwrap();
    let output = tokio::process::Command::new(common::serve::BIN)
        .args(args)
        .current_dir(&dir)
        .env("NOTION_TOKEN", w.notion.token())
        .env("AIRTABLE_TOKEN", w.airtable.token())
        .env("NOTION_API_URL", w.notion.base_url())
        .env("AIRTABLE_API_URL", w.airtable.base_url())
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .env_remove("PUBLIC_URL")
        .output()
        .await
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let out = String::from_utf8_lossy(&output.stdout).into_owned();
    let err = String::from_utf8_lossy(&output.stderr);
    (output.status.success(), format!("{out}\n--- stderr\n{err}"))
}

/// `check` on its own SQLite file.
pub async fn run_check(w: &World, scope: &str) -> (bool, String) {
    let file = std::env::temp_dir().join(format!("nas-scope-{}.db", uuid::Uuid::new_v4().simple()));
    let url = format!("sqlite://{}", file.display());
    let result = run_cli(w, scope, &url, &["check"]).await;
    let _ = std::fs::remove_file(&file);
    result
}
