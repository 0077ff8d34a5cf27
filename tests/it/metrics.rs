//! `GET /metrics`: scraped after real traffic, on SQLite and Postgres.
//!
//! - Webhook deliveries into the in-process router (forged, malformed,
//!   oversize, unknown webhook, secret unset, genuine) move exactly the
//!   received/rejected series they should, and the genuine one's job shows
//!   in the queue gauges.
//! - After an engine sweep, a conflict and a 429 against the sandboxes, the
//!   API call counters equal the sandboxes' own call counters, route by
//!   route; the 429 is counted and the wait it caused timed; the conflict
//!   and write counters moved by what was committed.
//! - The `serve` binary, with webhooks flowing both ways, reports the lag of
//!   each edit to the other side, job durations, and API counters equal to
//!   the sandboxes', with no token, secret or id anywhere in the output.
//!
//! Every scrape is parsed by a small checker of the text exposition format.
//! The registry is process-wide: tests of this binary that read counters
//! hold [`SERIAL`] so that `cargo test` (threads in one process) measures
//! the same deltas as nextest (a process per test).

use crate::common;

use std::{
    collections::{BTreeMap, HashMap},
    time::{Duration, Instant},
};

use common::{
    TempDir, TestDb, mapping::Mapping, sandboxes::Sandboxes, serve::ServeConfig, wait::eventually,
    world::world,
};
use notion_airtable_sandbox::{airtable::AirtableSandbox, common::Faults, notion::NotionSandbox};
use notion_airtable_sync::{
    http::{self, AppState, PairDirectory, router, serve},
    metrics,
    secret::Secret,
    signature::{airtable_mac, notion_signature},
    store::{Cause, IssueScope, NewAirtableWebhook, NewIssue, Store},
};
use serde_json::{Value, json};
use tokio::sync::{Mutex, oneshot};

static SERIAL: Mutex<()> = Mutex::const_new(());

both_backends!(
    webhook_deliveries_are_counted_by_source_and_reason,
    open_sync_issues_are_a_gauge_per_pair_and_scope,
    verification_token_refusals_are_counted_by_reason,
    api_calls_conflicts_and_writes_match_what_happened,
    serve_reports_lag_durations_and_calls_without_secrets,
);

// ------------------------------------------------------------------ parsing

/// One sample line.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A parsed scrape: every line checked against the text format.
#[derive(Debug)]
struct Scrape {
    text: String,
    samples: Vec<Sample>,
    types: HashMap<String, String>,
}

