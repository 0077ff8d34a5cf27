//! Abusive and repeated requests against the real binary: an event replayed
//! long after it was processed, an Airtable ping replayed in a burst, and
//! slow clients (slowloris) while honest traffic keeps being answered.
//! (Forged signatures, oversized bodies and concurrent duplicates are in
//! `tests/http_ingest`.)

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use futures::future::join_all;
use notion_airtable_sync::{
    http::{DEFAULT_REQUEST_TIMEOUT, HEADER_READ_TIMEOUT},
    signature::airtable_mac,
    store::{JobState, Store},
};
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use super::harness::{
    Backend, Options, Sandboxes, Service, TempDir, assert_no_dead_jobs, database_url, deliver,
    eventually, page_event, scalar, until_idle,
};

/// The test sends Notion events itself; Airtable's webhook is registered.
fn options() -> Options {
    Options {
        notion_webhooks: false,
        ..Options::default()
    }
}

async fn notion_status(http: &reqwest::Client, svc: &Service, body: &[u8]) -> (u16, Value) {
    let r = http
        .post(format!("{}/webhooks/notion", svc.url))
        .header("content-type", "application/json")
        .header(
            "x-notion-signature",
            notion_airtable_sync::signature::notion_signature(&svc.notion_secret, body),
        )
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn jobs_in(store: &Store, state: JobState) -> usize {
    store.list_jobs(Some(state), 10_000).await.unwrap().len()
}

/// An event processed long ago and replayed (by an attacker who recorded it,
/// or a vendor's late retry), 60 times, concurrently and in sequence: every
/// answer is 2xx "duplicate", one inbox row, no job, no API call. A burst
/// of replayed Airtable pings queues at most one payload fetch and writes
/// nothing.
pub async fn replays_after_processing_change_nothing(backend: Backend) {
    let dir = TempDir::new();
    let sb = Sandboxes::start().await;
    let db_url = database_url(backend, &dir.0).await;
    let mut svc = Service::new(&sb, &dir.0, &db_url, options());
    svc.start_synced(&sb).await;
    let store = svc.store().await;
    let http = reqwest::Client::new();
    let page = sb.team_n.page_ids[0].clone();

    sb.rename_page(&page, "Replayed spec");
    let event_id = uuid::Uuid::new_v4().to_string();
    let body = page_event(&sb, &event_id, &page);
    let (status, answer) = notion_status(&http, &svc, &body).await;
    assert_eq!((status, &answer["status"]), (200, &json!("queued")));
    eventually(30, "the rename in Airtable", async || {
        (sb.airtable_name(&page)? == "Replayed spec").then_some(())
    })
    .await;
    until_idle(&store, 30).await;
    let jobs_before = scalar(&db_url, "SELECT COUNT(*) FROM jobs").await;
    let reconciles_before = scalar(
        &db_url,
        "SELECT COUNT(*) FROM jobs WHERE kind <> 'airtable_payloads'",
    )
    .await;
    let (writes_before, calls_before) = (
        sb.writes(),
        sb.notion.calls().total() + sb.airtable.calls().total(),
    );

    let concurrent = join_all((0..50).map(|_| notion_status(&http, &svc, &body))).await;
    let mut answers = concurrent;
    for _ in 0..10 {
        answers.push(notion_status(&http, &svc, &body).await);
    }
    for (status, answer) in &answers {
        assert_eq!((*status, &answer["status"]), (200, &json!("duplicate")));
    }
    let sql = format!("SELECT COUNT(*) FROM webhook_inbox WHERE event_id = '{event_id}'");
    assert_eq!(scalar(&db_url, &sql).await, 1, "one inbox row");
    assert_eq!(
        scalar(&db_url, "SELECT COUNT(*) FROM jobs").await,
        jobs_before,
        "a replay queues nothing"
    );

    // Airtable pings: authentic (signed with the webhook's MAC secret),
    // replayed 30 times at once.
    let webhook = store.list_webhooks(None).await.unwrap().remove(0);
    let ping = serde_json::to_vec(&json!({
        "base": { "id": webhook.base_id },
        "webhook": { "id": webhook.webhook_id },
        "timestamp": "2026-06-01T10:00:00.000Z",
    }))
    .unwrap();
    let mac = airtable_mac(webhook.mac_secret_base64.expose(), &ping).unwrap();
    let pings = join_all((0..30).map(|_| {
        http.post(format!("{}/webhooks/airtable", svc.url))
            .header("content-type", "application/json")
            .header("x-airtable-content-mac", &mac)
            .body(ping.clone())
            .send()
    }))
    .await;
    for r in pings {
        assert_eq!(r.unwrap().status(), 200);
    }
    // Coalesced: at most one fetch waiting (and one running) at any time.
    let fetches = async |state| {
        store
            .list_jobs(Some(state), 1000)
            .await
            .unwrap()
            .iter()
            .filter(|j| j.kind == "airtable_payloads")
            .count()
    };
    let waiting = fetches(JobState::Pending).await;
    assert!(waiting <= 1, "{waiting} payload fetches pending");
    until_idle(&store, 30).await;
    // A fetch finds nothing new (or only echoes of the service's writes):
    // no reconcile is queued by a replayed ping.
    let other_jobs = "SELECT COUNT(*) FROM jobs WHERE kind <> 'airtable_payloads'";
    assert_eq!(scalar(&db_url, other_jobs).await, reconciles_before);
    assert_eq!(sb.writes(), writes_before, "no write caused by a replay");
    let calls_after = sb.notion.calls().total() + sb.airtable.calls().total();
    eprintln!("replayed pings: {calls_before} → {calls_after} API calls (payload fetches)");
    assert_eq!(jobs_in(&store, JobState::Dead).await, 0);
}

/// Headers complete, body sent one byte per second: the request timeout
/// answers 408 (or closes) at `DEFAULT_REQUEST_TIMEOUT`, not later.
async fn slow_body(url: &str) -> (Duration, Option<u16>) {
    let addr = url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /webhooks/notion HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n\
         x-notion-signature: sha256=00\r\ncontent-length: 4096\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let (mut reader, mut writer) = stream.into_split();
    let trickle = async {
        loop {
            if writer.write_all(b" ").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
            if started.elapsed() > DEFAULT_REQUEST_TIMEOUT + Duration::from_secs(15) {
                break;
            }
        }
    };
    // Keep writing until the server answers or closes, then read the rest.
    let mut buf = Vec::new();
    let mut chunk = [0u8; 512];
    tokio::select! {
        () = trickle => {}
        n = reader.read(&mut chunk) => buf.extend_from_slice(&chunk[..n.unwrap_or(0)]),
    }
    let elapsed = started.elapsed();
    let _ = tokio::time::timeout(Duration::from_secs(5), reader.read_to_end(&mut buf)).await;
    let code = std::str::from_utf8(&buf)
        .ok()
        .and_then(|t| t.split(' ').nth(1))
        .and_then(|c| c.parse().ok());
    (elapsed, code)
}

/// Headers sent one byte per second and never finished: the server must
/// close the connection eventually instead of holding it forever.
async fn slow_headers(url: &str, limit: Duration) -> Result<Duration, String> {
    let addr = url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"POST /webhooks/notion HTTP/1.1\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let (mut reader, mut writer) = stream.split();
    let trickle = async {
        for byte in b"x-slow: ".iter().chain([b'a'; 120].iter()).cycle() {
            if writer.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    };
    let mut buf = [0u8; 256];
    tokio::select! {
        () = trickle => Err("the trickle ended".into()),
        _ = reader.read(&mut buf) => Ok(started.elapsed()),
        () = tokio::time::sleep(limit) => Err(format!("still open after {limit:?}")),
    }
}

/// Slow clients hold connections but not the service: while 15 slowloris
/// connections trickle their bodies, signed events are answered at once;
/// each slow body is cut off by the request timeout.
pub async fn slow_clients_are_cut_off_and_others_still_served(backend: Backend) {
    let dir = TempDir::new();
    let sb = Arc::new(Sandboxes::start().await);
    let db_url = database_url(backend, &dir.0).await;
    let mut svc = Service::new(&sb, &dir.0, &db_url, options());
    svc.start_synced(&sb).await;
    let url = svc.url.clone();

    let bodies = tokio::spawn({
        let url = url.clone();
        async move { join_all((0..15).map(|_| slow_body(&url))).await }
    });
    // Honest deliveries meanwhile: each answered quickly.
    let http = reqwest::Client::new();
    let mut slowest = Duration::ZERO;
    for i in 0..40 {
        let page = &sb.team_n.page_ids[i % 47];
        let body = page_event(&sb, &uuid::Uuid::new_v4().to_string(), page);
        let t0 = Instant::now();
        let status = deliver(&http, &url, &svc.notion_secret, &body).await;
        slowest = slowest.max(t0.elapsed());
        assert_eq!(status.map(|s| s.as_u16()), Some(200));
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        slowest < Duration::from_secs(1),
        "honest delivery took {slowest:?}"
    );

    for (elapsed, code) in bodies.await.unwrap() {
        assert!(
            elapsed <= DEFAULT_REQUEST_TIMEOUT + Duration::from_secs(3),
            "a slow body was cut off after {elapsed:?}"
        );
        assert!(matches!(code, Some(408) | None), "answered {code:?}");
    }
    let store = svc.store().await;
    until_idle(&store, 30).await;
    assert_no_dead_jobs(&store).await;
}

/// Headers that never finish (one byte a second): the server's header read
/// timeout (10 s) closes the connection when it runs out, not before and not
/// much later.
pub async fn slow_headers_are_cut_off(backend: Backend) {
    let dir = TempDir::new();
    let sb = Sandboxes::start().await;
    let db_url = database_url(backend, &dir.0).await;
    let options = Options {
        notion_webhooks: false,
        airtable_webhooks: false,
        ..Options::default()
    };
    let mut svc = Service::new(&sb, &dir.0, &db_url, options);
    svc.start();
    svc.ready(30).await;
    // The timer starts when the server begins reading the request, a few
    // milliseconds either side of the test's clock; closing is the server's
    // next timer tick. The margin is for a loaded two-core machine (five
    // connections, other tests in parallel), not for a slower timeout.
    let earliest = HEADER_READ_TIMEOUT - Duration::from_secs(1);
    let latest = HEADER_READ_TIMEOUT + Duration::from_secs(4);
    let results = join_all((0..5).map(|_| slow_headers(&svc.url, latest))).await;
    for result in results {
        let took = result.expect("a connection whose headers never end is closed");
        assert!(
            (earliest..=latest).contains(&took),
            "closed after {took:?}; the header read timeout is {HEADER_READ_TIMEOUT:?}"
        );
    }
}

/// A deploy is not held up by slow clients: with connections trickling
/// their headers and their bodies, SIGTERM still stops the service within
/// the runner's shutdown grace (20 s) and a little more.
pub async fn slow_clients_do_not_hold_up_shutdown(backend: Backend) {
    let dir = TempDir::new();
    let sb = Sandboxes::start().await;
    let db_url = database_url(backend, &dir.0).await;
    let options = Options {
        notion_webhooks: false,
        airtable_webhooks: false,
        ..Options::default()
    };
    let mut svc = Service::new(&sb, &dir.0, &db_url, options);
    svc.start();
    svc.ready(30).await;
    let url = svc.url.clone();
    let slow = tokio::spawn(async move {
        let limit = Duration::from_secs(90);
        tokio::join!(slow_headers(&url, limit), slow_body(&url))
    });
    // Both connections are open and trickling.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let t0 = Instant::now();
    let status = tokio::task::spawn_blocking(move || {
        let status = svc.terminate(40);
        (status, svc)
    })
    .await
    .unwrap()
    .0;
    let took = t0.elapsed();
    assert!(status.success(), "{status}");
    assert!(took < Duration::from_secs(25), "shutdown took {took:?}");
    slow.abort();
}
