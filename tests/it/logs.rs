//! The sync log and the process log.
//!
//! - `log` (the binary) and `GET /api/log` filter by pair, record and time
//!   and page through the whole log in a stable order, on both backends.
//! - `serve` with `LOG_FORMAT=json` writes one JSON object per line, lines
//!   written during a job carry its id, kind, pair and record, and no token
//!   or secret appears anywhere in the output.

use crate::common;

use std::{process::Command, time::Instant};

use common::{
    TestDb,
    mapping::Mapping,
    sandboxes::Sandboxes,
    serve::{BIN, Serve, ServeConfig},
    wait::eventually,
};
use notion_airtable_sandbox::{airtable::AirtableSandbox, notion::NotionSandbox};
use notion_airtable_sync::{
    http::{AppState, PairDirectory, router, serve},
    secret::Secret,
    store::{Cause, LogAction, NewLogEntry, Side, SyncDirection, now_ms},
};
use serde_json::{Value, json};

const ADMIN_TOKEN: &str = "admin-token-for-log-tests";
const ENTRIES: i64 = 25;
const MINUTE: i64 = 60_000;

both_backends!(
    log_command_filters_and_pages_in_a_stable_order,
    api_log_filters_and_pages_through_link_headers,
);

/// Entry `i` (0 = newest): pair `tasks` for every third, record `p{i % 5}`,
/// written `10 i + 5` minutes ago; every fourth is a conflict.
fn entry(i: i64, now: i64) -> NewLogEntry {
    let page = format!("p{}", i % 5);
    NewLogEntry {
        at: now - (10 * i + 5) * MINUTE,
        pair: if i % 3 == 0 { "tasks" } else { "specs" }.into(),
        notion_page_id: Some(page.clone()),
        airtable_record_id: Some(format!("rec-{page}")),
        action: LogAction::Update,
        field: Some("Status".into()),
        old_value: Some(json!({"type": "text", "value": "Draft"})),
        new_value: Some(json!({"type": "text", "value": "Ready"})),
        direction: SyncDirection::NotionToAirtable,
        cause: Cause::Webhook,
        conflict: i % 4 == 0,
        winner: (i % 4 == 0).then_some(Side::Notion),
        detail: None,
        job_id: Some(i),
        run_id: None,
        undoes: None,
    }
}

/// Appends the entries oldest first (so ids grow with time, as in service).
async fn seed(db: &TestDb) -> i64 {
    let now = now_ms();
    let entries: Vec<NewLogEntry> = (0..ENTRIES).rev().map(|i| entry(i, now)).collect();
    db.store.append_log(&entries).await.expect("append");
    now
}

fn expected(filter: impl Fn(i64) -> bool) -> usize {
    (0..ENTRIES).filter(|i| filter(*i)).count()
}

