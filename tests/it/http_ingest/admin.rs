//! The admin API and the health probes.

use std::time::Duration;

use notion_airtable_sync::{
    jobs::spec::JobSpec,
    store::{
        Cause, FailOutcome, IssueScope, JobState, LogAction, NewIssue, NewJob, NewLogEntry, Side,
        SyncDirection, now_ms,
    },
};
use serde_json::{Value, json};

use super::support::*;

const ADMIN_ROUTES: &[(&str, &str)] = &[
    ("POST", "/reconcile"),
    ("GET", "/api/jobs?state=dead"),
    ("POST", "/api/jobs/1/retry"),
    ("GET", "/api/log"),
    ("GET", "/api/conflicts"),
    ("GET", "/api/issues"),
];

async fn call(server: &Server, method: &str, path: &str, auth: Option<&str>) -> reqwest::Response {
    let url = format!("{}{path}", server.url);
    let mut request = match method {
        "GET" => server.http.get(url),
        _ => server.http.post(url),
    };
    if let Some(value) = auth {
        request = request.header("authorization", value);
    }
    request.send().await.expect("send the request")
}

pub async fn admin_routes_need_the_admin_token(db: TestDb) {
    let server = start(&db).await;
    let wrong = format!("Bearer {ADMIN_TOKEN}x");
    let basic = format!("Basic {ADMIN_TOKEN}");
    for (method, path) in ADMIN_ROUTES {
        for auth in [
            None,
            Some(wrong.as_str()),
            Some(basic.as_str()),
            Some("Bearer "),
        ] {
            let response = call(&server, method, path, auth).await;
            assert_eq!(response.headers()["www-authenticate"], "Bearer");
            let message = error_of(response, 401).await;
            assert!(
                message.contains("ADMIN_TOKEN"),
                "{method} {path}: {message}"
            );
        }
    }
    assert_eq!(db.count("jobs").await, 0);

    // Unset, every admin route refuses and says why.
    let mut state = state(&db.store);
    state.admin_token = None;
    let unconfigured = start_with(state).await;
    for (method, path) in ADMIN_ROUTES {
        let auth = format!("Bearer {ADMIN_TOKEN}");
        let response = call(&unconfigured, method, path, Some(&auth)).await;
        let message = error_of(response, 401).await;
        assert!(
            message.contains("ADMIN_TOKEN is not configured"),
            "{message}"
        );
    }
    assert_eq!(db.count("jobs").await, 0);
}

fn sweep_keys(jobs: &[notion_airtable_sync::store::Job]) -> Vec<String> {
    let mut keys: Vec<String> = jobs.iter().map(|j| j.key.clone()).collect();
    keys.sort();
    keys
}