impl Scrape {
    /// Parse and check `text`; panics naming the first bad line.
    fn parse(text: &str) -> Scrape {
        assert!(text.ends_with('\n'), "the exposition ends with a newline");
        let mut types: HashMap<String, String> = HashMap::new();
        let mut helped: Vec<String> = Vec::new();
        let mut samples = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let at = format!("line {}: {line:?}", i + 1);
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let (name, _) = rest.split_once(' ').expect(&at);
                assert!(valid_name(name), "{at}");
                assert!(!helped.contains(&name.to_owned()), "HELP twice, {at}");
                helped.push(name.to_owned());
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').expect(&at);
                assert!(valid_name(name), "{at}");
                assert!(
                    ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                    "{at}"
                );
                assert!(!types.contains_key(name), "TYPE twice, {at}");
                assert!(
                    !samples
                        .iter()
                        .any(|s: &Sample| family(&types, &s.name) == name),
                    "TYPE after its samples, {at}"
                );
                types.insert(name.to_owned(), kind.to_owned());
            } else {
                assert!(!line.starts_with('#') && !line.is_empty(), "{at}");
                let sample = parse_sample(line).unwrap_or_else(|e| panic!("{e}, {at}"));
                let family = family(&types, &sample.name);
                assert!(types.contains_key(&family), "no TYPE for the sample, {at}");
                samples.push(sample);
            }
        }
        let scrape = Scrape {
            text: text.to_owned(),
            samples,
            types,
        };
        scrape.check_histograms();
        scrape
    }

    /// The value of the series with exactly these labels.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let want: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.samples
            .iter()
            .find(|s| s.name == name && s.labels == want)
            .map(|s| s.value)
    }

    /// The value, 0 when the series does not exist (yet).
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.value(name, labels).unwrap_or(0.0)
    }

    /// The sum over every series of `name`.
    fn total(&self, name: &str) -> f64 {
        self.samples
            .iter()
            .filter(|s| s.name == name)
            .map(|s| s.value)
            .sum()
    }

    /// Cumulative buckets in increasing `le`, the last `+Inf` = `_count`.
    fn check_histograms(&self) {
        for (name, _) in self.types.iter().filter(|(_, k)| *k == "histogram") {
            let bucket = format!("{name}_bucket");
            let mut series: BTreeMap<Labels, Vec<(f64, f64)>> = BTreeMap::new();
            for s in self.samples.iter().filter(|s| s.name == bucket) {
                let le = s.labels.get("le").expect("a bucket has le");
                let le: f64 = parse_value(le).expect("le is a number");
                let mut key: Vec<_> = s.labels.clone().into_iter().collect();
                key.retain(|(k, _)| k != "le");
                series.entry(key).or_default().push((le, s.value));
            }
            for (key, buckets) in series {
                let labels: Vec<(&str, &str)> =
                    key.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                for pair in buckets.windows(2) {
                    assert!(pair[0].0 < pair[1].0, "{name}{key:?}: le not increasing");
                    assert!(pair[0].1 <= pair[1].1, "{name}{key:?}: not cumulative");
                }
                let (last_le, last) = *buckets.last().unwrap();
                assert!(last_le.is_infinite(), "{name}{key:?}: no +Inf bucket");
                let count = self.value(&format!("{name}_count"), &labels);
                assert_eq!(count, Some(last), "{name}{key:?}: +Inf != _count");
                assert!(
                    self.value(&format!("{name}_sum"), &labels).is_some(),
                    "{name}{key:?}: no _sum"
                );
            }
        }
    }

    /// API requests per (vendor, method, endpoint, status).
    fn api_calls(&self) -> BTreeMap<(String, String, String, u16), f64> {
        self.samples
            .iter()
            .filter(|s| s.name == "notion_airtable_sync_api_requests_total")
            .map(|s| {
                let l = |k: &str| s.labels[k].clone();
                let status = l("status").parse().expect("a status code");
                ((l("vendor"), l("method"), l("endpoint"), status), s.value)
            })
            .collect()
    }
}

/// A series' labels other than `le`, in order.
type Labels = Vec<(String, String)>;

/// The family a sample belongs to (`x_bucket` → `x` for a histogram `x`).
fn family(types: &HashMap<String, String>, name: &str) -> String {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix) {
            if types.get(base).is_some_and(|k| k == "histogram") {
                return base.to_owned();
            }
        }
    }
    name.to_owned()
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn parse_value(v: &str) -> Result<f64, String> {
    match v {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => v.parse().map_err(|e| format!("bad value {v:?}: {e}")),
    }
}

/// `name{k="v",...} value` (no timestamp: the service writes none).
fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line
        .find(['{', ' '])
        .ok_or("no value after the metric name")?;
    let name = &line[..name_end];
    if !valid_name(name) {
        return Err(format!("bad metric name {name:?}"));
    }
    let mut labels = BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(after) = rest.strip_prefix('{') {
        rest = parse_labels(after, &mut labels)?;
    }
    let value = rest.strip_prefix(' ').ok_or("no space before the value")?;
    if value.contains(' ') {
        return Err("more than a value after the labels".into());
    }
    Ok(Sample {
        name: name.to_owned(),
        labels,
        value: parse_value(value)?,
    })
}