fn run_log(db: &TestDb, args: &[&str]) -> String {
    let output = Command::new(BIN)
        .arg("log")
        .args(args)
        .env("DATABASE_URL", &db.url)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run log");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "log {args:?}: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// `log --json`: one JSON object per line.
fn json_lines(db: &TestDb, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    run_log(db, &all)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn ids(entries: &[Value]) -> Vec<i64> {
    entries
        .iter()
        .map(|e| e["id"].as_i64().expect("id"))
        .collect()
}

fn strictly_descending(ids: &[i64]) -> bool {
    ids.windows(2).all(|w| w[0] > w[1])
}

async fn log_command_filters_and_pages_in_a_stable_order(db: TestDb) {
    seed(&db).await;
    let all = json_lines(&db, &["--limit", "1000"]);
    assert_eq!(all.len(), ENTRIES as usize);
    let all_ids = ids(&all);
    assert!(strictly_descending(&all_ids), "{all_ids:?}");
    assert_eq!(all[0]["new_value"]["value"], "Ready");

    let tasks = json_lines(&db, &["--pair", "tasks"]);
    assert_eq!(tasks.len(), expected(|i| i % 3 == 0));
    assert!(tasks.iter().all(|e| e["pair"] == "tasks"));
    // Either side's id finds the record.
    let by_page = json_lines(&db, &["--record", "p2"]);
    let by_row = json_lines(&db, &["--record", "rec-p2"]);
    assert_eq!(by_page.len(), expected(|i| i % 5 == 2));
    assert_eq!(ids(&by_page), ids(&by_row));
    // Ages and times: 2h ago keeps entries written 5, 15, ..., 115 minutes ago.
    let recent = json_lines(&db, &["--since", "2h"]);
    assert_eq!(recent.len(), expected(|i| 10 * i + 5 <= 120));
    let combined = json_lines(&db, &["--since", "2h", "--pair", "specs", "--record", "p1"]);
    assert_eq!(
        combined.len(),
        expected(|i| 10 * i + 5 <= 120 && i % 3 != 0 && i % 5 == 1)
    );

    // Pages of 7, following --before, cover the log exactly once.
    let mut paged = Vec::new();
    let mut before: Option<i64> = None;
    loop {
        let mut args = vec!["--limit".to_owned(), "7".to_owned()];
        if let Some(b) = before {
            args.extend(["--before".to_owned(), b.to_string()]);
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let page = ids(&json_lines(&db, &refs));
        if page.is_empty() {
            break;
        }
        before = page.last().copied();
        paged.extend(page);
    }
    assert_eq!(paged, all_ids);

    let table = run_log(&db, &["--limit", "3"]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("FIELD"),
        "{table}"
    );
    assert_eq!(lines.len(), 5, "header, three entries, next page:\n{table}");
    assert!(lines[1].contains("\"Draft\" → \"Ready\""), "{table}");
    assert!(
        lines[1].contains("p0 / rec-p0") && lines[1].contains("conflict won by notion"),
        "{table}"
    );
    assert_eq!(lines[4], format!("(more: add --before {})", all_ids[2]));
    let bad = Command::new(BIN)
        .args(["log", "--since", "yesterday"])
        .env("DATABASE_URL", &db.url)
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--since `yesterday` is not a time"));
}

async fn api_log_filters_and_pages_through_link_headers(db: TestDb) {
    seed(&db).await;
    let mut state = AppState::new(db.store.clone(), PairDirectory::new(Vec::new()));
    state.admin_token = Some(Secret::new(ADMIN_TOKEN));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, router(state), async move {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::new();
    let get = async |path: &str| {
        let response = http
            .get(format!("{base}{path}"))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let next = response
            .headers()
            .get("link")
            .map(|l| l.to_str().unwrap().to_owned());
        let body: Value = response.json().await.unwrap();
        (status, body, next)
    };

    let (status, all, next) = get("/api/log?pair=specs&limit=1000").await;
    assert_eq!(status, 200, "{all}");
    let all = all.as_array().unwrap().clone();
    assert_eq!(all.len(), expected(|i| i % 3 != 0));
    assert!(next.is_none(), "a page that is not full has no next link");
    let all_ids = ids(&all);
    assert!(strictly_descending(&all_ids));

    // Follow rel="next" from a first page of 4: every entry once, in order,
    // the filter kept on every page.
    let mut paged = Vec::new();
    let mut path = Some("/api/log?pair=specs&limit=4".to_owned());
    let mut pages = 0;
    while let Some(p) = path.take() {
        let (status, body, next) = get(&p).await;
        assert_eq!(status, 200, "{p}: {body}");
        let page = body.as_array().unwrap();
        assert!(page.len() <= 4 && page.iter().all(|e| e["pair"] == "specs"));
        paged.extend(ids(page));
        pages += 1;
        path = next.map(|link| {
            assert!(link.ends_with(">; rel=\"next\""), "{link}");
            link.trim_start_matches('<')
                .split('>')
                .next()
                .unwrap()
                .to_owned()
        });
        assert!(pages <= 10, "the links never end");
    }
    assert_eq!(paged, all_ids);

    let (_, recent, _) = get("/api/log?since=2h&record=rec-p1").await;
    assert_eq!(
        recent.as_array().unwrap().len(),
        expected(|i| 10 * i + 5 <= 120 && i % 5 == 1)
    );
    let (status, body, _) = get("/api/log?since=yesterday").await;
    assert_eq!(status, 400, "{body}");
    let _ = stop.send(());
    let _ = server.await;
}

// ------------------------------------------------------------ process logs

fn row<'a>(rows: &'a [Value], page_id: &str) -> Option<&'a Value> {
    rows.iter()
        .find(|r| r["fields"]["Notion Page ID"] == json!(page_id))
}

/// `serve` against seeded sandboxes with webhooks flowing, its stderr in a
/// file, and every secret it was given.
struct Running {
    notion: NotionSandbox,
    airtable: AirtableSandbox,
    page_ids: Vec<String>,
    person: String,
    base_id: String,
    table_id: String,
    base_url: String,
    admin_token: String,
    webhook_secret: String,
    dir: std::path::PathBuf,
    stderr: std::path::PathBuf,
    serve: Option<Serve>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.serve.take();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Running {
    async fn start(log_format: &str) -> Running {
        let dir = common::unique_temp_folder();
        std::fs::create_dir_all(&dir).unwrap();
        let Sandboxes {
            notion,
            airtable,
            team_n,
            team_a,
        } = Sandboxes::start().await;
        let db_url = format!("sqlite://{}", dir.join("sync.db").display());
        let mut config = ServeConfig::new(&notion, &airtable, &dir, &db_url);
        config.subscribe_notion(&notion);
        let admin_token = "admin-Xq7w9SecretAdminToken".to_owned();
        config.admin_token = admin_token.clone();
        config.env("LOG_FORMAT", log_format);
        // Debug for the service: every job logs its API calls and outcome.
        config.rust_log = "info,notion_airtable_sync=debug".to_owned();
        let stderr = dir.join("stderr.log");
        config.stderr = Some(stderr.clone());
        Mapping::example(&team_n.database_id, &team_a.base_id)
            .debounce_ms(0)
            .write_to(&dir);
        let serve = config.spawn();
        let (base_url, webhook_secret) = (config.url(), config.notion_secret);
        Running {
            page_ids: team_n.page_ids.clone(),
            person: team_n.people[0].1.clone(),
            base_id: team_a.base_id.clone(),
            table_id: team_a.table_id.clone(),
            notion,
            airtable,
            base_url,
            admin_token,
            webhook_secret,
            dir,
            stderr,
            serve: Some(serve),
        }
    }

    /// The initial sync, then a person's Notion edit through a webhook and
    /// a `/reconcile` with the admin token (so that it could leak if it were
    /// logged).
    async fn drive(&self) {
        let (base, table) = (&self.base_id, &self.table_id);
        let started = Instant::now();
        eventually(60, "the initial sync", async || {
            (self.airtable.records(base, table).len() == 47).then_some(())
        })
        .await;
        let page = &self.page_ids[0];
        self.notion
            .update_page_as_person(
                page,
                &self.person,
                json!({ "Priority": { "select": { "name": "P3" } } }),
            )
            .unwrap();
        eventually(30, "the edit in Airtable", async || {
            let rows = self.airtable.records(base, table);
            (row(&rows, page)?["fields"]["Priority"] == json!("P3")).then_some(())
        })
        .await;
        eprintln!("the edit synced {:?} after start", started.elapsed());
        let reconcile = reqwest::Client::new()
            .post(format!("{}/reconcile", self.base_url))
            .bearer_auth(&self.admin_token)
            .send()
            .await
            .unwrap();
        assert_eq!(reconcile.status(), 202);
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Waits for a line, then stops the service and returns all it wrote.
    async fn stop_after(&mut self, what: &str, seen: impl Fn(&str) -> bool) -> String {
        eventually(30, what, async || {
            self.output().lines().any(&seen).then_some(())
        })
        .await;
        self.serve.take();
        self.output()
    }

    /// Every token and secret the service holds, the Airtable webhook's MAC
    /// secret included, is absent from `text`.
    async fn assert_no_secret_in(&self, text: &str) {
        let secrets = [
            self.notion.token(),
            self.airtable.token(),
            &self.admin_token,
            &self.webhook_secret,
        ];
        for secret in secrets {
            assert!(!text.contains(secret), "a secret appears in the log");
        }
        let url = format!("sqlite://{}", self.dir.join("sync.db").display());
        let store = notion_airtable_sync::store::Store::connect(&url)
            .await
            .unwrap();
        let hooks = store.list_webhooks(None).await.unwrap();
        assert!(!hooks.is_empty(), "the service registered no webhook");
        for hook in hooks {
            assert!(
                !text.contains(hook.mac_secret_base64.expose()),
                "the MAC secret appears in the log"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_carry_job_fields_and_never_a_secret() {
    let mut running = Running::start("json").await;
    running.drive().await;
    let page = running.page_ids[0].clone();
    let text = running
        .stop_after("the job's lines in the log", |l| {
            serde_json::from_str::<Value>(l)
                .is_ok_and(|l| l["page_id"] == json!(page) && l["job_id"].is_i64())
        })
        .await;
    let lines: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(lines.len() > 10, "{text}");
    for line in &lines {
        assert!(
            line["timestamp"].is_string()
                && line["level"].is_string()
                && line["message"].is_string(),
            "{line}"
        );
    }
    let job_line = lines
        .iter()
        .find(|l| l["page_id"] == json!(page) && l["job_id"].is_i64())
        .unwrap();
    assert_eq!(job_line["pair"], "specs", "{job_line}");
    assert_eq!(job_line["kind"], "reconcile_page", "{job_line}");
    assert_eq!(job_line["span"], "job", "{job_line}");
    assert!(
        lines
            .iter()
            .any(|l| l["kind"] == "sweep" && l["pair"] == "specs" && l["job_id"].is_i64()),
        "no line of a sweep job"
    );
    running.assert_no_secret_in(&text).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_logs_are_plain_lines_naming_the_job_and_never_a_secret() {
    let mut running = Running::start("text").await;
    running.drive().await;
    let page = running.page_ids[0].clone();
    let job = format!("pair=\"specs\" page_id=\"{page}\"");
    let text = running
        .stop_after("the job's lines in the log", |l| l.contains(&job))
        .await;
    // Not a terminal: no colour codes, one event per line, level and target shown.
    assert!(!text.contains('\u{1b}'), "ANSI escapes in a file");
    let line = text.lines().find(|l| l.contains(&job)).unwrap();
    assert!(
        line.contains(" job{job_id=") && line.contains("kind=\"reconcile_page\""),
        "{line}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains(" INFO ") && l.contains("listening")),
        "{text}"
    );
    assert!(
        text.lines().all(|l| !l.trim_start().starts_with('{')),
        "JSON in the text format"
    );
    running.assert_no_secret_in(&text).await;
}