pub async fn reconcile_enqueues_one_sweep_per_pair_and_coalesces(db: TestDb) {
    let server = start(&db).await;
    let (status, body) = status_and_json(server.admin_post("/reconcile", "").await).await;
    assert_eq!(status, 202, "{body}");
    let jobs = body["jobs"].as_array().expect("jobs");
    assert_eq!(jobs.len(), 2, "{body}");
    assert!(
        jobs.iter()
            .all(|j| j["coalesced"] == false && j["full"] == false)
    );
    let pending = db.jobs(JobState::Pending).await;
    assert_eq!(
        sweep_keys(&pending),
        ["sweep:specs:incremental", "sweep:tasks:incremental"]
    );
    let spec = JobSpec::from_payload(&pending[0].payload).expect("payload");
    assert!(
        matches!(spec, JobSpec::Sweep { full: false, .. }),
        "{spec:?}"
    );

    // Overlapping requests (a cron firing twice) coalesce into the same jobs.
    let (status, again) = status_and_json(server.admin_post("/reconcile", "{}").await).await;
    assert_eq!(status, 202);
    assert!(
        again["jobs"]
            .as_array()
            .expect("jobs")
            .iter()
            .all(|j| j["coalesced"] == true)
    );
    assert_eq!(db.jobs(JobState::Pending).await.len(), 2);

    // One pair, full.
    let (status, body) = status_and_json(
        server
            .admin_post("/reconcile", r#"{"pair": "specs", "full": true}"#)
            .await,
    )
    .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["jobs"].as_array().expect("jobs").len(), 1);
    assert_eq!(body["jobs"][0]["pair"], "specs");
    let full = db
        .store
        .get_job(body["jobs"][0]["job_id"].as_i64().expect("id"))
        .await
        .expect("read")
        .expect("job");
    assert_eq!(full.key, "sweep:specs:full");
    assert_eq!(db.jobs(JobState::Pending).await.len(), 3);

    let message = error_of(
        server.admin_post("/reconcile", r#"{"pair": "nope"}"#).await,
        404,
    )
    .await;
    assert!(
        message.contains("nope") && message.contains("specs"),
        "{message}"
    );
    error_of(
        server.admin_post("/reconcile", r#"{"ful": true}"#).await,
        400,
    )
    .await;
    error_of(server.admin_post("/reconcile", "not json").await, 400).await;
    assert_eq!(db.jobs(JobState::Pending).await.len(), 3);
}

/// A job that failed its only attempt.
async fn dead_job(db: &TestDb, key: &str) -> i64 {
    let now = now_ms();
    let job = NewJob::new("reconcile_page", key, now).with_max_attempts(1);
    db.store.enqueue(&job, now).await.expect("enqueue");
    let claimed = db
        .store
        .claim(Duration::from_secs(60), now)
        .await
        .expect("claim")
        .expect("a due job");
    let outcome = db
        .store
        .fail(
            claimed.id,
            &claimed.lease_token,
            "boom: 500 from Airtable",
            now,
            now,
        )
        .await
        .expect("fail");
    assert_eq!(outcome, FailOutcome::Dead);
    claimed.id
}

pub async fn dead_jobs_are_listed_and_retried(db: TestDb) {
    let server = start(&db).await;
    let dead = dead_job(&db, "record:specs:page:p1").await;
    let now = now_ms();
    db.store
        .enqueue(&NewJob::new("sweep", "sweep:specs:incremental", now), now)
        .await
        .expect("enqueue");

    let (status, body) = status_and_json(server.admin_get("/api/jobs?state=dead").await).await;
    assert_eq!(status, 200, "{body}");
    let listed = body.as_array().expect("a JSON list");
    assert_eq!(listed.len(), 1, "{body}");
    assert_eq!(listed[0]["id"], dead);
    assert_eq!(listed[0]["state"], "dead");
    assert_eq!(listed[0]["last_error"], "boom: 500 from Airtable");
    assert!(listed[0].get("lease_token").is_none());
    let (_, all) = status_and_json(server.admin_get("/api/jobs?limit=1").await).await;
    assert_eq!(all.as_array().expect("list").len(), 1);

    let (status, body) = status_and_json(
        server
            .admin_post(&format!("/api/jobs/{dead}/retry"), "")
            .await,
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let pending = db.store.get_job(dead).await.expect("read").expect("job");
    assert_eq!(pending.state, JobState::Pending);
    assert_eq!(body["job_id"], dead);

    let message = error_of(
        server
            .admin_post(&format!("/api/jobs/{dead}/retry"), "")
            .await,
        409,
    )
    .await;
    assert!(message.contains("pending"), "{message}");
    error_of(server.admin_post("/api/jobs/999999/retry", "").await, 404).await;
    error_of(server.admin_post("/api/jobs/abc/retry", "").await, 400).await;
    error_of(server.admin_get("/api/jobs?state=zombie").await, 400).await;
    error_of(server.admin_get("/api/jobs?limit=0").await, 400).await;
    error_of(server.admin_get("/api/jobs?limit=ten").await, 400).await;
}

fn log_entry(at: i64, pair: &str, page: &str, conflict: bool) -> NewLogEntry {
    NewLogEntry {
        at,
        pair: pair.into(),
        notion_page_id: Some(page.into()),
        airtable_record_id: Some(format!("rec-{page}")),
        action: LogAction::Update,
        field: Some("Status".into()),
        old_value: Some(json!("Draft")),
        new_value: Some(json!("Ready")),
        direction: SyncDirection::NotionToAirtable,
        cause: Cause::Webhook,
        conflict,
        winner: conflict.then_some(Side::Notion),
        detail: None,
        job_id: None,
        run_id: None,
        undoes: None,
    }
}

fn ids(body: &Value) -> Vec<i64> {
    body.as_array()
        .expect("a JSON list")
        .iter()
        .map(|e| e["id"].as_i64().expect("id"))
        .collect()
}

pub async fn log_and_conflicts_are_served_as_json(db: TestDb) {
    let server = start(&db).await;
    let base = 1_700_000_000_000;
    db.store
        .append_log(&[
            log_entry(base, "specs", "p1", false),
            log_entry(base + 1000, "specs", "p2", true),
            log_entry(base + 2000, "tasks", "p3", true),
            log_entry(base + 3000, "specs", "p1", false),
        ])
        .await
        .expect("append");
    let (status, all) = status_and_json(server.admin_get("/api/log").await).await;
    assert_eq!(status, 200, "{all}");
    let all_ids = ids(&all);
    assert_eq!(all_ids.len(), 4);
    assert!(all_ids.windows(2).all(|w| w[0] > w[1]), "newest first");
    assert_eq!(all[0]["new_value"], "Ready");

    let (_, specs) = status_and_json(server.admin_get("/api/log?pair=specs").await).await;
    assert_eq!(ids(&specs).len(), 3);
    let (_, p1) = status_and_json(server.admin_get("/api/log?record=p1").await).await;
    assert_eq!(ids(&p1).len(), 2);
    let (_, by_record) = status_and_json(server.admin_get("/api/log?record=rec-p3").await).await;
    assert_eq!(ids(&by_record).len(), 1);
    let since = base + 2000;
    let (_, recent) =
        status_and_json(server.admin_get(&format!("/api/log?since={since}")).await).await;
    assert_eq!(ids(&recent).len(), 2);
    let (_, recent_rfc) = status_and_json(
        server
            .admin_get("/api/log?since=2023-11-14T22:13:22Z")
            .await,
    )
    .await;
    assert_eq!(ids(&recent_rfc).len(), 2, "{recent_rfc}"); // base is 22:13:20
    let before = all_ids[1];
    let (_, page) = status_and_json(
        server
            .admin_get(&format!("/api/log?before={before}&limit=1"))
            .await,
    )
    .await;
    assert_eq!(ids(&page), [all_ids[2]]);
    error_of(server.admin_get("/api/log?since=yesterday").await, 400).await;

    let (_, conflicts) = status_and_json(server.admin_get("/api/conflicts").await).await;
    assert_eq!(ids(&conflicts).len(), 2);
    assert!(
        conflicts
            .as_array()
            .expect("list")
            .iter()
            .all(|e| e["conflict"] == true)
    );
    assert_eq!(conflicts[0]["winner"], "notion");
    let (_, specs_conflicts) =
        status_and_json(server.admin_get("/api/conflicts?pair=specs&limit=5").await).await;
    assert_eq!(ids(&specs_conflicts).len(), 1);
}

pub async fn health_and_readiness(db: TestDb) {
    let server = start(&db).await;
    let healthz = server.get("/healthz").await;
    assert_eq!(healthz.status(), 200);
    assert_eq!(healthz.text().await.expect("body"), "ok");
    assert_eq!(server.get("/readyz").await.status(), 200);

    db.store.close().await;
    let (status, body) = status_and_json(server.get("/readyz").await).await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("database")),
        "{body}"
    );
    // The process itself is still up.
    assert_eq!(server.get("/healthz").await.status(), 200);
}

pub async fn readiness_needs_the_migrations(db: TestDb) {
    // A store on an empty database (never migrated) next to the test one.
    let empty_url = if db.url.starts_with("sqlite:") {
        db.url.replace("sync.db", "empty.db")
    } else {
        // A fresh Postgres database.
        TestDb::postgres_url().await
    };
    let store = notion_airtable_sync::store::Store::connect(&empty_url)
        .await
        .expect("connect");
    let server = start_with(state(&store)).await;
    let (status, body) = status_and_json(server.get("/readyz").await).await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("migrate")),
        "{body}"
    );
    store.migrate().await.expect("migrate");
    assert_eq!(server.get("/readyz").await.status(), 200);
}