/// Labels up to the closing `}`; returns what follows it.
fn parse_labels<'a>(
    mut rest: &'a str,
    labels: &mut BTreeMap<String, String>,
) -> Result<&'a str, String> {
    loop {
        if let Some(after) = rest.strip_prefix('}') {
            return Ok(after);
        }
        let (key, after) = rest.split_once("=\"").ok_or("a label without =\"")?;
        if !valid_name(key) || key.contains(':') {
            return Err(format!("bad label name {key:?}"));
        }
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next().ok_or("unterminated label value")? {
                (i, '"') => break i,
                (_, '\\') => match chars.next().ok_or("dangling escape")?.1 {
                    '\\' => value.push('\\'),
                    '"' => value.push('"'),
                    'n' => value.push('\n'),
                    c => return Err(format!("bad escape \\{c}")),
                },
                (_, '\n') => return Err("newline in a label value".into()),
                (_, c) => value.push(c),
            }
        };
        if labels.insert(key.to_owned(), value).is_some() {
            return Err(format!("label {key} twice"));
        }
        rest = &after[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
}

#[test]
fn the_checker_refuses_what_prometheus_would() {
    let ok = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"q\\\"\"} 3\n";
    assert_eq!(Scrape::parse(ok).get("a_total", &[("x", "q\"")]), 3.0);
    for bad in [
        "a_total 1\n",                               // no TYPE
        "# TYPE a counter\na{x=\"1} 1\n",            // unterminated
        "# TYPE a counter\na{x=\"1\"}1\n",           // no space
        "# TYPE a counter\na 1 2 3\n",               // junk
        "# TYPE a counter\n# TYPE a counter\na 1\n", // TYPE twice
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 0\nh_count 1\n",
    ] {
        let caught = std::panic::catch_unwind(|| Scrape::parse(bad));
        assert!(caught.is_err(), "accepted {bad:?}");
    }
}

// --------------------------------------------------------- in-process ingest

const NOTION_SECRET: &str = "secret_metricsTestVerificationToken0123456789abcdef";
const MAC_SECRET: &str = "c2VjcmV0LWtleQ==";
const SPECS_DB: &str = "36cc9195-760f-4fff-a67e-3a46c559b176";
const SPECS_DS: &str = "98024f3c-b1d3-4aec-a301-f01e0dacf023";
const PAGE_ID: &str = "59833787-2cf9-4fdf-8782-e53db20768a5";

/// The router served on a free port, stopped on drop.
struct Server {
    url: String,
    http: reqwest::Client,
    _stop: oneshot::Sender<()>,
}

async fn start(state: AppState) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(serve(listener, router(state), async move {
        let _ = stopped.await;
    }));
    Server {
        url,
        http: reqwest::Client::new(),
        _stop: stop,
    }
}

fn state(store: &Store, secret: Option<&str>) -> AppState {
    let pairs = PairDirectory::new(vec![("specs".into(), SPECS_DB.into(), SPECS_DS.into())]);
    let mut state = AppState::new(store.clone(), pairs);
    state.notion_webhook_secret = secret.map(Secret::new);
    state
}

impl Server {
    async fn post(&self, path: &str, header: Option<(&str, &str)>, body: Vec<u8>) -> u16 {
        let mut request = self.http.post(format!("{}{path}", self.url)).body(body);
        if let Some((name, value)) = header {
            request = request.header(name, value);
        }
        request.send().await.unwrap().status().as_u16()
    }

    async fn notion(&self, key: &str, body: &[u8]) -> u16 {
        let signature = notion_signature(key, body);
        let header = Some(("x-notion-signature", signature.as_str()));
        self.post("/webhooks/notion", header, body.to_vec()).await
    }

    async fn scrape(&self) -> Scrape {
        let response = self
            .http
            .get(format!("{}/metrics", self.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let content_type = response.headers()["content-type"].to_str().unwrap();
        assert_eq!(content_type, metrics::TEXT_FORMAT);
        Scrape::parse(&response.text().await.unwrap())
    }
}

fn page_event(id: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": id,
        "type": "page.properties_updated",
        "timestamp": "2026-11-21T10:00:00.000Z",
        "entity": { "id": PAGE_ID, "type": "page" },
        "authors": [{ "id": "c7c11cca-1d73-471d-9b6e-bdef51470190", "type": "person" }],
        "data": { "parent": { "id": SPECS_DS, "type": "data_source", "data_source_id": SPECS_DS } },
    }))
    .unwrap()
}

const RECEIVED: &str = "notion_airtable_sync_webhooks_received_total";
const ISSUES: &str = "notion_airtable_sync_issues";
const REJECTED: &str = "notion_airtable_sync_webhooks_rejected_total";
const JOBS: &str = "notion_airtable_sync_jobs";
const RATE_LIMITED: &str = "notion_airtable_sync_api_rate_limited_total";
const WAIT: &str = "notion_airtable_sync_rate_limit_wait_seconds";

fn rejected(s: &Scrape, source: &str, reason: &str) -> f64 {
    s.get(REJECTED, &[("source", source), ("reason", reason)])
}

async fn webhook_deliveries_are_counted_by_source_and_reason(db: TestDb) {
    let _serial = SERIAL.lock().await;
    db.store
        .upsert_webhook(
            &NewAirtableWebhook {
                webhook_id: "achMetricsTest0001".into(),
                pair: "specs".into(),
                base_id: "appMetricsTest0001".into(),
                table_id: "tblMetricsTest0001".into(),
                mac_secret_base64: Secret::new(MAC_SECRET),
                expires_at: None,
                notification_url: None,
            },
            0,
        )
        .await
        .unwrap();
    let server = start(state(&db.store, Some(NOTION_SECRET))).await;
    let unset = start(state(&db.store, None)).await;
    let before = server.scrape().await;
    assert_eq!(before.get("notion_airtable_sync_store_up", &[]), 1.0);
    assert_eq!(
        before.get(JOBS, &[("kind", "reconcile_page"), ("state", "pending")]),
        0.0
    );

    // Forged: signed with another key.
    assert_eq!(
        server
            .notion("not-the-secret", &page_event("evt-forged"))
            .await,
        401
    );
    // Authentic but not an event.
    assert_eq!(server.notion(NOTION_SECRET, b"[1, 2, 3]").await, 400);
    // Over the 256 KiB body limit.
    let huge = vec![b'x'; 300 * 1024];
    assert_eq!(server.post("/webhooks/notion", None, huge).await, 413);
    // Signed, but the service has no secret to check it with.
    assert_eq!(
        unset.notion(NOTION_SECRET, &page_event("evt-unset")).await,
        401
    );
    // An Airtable ping for a webhook the service never registered, and one
    // for the registered webhook whose MAC is wrong.
    let ping = |webhook: &str| {
        serde_json::to_vec(&json!({
            "base": { "id": "appMetricsTest0001" },
            "webhook": { "id": webhook },
            "timestamp": "2026-11-21T10:00:00.000Z",
        }))
        .unwrap()
    };
    let unknown = ping("achSomebodyElse01");
    let mac = airtable_mac(MAC_SECRET, &unknown).unwrap();
    let header = Some(("x-airtable-content-mac", mac.as_str()));
    assert_eq!(
        server.post("/webhooks/airtable", header, unknown).await,
        401
    );
    let header = Some(("x-airtable-content-mac", "hmac-sha256=00"));
    let known = ping("achMetricsTest0001");
    assert_eq!(server.post("/webhooks/airtable", header, known).await, 401);
    // Genuine: queued.
    assert_eq!(
        server.notion(NOTION_SECRET, &page_event("evt-good")).await,
        200
    );

    let after = server.scrape().await;
    let delta = |f: &dyn Fn(&Scrape) -> f64| f(&after) - f(&before);
    assert_eq!(delta(&|s| s.get(RECEIVED, &[("source", "notion")])), 5.0);
    assert_eq!(delta(&|s| s.get(RECEIVED, &[("source", "airtable")])), 2.0);
    for (source, reason) in [
        ("notion", "bad_signature"),
        ("notion", "malformed"),
        ("notion", "too_large"),
        ("notion", "secret_unset"),
        ("airtable", "unknown_webhook"),
        ("airtable", "bad_signature"),
    ] {
        assert_eq!(
            delta(&|s| rejected(s, source, reason)),
            1.0,
            "{source} {reason}:\n{}",
            after.text
        );
    }
    assert_eq!(delta(&|s| s.total(REJECTED)), 6.0, "{}", after.text);
    // The genuine event's job, read from the store at scrape time.
    assert_eq!(
        after.get(JOBS, &[("kind", "reconcile_page"), ("state", "pending")]),
        1.0
    );
    assert_eq!(
        after.get(JOBS, &[("kind", "sweep"), ("state", "dead")]),
        0.0
    );
    // Nothing runs the job, so it waits: its age grows past a second.
    let waited = Instant::now();
    loop {
        let s = server.scrape().await;
        let age = s.get("notion_airtable_sync_oldest_pending_job_age_seconds", &[]);
        if age >= 1.0 {
            assert!(age <= waited.elapsed().as_secs_f64() + 1.0, "age {age}");
            break;
        }
        assert!(
            waited.elapsed() < Duration::from_secs(10),
            "age stuck at {age}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for secret in [
        NOTION_SECRET,
        MAC_SECRET,
        PAGE_ID,
        "appMetricsTest0001",
        "achSomebody",
    ] {
        assert!(!after.text.contains(secret), "{secret} in the metrics");
    }
}

// ------------------------------------------------------ engine and sandboxes

async fn api_calls_conflicts_and_writes_match_what_happened(db: TestDb) {
    let _serial = SERIAL.lock().await;
    let store = db.store.clone();
    let before = Scrape::parse(&http::metrics::render(&store).await);
    // Resolving the pair calls both APIs; every call from here is counted
    // by the sandboxes and (in this process) by the metrics.
    let w = world(db).await;
    let summary = w.sweep(true).await;
    assert_eq!(summary.created_in_airtable, 47, "{summary:?}");
    // A status changed on both sides: Notion wins, Airtable is written.
    let page = w.team_n.page_ids[20].clone();
    let page_id = page.clone();
    let record = w.row_for(&page)["id"].as_str().unwrap().to_owned();
    let (base, table) = (&w.team_a.base_id, &w.team_a.table_id);
    w.notion
        .update_page_as_person(
            &page,
            &w.person(),
            json!({ "Status": { "select": { "name": "In Review" } } }),
        )
        .unwrap();
    w.airtable
        .update_record_as_person(base, table, &record, json!({ "Status": "Shipped" }))
        .unwrap();
    let summary = w
        .engine
        .reconcile_page(&w.pair, &page, Cause::Webhook)
        .await
        .unwrap();
    assert_eq!(summary.conflicts, 1, "{summary:?}");

    // A 429: the client waits out Retry-After on its budget, then retries.
    let before_429 = Scrape::parse(&http::metrics::render(&store).await);
    let limited = || {
        let calls = w.notion.calls().snapshot();
        calls
            .iter()
            .filter(|c| c.status == 429)
            .map(|c| c.count)
            .sum::<u64>()
    };
    w.notion.set_faults(Faults {
        rate_limit_rate: 1.0,
        ..Faults::default()
    });
    let client = w.engine.notion.clone();
    let read = tokio::spawn(async move { client.retrieve_page(&page).await });
    eventually(10, "a 429", async || (limited() >= 1).then_some(())).await;
    w.notion.set_faults(Faults::default());
    read.await
        .unwrap()
        .expect("the retry after the 429 succeeds");

    let after = Scrape::parse(&http::metrics::render(&store).await);
    let limited_now = after.get(RATE_LIMITED, &[("vendor", "notion")]);
    assert_eq!(
        limited_now - before_429.get(RATE_LIMITED, &[("vendor", "notion")]),
        limited() as f64
    );
    // The retry's wait on the penalised budget: Retry-After is at least 1 s.
    let waits_over = |s: &Scrape, le: &str| {
        let notion = [("vendor", "notion")];
        let bucket = [("vendor", "notion"), ("le", le)];
        s.get(&format!("{WAIT}_count"), &notion) - s.get(&format!("{WAIT}_bucket"), &bucket)
    };
    assert!(
        waits_over(&after, "0.5") - waits_over(&before_429, "0.5") >= 1.0,
        "{}",
        after.text
    );
    let delta =
        |name: &str, labels: &[(&str, &str)]| after.get(name, labels) - before.get(name, labels);
    assert_eq!(delta("notion_airtable_sync_conflicts_total", &[]), 1.0);
    let writes = "notion_airtable_sync_writes_total";
    assert_eq!(delta(writes, &[("side", "airtable")]), 48.0);
    assert_eq!(delta(writes, &[("side", "notion")]), 0.0);

    // Route by route, the metrics counted what the sandboxes served.
    let (was, now) = (before.api_calls(), after.api_calls());
    let counted: BTreeMap<_, f64> = now
        .iter()
        .map(|(k, v)| (k.clone(), v - was.get(k).copied().unwrap_or(0.0)))
        .filter(|(_, v)| *v > 0.0)
        .collect();
    let served = served_calls(&w.notion, &w.airtable);
    assert_eq!(
        counted, served,
        "metrics (left) vs sandbox counters (right)"
    );
    let patch_rows = (
        "airtable".into(),
        "PATCH".into(),
        "/v0/{base}/{table}".into(),
        200,
    );
    assert_eq!(
        counted.get(&patch_rows),
        Some(&6.0),
        "5 upserts + the conflict's update"
    );
    for id in [
        base.as_str(),
        table.as_str(),
        &page_id,
        &record,
        w.notion.token(),
        w.airtable.token(),
    ] {
        assert!(!after.text.contains(id), "{id} in the metrics");
    }
}

/// The sandboxes' own counters of API calls (their control routes aside),
/// keyed like the metric.
fn served_calls(
    notion: &NotionSandbox,
    airtable: &AirtableSandbox,
) -> BTreeMap<(String, String, String, u16), f64> {
    let mut out = BTreeMap::new();
    let vendors = [
        ("notion", notion.calls().snapshot()),
        ("airtable", airtable.calls().snapshot()),
    ];
    for (vendor, calls) in vendors {
        for c in calls
            .into_iter()
            .filter(|c| !c.route.starts_with("/_sandbox"))
        {
            let key = (vendor.to_owned(), c.method, c.route, c.status);
            *out.entry(key).or_insert(0.0) += c.count as f64;
        }
    }
    out
}

// -------------------------------------------------------------- serve binary

fn row<'a>(rows: &'a [Value], page_id: &str) -> Option<&'a Value> {
    rows.iter()
        .find(|r| r["fields"]["Notion Page ID"] == json!(page_id))
}