pub async fn open_issues_are_served_as_json(db: TestDb) {
    let server = start(&db).await;
    let (status, body) = status_and_json(server.admin_get("/api/issues").await).await;
    assert_eq!((status, body), (200, json!([])));
    let issues = [
        (
            "specs",
            IssueScope::Field,
            "Sprint",
            "",
            "the Airtable field was deleted",
        ),
        (
            "specs",
            IssueScope::Record,
            "recA1b2C3d4E5f6G7",
            "Notion Page ID",
            "not a Notion id: \"https://notion.so/x\"",
        ),
        (
            "tasks",
            IssueScope::Pair,
            "notion_user_information",
            "",
            "no user-information capability",
        ),
    ];
    for (pair, scope, subject, field, message) in issues {
        let issue = NewIssue {
            pair,
            scope,
            subject,
            field,
            message,
        };
        db.store.raise_issue(&issue, 1_000).await.unwrap();
    }
    let (status, body) = status_and_json(server.admin_get("/api/issues").await).await;
    assert_eq!(status, 200, "{body}");
    let all = body.as_array().expect("an array");
    assert_eq!(all.len(), 3, "{body}");
    assert_eq!(all[1]["pair"], "specs");
    assert_eq!(all[1]["scope"], "record");
    assert_eq!(all[1]["subject"], "recA1b2C3d4E5f6G7");
    assert_eq!(all[1]["field"], "Notion Page ID");
    assert_eq!(
        all[1]["message"],
        "not a Notion id: \"https://notion.so/x\""
    );
    assert_eq!(all[1]["first_seen_at"], 1_000);
    let (_, body) = status_and_json(server.admin_get("/api/issues?pair=tasks").await).await;
    let tasks = body.as_array().expect("an array");
    assert_eq!(tasks.len(), 1, "{body}");
    assert_eq!(tasks[0]["scope"], "pair");
    let message = error_of(server.admin_get("/api/issues?pairr=tasks").await, 400).await;
    assert!(message.contains("pairr"), "{message}");
}