async fn scrape_url(http: &reqwest::Client, url: &str) -> Scrape {
    let response = http.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    Scrape::parse(&response.text().await.unwrap())
}

const LAG: &str = "notion_airtable_sync_sync_lag_seconds";

/// One edit, one lag observation on `side`, no longer than the test saw.
fn assert_lag(scrape: &Scrape, side: &str, edited: Instant) {
    let count = scrape.get(&format!("{LAG}_count"), &[("side", side)]);
    let lag = scrape.get(&format!("{LAG}_sum"), &[("side", side)]);
    eprintln!("edit → {side}: {lag:.3}s as the service measured it");
    assert_eq!(count, 1.0, "one webhook-driven write to {side}");
    assert!(
        lag > 0.0 && lag <= edited.elapsed().as_secs_f64(),
        "lag {lag}s"
    );
}

async fn serve_reports_lag_durations_and_calls_without_secrets(db: TestDb) {
    let dir = TempDir::new();
    let Sandboxes {
        notion,
        airtable,
        team_n,
        team_a,
    } = Sandboxes::start().await;
    let mut serve = ServeConfig::new(&notion, &airtable, &dir.0, &db.url);
    serve.subscribe_notion(&notion);
    let admin_token = "metrics-test-admin-token";
    serve.admin_token = admin_token.to_owned();
    Mapping::example(&team_n.database_id, &team_a.base_id)
        .debounce_ms(0)
        .write_to(&dir.0);
    let (base_url, webhook_secret) = (serve.url(), serve.notion_secret.clone());
    let _serve = serve.spawn();
    let (base, table) = (&team_a.base_id, &team_a.table_id);
    eventually(90, "the initial sync", async || {
        (airtable.records(base, table).len() == 47).then_some(())
    })
    .await;
    let http = reqwest::Client::new();
    let metrics_url = format!("{base_url}/metrics");
    // The start-up sweep's writes count once committed, after the rows
    // show in Airtable; no webhook job has written yet.
    let first = eventually(20, "the start-up sweep's writes", async || {
        let s = scrape_url(&http, &metrics_url).await;
        let writes = s.get("notion_airtable_sync_writes_total", &[("side", "airtable")]);
        (writes >= 47.0).then_some(s)
    })
    .await;
    assert_eq!(
        first.get(&format!("{LAG}_count"), &[("side", "airtable")]),
        0.0
    );

    // The lag is measured from the job's creation, and a new event joins a
    // record's pending job: wait until the start-up sweep's echoes (pings
    // for its own writes) are worked off, so the edit gets a job of its own.
    let store = &db.store;
    eventually(90, "an idle queue", async || {
        let counts = store.job_counts().await.ok()?;
        (counts.pending + counts.running == 0).then_some(())
    })
    .await;

    // Notion → Airtable, through a webhook and a reconcile job.
    let ids = &team_n.page_ids;
    let person = team_n.people[0].1.clone();
    let edited = Instant::now();
    notion
        .update_page_as_person(
            &ids[0],
            &person,
            json!({ "Priority": { "select": { "name": "P3" } } }),
        )
        .unwrap();
    eventually(30, "the Notion edit in Airtable", async || {
        let rows = airtable.records(base, table);
        (row(&rows, &ids[0])?["fields"]["Priority"] == json!("P3")).then_some(())
    })
    .await;
    let to_airtable = eventually(10, "the lag to Airtable", async || {
        let s = scrape_url(&http, &metrics_url).await;
        (s.get(&format!("{LAG}_count"), &[("side", "airtable")]) >= 1.0).then_some(s)
    })
    .await;
    assert_lag(&to_airtable, "airtable", edited);

    // Airtable → Notion, through a ping, a payloads fetch and a reconcile.
    let record = row(&airtable.records(base, table), &ids[1]).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let edited = Instant::now();
    airtable
        .update_record_as_person(base, table, &record, json!({ "Sprint": "Sprint 31" }))
        .unwrap();
    let to_notion = eventually(30, "the lag to Notion", async || {
        let s = scrape_url(&http, &metrics_url).await;
        (s.get(&format!("{LAG}_count"), &[("side", "notion")]) >= 1.0).then_some(s)
    })
    .await;
    assert_lag(&to_notion, "notion", edited);
    let page = notion.page(&ids[1]).unwrap();
    assert_eq!(
        page["properties"]["Sprint"]["rich_text"][0]["plain_text"],
        json!("Sprint 31")
    );
    for source in ["notion", "airtable"] {
        assert!(
            to_notion.get(RECEIVED, &[("source", source)]) >= 1.0,
            "{source}"
        );
    }
    assert_eq!(
        to_notion.total(REJECTED),
        0.0,
        "genuine deliveries refused:\n{}",
        to_notion.text
    );
    let durations = "notion_airtable_sync_job_duration_seconds_count";
    for kind in ["reconcile_page", "airtable_payloads", "sweep"] {
        let done = to_notion.get(durations, &[("kind", kind), ("outcome", "completed")]);
        assert!(
            done >= 1.0,
            "no completed {kind} job timed:\n{}",
            to_notion.text
        );
    }

    // Once the service is idle, its API counters equal the sandboxes'.
    let last = eventually(30, "API counters equal to the sandboxes'", async || {
        let counts = store.job_counts().await.ok()?;
        if counts.pending + counts.running > 0 {
            return None;
        }
        let s = scrape_url(&http, &metrics_url).await;
        (s.api_calls() == served_calls(&notion, &airtable)).then_some(s)
    })
    .await;
    assert_eq!(
        last.get(JOBS, &[("kind", "reconcile_page"), ("state", "dead")]),
        0.0
    );
    let hooks = store.list_webhooks(None).await.unwrap();
    assert_eq!(hooks.len(), 1);
    let secrets = [
        notion.token().to_owned(),
        airtable.token().to_owned(),
        admin_token.to_owned(),
        webhook_secret,
        hooks[0].mac_secret_base64.expose().to_owned(),
        hooks[0].webhook_id.clone(),
        table.clone(),
        ids[0].clone(),
        record,
    ];
    for secret in secrets {
        assert!(!last.text.contains(&secret), "{secret} in the metrics");
    }
    // The base id labels the month's API calls per base (the quota), and
    // nothing else.
    let quota = "notion_airtable_sync_api_calls_month{";
    for line in last.text.lines().filter(|l| l.contains(base.as_str())) {
        assert!(line.starts_with(quota), "{base} in {line}");
    }
    assert!(
        last.text
            .contains(&format!("{quota}vendor=\"airtable\",scope=\"{base}\"}}"))
    );
}

/// Issues are read from the store at scrape time; every configured pair has
/// its three series from the start, and no label carries an id.
async fn open_sync_issues_are_a_gauge_per_pair_and_scope(db: TestDb) {
    let server = start(state(&db.store, None)).await;
    let issues =
        |s: &Scrape, pair: &str, scope: &str| s.get(ISSUES, &[("pair", pair), ("scope", scope)]);
    let empty = server.scrape().await;
    for scope in ["pair", "field", "record"] {
        let series = empty.value(ISSUES, &[("pair", "specs"), ("scope", scope)]);
        assert_eq!(series, Some(0.0), "{}", empty.text);
    }
    let raise = |scope, subject: &'static str, field: &'static str| {
        let store = db.store.clone();
        async move {
            let issue = NewIssue {
                pair: "specs",
                scope,
                subject,
                field,
                message: "refused by Notion: status option \"Shipped\" does not exist",
            };
            store.raise_issue(&issue, 1).await.unwrap();
        }
    };
    raise(IssueScope::Record, PAGE_ID, "Status").await;
    raise(IssueScope::Record, "recA1b2C3d4E5f6G7", "Link").await;
    raise(IssueScope::Field, "Sprint", "").await;
    // A pair no longer in the mapping still reports what it left open.
    let old = NewIssue {
        pair: "retired",
        scope: IssueScope::Pair,
        subject: "notion_user_information",
        field: "",
        message: "no user-information capability",
    };
    db.store.raise_issue(&old, 1).await.unwrap();
    let after = server.scrape().await;
    assert_eq!(issues(&after, "specs", "record"), 2.0, "{}", after.text);
    assert_eq!(issues(&after, "specs", "field"), 1.0);
    assert_eq!(issues(&after, "specs", "pair"), 0.0);
    assert_eq!(issues(&after, "retired", "pair"), 1.0);
    for id in [PAGE_ID, "recA1b2C3d4E5f6G7", "Sprint", "Shipped"] {
        assert!(!after.text.contains(id), "{id} in /metrics");
    }
    db.store
        .clear_issues("specs", IssueScope::Record, PAGE_ID)
        .await
        .unwrap();
    assert_eq!(issues(&server.scrape().await, "specs", "record"), 1.0);
}

/// Unsigned verification tokens beyond the per-minute limit: 429, counted
/// as `rate_limited`; the recorded ones are no rejection.
async fn verification_token_refusals_are_counted_by_reason(db: TestDb) {
    let _serial = SERIAL.lock().await;
    let unset = start(state(&db.store, None)).await;
    let before = unset.scrape().await;
    let token = |i: u32| {
        serde_json::to_vec(&json!({ "verification_token": format!("secret_metrics{i:03}") }))
            .unwrap()
    };
    for i in 1..=5 {
        assert_eq!(unset.post("/webhooks/notion", None, token(i)).await, 200);
    }
    assert_eq!(unset.post("/webhooks/notion", None, token(6)).await, 429);
    let after = unset.scrape().await;
    let delta =
        |reason: &str| rejected(&after, "notion", reason) - rejected(&before, "notion", reason);
    assert_eq!(delta("rate_limited"), 1.0, "{}", after.text);
    assert_eq!(delta("malformed"), 0.0, "{}", after.text);
}
