//! `POST /webhooks/notion`.

use futures::future::join_all;
use notion_airtable_sync::{
    jobs::spec::{JobSpec, Trigger},
    signature::notion_signature,
    store::{JobState, LinkState, LinkUpsert, SyncSource, now_ms},
};
use serde_json::json;

use notion_airtable_sync::http::PairDirectory;

use super::support::*;

pub async fn verification_request_is_pending_and_never_the_secret(db: TestDb) {
    // No secret configured yet: the handshake is still accepted.
    let mut state = state(&db.store);
    state.notion_webhook_secret = None;
    let server = start_with(state).await;
    let token = "secret_fresh0123456789abcdefghijklmnopqrstuvwxyzABCD";
    let body = bytes(&json!({ "verification_token": token }));
    let (status, _) =
        status_and_json(server.post_raw("/webhooks/notion", &[], body.clone()).await).await;
    assert_eq!(status, 200);
    let pending = db
        .store
        .pending_verification_tokens()
        .await
        .expect("pending tokens");
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].token.expose(), token);
    assert!(!pending[0].acknowledged);
    assert_eq!(pending[0].remote_addr.as_deref(), Some("127.0.0.1"));

    // An event signed with the token it just received is still refused: the
    // token is not trusted until an operator sets NOTION_WEBHOOK_SECRET.
    let event = bytes(&page_event(
        "page.created",
        &new_page_id(),
        parent_of_specs(),
    ));
    let signature = notion_signature(token, &event);
    let response = server
        .post_raw(
            "/webhooks/notion",
            &[("x-notion-signature", &signature)],
            event,
        )
        .await;
    let message = error_of(response, 401).await;
    assert!(message.contains("NOTION_WEBHOOK_SECRET"), "{message}");
    assert_eq!(db.count("webhook_inbox").await, 0);
    assert_eq!(db.count("jobs").await, 0);

    // The same handshake again (Notion's "Resend token") keeps one row.
    let response = server.post_raw("/webhooks/notion", &[], body).await;
    assert_eq!(response.status(), 200);
    assert_eq!(db.count("notion_verification_tokens").await, 1);
}

pub async fn a_configured_server_shows_a_new_token_and_keeps_its_secret(db: TestDb) {
    let server = start(&db).await;
    // A second subscription (or one re-created for a new URL): its token
    // waits for the operator, as the first one did.
    let other = "secret_secondsub00000000000000000000000000000000";
    let body = bytes(&json!({ "verification_token": other }));
    let (status, answer) =
        status_and_json(server.post_raw("/webhooks/notion", &[], body.clone()).await).await;
    assert_eq!(status, 200, "{answer}");
    let pending = db.store.pending_verification_tokens().await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].token.expose(), other);
    assert_eq!(db.count("webhook_inbox").await, 0);
    assert_eq!(db.count("jobs").await, 0);
    // Notion re-sending the verified subscription's token, signed with it:
    // acknowledged, and nothing more stored.
    let resent = bytes(&json!({ "verification_token": NOTION_SECRET }));
    let (status, answer) = status_and_json(server.notion(&resent).await).await;
    assert_eq!(
        (status, &answer["status"]),
        (200, &json!("already verified"))
    );
    assert_eq!(db.count("notion_verification_tokens").await, 1);

    let event = bytes(&page_event(
        "page.created",
        &new_page_id(),
        parent_of_specs(),
    ));
    let signature = notion_signature(other, &event);
    let response = server
        .post_raw(
            "/webhooks/notion",
            &[("x-notion-signature", &signature)],
            event.clone(),
        )
        .await;
    // The pending token is trusted for nothing: its events are refused.
    error_of(response, 401).await;
    assert_eq!(db.count("jobs").await, 0);
    // The configured secret still works.
    assert_eq!(server.notion(&event).await.status(), 200);
    assert_eq!(db.jobs(JobState::Pending).await.len(), 1);
}

pub async fn a_flood_of_tokens_before_the_secret_is_rate_limited_and_capped(db: TestDb) {
    let unconfigured = || {
        let mut state = state(&db.store);
        state.notion_webhook_secret = None;
        state
    };
    let server = start_with(unconfigured()).await;
    let token = |i: usize| format!("secret_flood{i:03}abcdefghijklmnopqrstuvwxyz0123456789");
    async fn post(server: &Server, token: String) -> reqwest::Response {
        let body = bytes(&json!({ "verification_token": token }));
        server.post_raw("/webhooks/notion", &[], body).await
    }
    for i in 0..5 {
        assert_eq!(post(&server, token(i)).await.status(), 200, "token {i}");
    }
    let limited = post(&server, token(5)).await;
    let wait: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
    let message = error_of(limited, 429).await;
    assert!(message.contains("Resend token"), "{message}");
    assert_eq!(db.count("notion_verification_tokens").await, 5);
    // Another replica (its own rate budget) on the same database: the table
    // keeps the five newest, so Notion's "Resend token" always shows.
    let replica = start_with(unconfigured()).await;
    for i in 6..9 {
        assert_eq!(post(&replica, token(i)).await.status(), 200, "token {i}");
    }
    let pending = db.store.pending_verification_tokens().await.unwrap();
    let kept: Vec<String> = pending
        .iter()
        .map(|t| t.token.expose().to_owned())
        .collect();
    assert_eq!(kept.len(), 5, "{kept:?}");
    for i in 6..9 {
        assert!(
            kept.contains(&token(i)),
            "the newest, {}, is kept",
            token(i)
        );
    }
    assert!(!kept.contains(&token(0)), "the oldest went first");
}

pub async fn bad_signatures_are_refused_before_anything_is_stored(db: TestDb) {
    let server = start(&db).await;
    let event = bytes(&page_event(
        "page.created",
        &new_page_id(),
        parent_of_specs(),
    ));
    let good = notion_signature(NOTION_SECRET, &event);
    let hex = good.trim_start_matches("sha256=");
    let forged = notion_signature("secret_not_the_right_one", &event);
    let other_body = notion_signature(NOTION_SECRET, b"{}");
    let truncated = &good[..good.len() - 2];
    let wrong_scheme = format!("sha1={hex}");
    let no_scheme = hex.to_owned();
    let not_hex = format!("sha256={}", "z".repeat(64));
    let cases: Vec<(&str, Option<&str>)> = vec![
        ("missing", None),
        ("empty", Some("")),
        ("forged with another key", Some(&forged)),
        ("signature of another body", Some(&other_body)),
        ("truncated", Some(truncated)),
        ("wrong scheme", Some(&wrong_scheme)),
        ("no scheme", Some(&no_scheme)),
        ("not hexadecimal", Some(&not_hex)),
    ];
    for (case, header) in cases {
        let headers: Vec<(&str, &str)> = header
            .map(|h| vec![("x-notion-signature", h)])
            .unwrap_or_default();
        let response = server
            .post_raw("/webhooks/notion", &headers, event.clone())
            .await;
        let message = error_of(response, 401).await;
        assert!(message.contains("X-Notion-Signature"), "{case}: {message}");
    }
    // A signed body whose bytes were altered in transit.
    let tampered = String::from_utf8(event.clone()).expect("utf-8").replacen(
        "page.created",
        "page.deleted",
        1,
    );
    let response = server
        .post_raw(
            "/webhooks/notion",
            &[("x-notion-signature", &good)],
            tampered.into_bytes(),
        )
        .await;
    error_of(response, 401).await;
    db.assert_nothing_stored().await;
}

pub async fn malformed_json_with_a_valid_signature_is_400(db: TestDb) {
    let server = start(&db).await;
    let not_an_event = [
        b"{\"id\": \"abc\", \"type\": ".to_vec(),
        b"[1, 2, 3]".to_vec(),
        bytes(&json!({"id": "e1", "type": "page.created"})), // no entity
        bytes(&json!({"id": "", "type": "page.created", "entity": {"id": "p", "type": "page"}})),
    ];
    for body in not_an_event {
        let message = error_of(server.notion(&body).await, 400).await;
        assert!(!message.is_empty());
    }
    db.assert_nothing_stored().await;
}

pub async fn page_event_enqueues_one_debounced_reconcile(db: TestDb) {
    let server = start(&db).await;
    let page = new_page_id();
    let event = page_event("page.properties_updated", &page, parent_of_specs());
    let before = now_ms();
    let (status, body) = status_and_json(server.notion(&bytes(&event)).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "queued", "{body}");
    let pending = db.jobs(JobState::Pending).await;
    assert_eq!(pending.len(), 1);
    let job = &pending[0];
    assert_eq!(body["job_id"], job.id);
    let expected = JobSpec::ReconcilePage {
        pair: "specs".into(),
        page_id: page.clone(),
        trigger: Trigger::Webhook,
    };
    assert_eq!(
        JobSpec::from_payload(&job.payload).expect("payload"),
        expected
    );
    assert_eq!(job.key, expected.key());
    let debounce = SPECS_DEBOUNCE.as_millis() as i64;
    assert!(
        job.run_at >= before + debounce && job.run_at <= now_ms() + debounce,
        "run_at {} is not now + {debounce} ms",
        job.run_at
    );
    assert_eq!(db.count("webhook_inbox").await, 1);

    // The 2022-06-28 shape (database parent, no data source id) maps by the
    // database id; `tasks` has no debounce, so its job is due at once.
    let task_page = new_page_id();
    let old_shape = page_event(
        "page.created",
        &task_page,
        json!({"id": TASKS_DB.replace('-', ""), "type": "database"}),
    );
    let (status, body) = status_and_json(server.notion(&bytes(&old_shape)).await).await;
    assert_eq!((status, &body["status"]), (200, &json!("queued")), "{body}");
    let job = db
        .store
        .get_job(body["job_id"].as_i64().expect("job id"))
        .await
        .expect("read")
        .expect("the job");
    assert_eq!(job.pair.as_deref(), Some("tasks"));
    assert!(job.run_at <= now_ms());

    // Every page event type the service syncs is one reconcile of the page.
    for kind in ["page.deleted", "page.undeleted", "page.moved"] {
        let event = page_event(kind, &new_page_id(), parent_of_specs());
        let (_, body) = status_and_json(server.notion(&bytes(&event)).await).await;
        assert_eq!(body["status"], "queued", "{kind}: {body}");
    }
    assert_eq!(db.jobs(JobState::Pending).await.len(), 5);
}

pub async fn same_event_delivered_100_times_concurrently_is_one_job(db: TestDb) {
    let server = start(&db).await;
    let event = bytes(&page_event(
        "page.properties_updated",
        &new_page_id(),
        parent_of_specs(),
    ));
    let deliveries = (0..100).map(|_| server.notion(&event));
    let statuses: Vec<u16> = join_all(deliveries)
        .await
        .into_iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(db.count("webhook_inbox").await, 1);
    assert_eq!(db.count("jobs").await, 1);
    assert_eq!(db.jobs(JobState::Pending).await.len(), 1);
    // A late redelivery is acknowledged as a duplicate.
    let (status, body) = status_and_json(server.notion(&event).await).await;
    assert_eq!((status, &body["status"]), (200, &json!("duplicate")));
}

pub async fn fifty_events_for_one_page_coalesce_into_one_job(db: TestDb) {
    let server = start(&db).await;
    let page = new_page_id();
    let events: Vec<Vec<u8>> = (0..50)
        .map(|i| {
            let kind = if i % 2 == 0 {
                "page.properties_updated"
            } else {
                "page.moved"
            };
            bytes(&page_event(kind, &page, parent_of_specs()))
        })
        .collect();
    let responses = join_all(events.iter().map(|e| server.notion(e))).await;
    assert!(responses.iter().all(|r| r.status() == 200));
    assert_eq!(db.count("webhook_inbox").await, 50);
    let pending = db.jobs(JobState::Pending).await;
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!(db.count("jobs").await, 1);
    // Another page is another job.
    let other = page_event("page.properties_updated", &new_page_id(), parent_of_specs());
    server.notion(&bytes(&other)).await;
    assert_eq!(db.jobs(JobState::Pending).await.len(), 2);
}

pub async fn events_the_service_does_not_sync_are_acknowledged_and_ignored(db: TestDb) {
    let server = start(&db).await;
    let unknown_source = page_event(
        "page.properties_updated",
        &new_page_id(),
        json!({"id": "11111111-1111-1111-1111-111111111111", "type": "database",
               "data_source_id": "22222222-2222-2222-2222-222222222222"}),
    );
    let mut comment = page_event("comment.created", &new_page_id(), parent_of_specs());
    comment["entity"] = json!({"id": new_page_id(), "type": "comment"});
    let space_parent = page_event(
        "page.properties_updated",
        &new_page_id(),
        json!({"id": "13950b26-c203-4f3b-b97d-93ec06319565", "type": "space"}),
    );
    let ignored = [unknown_source.clone(), comment, space_parent];
    for event in &ignored {
        let (status, body) = status_and_json(server.notion(&bytes(event)).await).await;
        assert_eq!(
            (status, &body["status"]),
            (200, &json!("ignored")),
            "{body}"
        );
    }
    assert_eq!(db.count("jobs").await, 0);
    // Still de-duplicated: a redelivery is one cheap insert that does nothing.
    assert_eq!(db.count("webhook_inbox").await, ignored.len() as i64);
    let (_, body) = status_and_json(server.notion(&bytes(&unknown_source)).await).await;
    assert_eq!(body["status"], "duplicate");
}

pub async fn an_event_without_a_parent_queues_a_job_that_locates_the_page(db: TestDb) {
    let server = start(&db).await;
    let page = new_page_id();
    let mut no_parent = page_event("page.created", &page, json!(null));
    no_parent["data"] = json!({});
    let (status, body) = status_and_json(server.notion(&bytes(&no_parent)).await).await;
    assert_eq!((status, &body["status"]), (200, &json!("queued")), "{body}");
    // The ingest does not call Notion: a worker reads the page to find its
    // database, so the job names no pair yet.
    let pending = db.jobs(JobState::Pending).await;
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].pair, None);
    assert_eq!(
        JobSpec::from_payload(&pending[0].payload).expect("spec"),
        JobSpec::LocatePage { page_id: page }
    );
}

pub async fn a_schema_change_queues_a_resolve_of_its_pair(db: TestDb) {
    let server = start(&db).await;
    let mut schema = page_event("data_source.schema_updated", SPECS_DS, json!({}));
    schema["entity"] = json!({"id": SPECS_DS, "type": "data_source"});
    schema["data"] =
        json!({"updated_properties": [{"id": "abc", "name": "Due", "action": "updated"}]});
    let (status, body) = status_and_json(server.notion(&bytes(&schema)).await).await;
    assert_eq!((status, &body["status"]), (200, &json!("queued")), "{body}");
    let pending = db.jobs(JobState::Pending).await;
    assert_eq!(pending.len(), 1);
    assert_eq!(
        JobSpec::from_payload(&pending[0].payload).expect("spec"),
        JobSpec::ResolveSchema {
            pair: pending[0].pair.clone().expect("the job names its pair")
        }
    );
    // Another data source's schema is none of the service's business.
    let mut other = page_event("data_source.schema_updated", &new_page_id(), json!({}));
    other["entity"] = json!({"id": "22222222-2222-2222-2222-222222222222", "type": "data_source"});
    let (_, body) = status_and_json(server.notion(&bytes(&other)).await).await;
    assert_eq!(body["status"], "ignored", "{body}");
}

pub async fn bot_only_events_need_no_reconcile(db: TestDb) {
    let server = start(&db).await;
    let mut own = page_event("page.properties_updated", &new_page_id(), parent_of_specs());
    // Dashless and upper case: ids compare however they are written.
    own["authors"] = json!([{"id": BOT_ID.replace('-', "").to_uppercase(), "type": "bot"}]);
    let (status, body) = status_and_json(server.notion(&bytes(&own)).await).await;
    assert_eq!(
        (status, &body["status"]),
        (200, &json!("ignored")),
        "{body}"
    );
    assert_eq!(db.count("jobs").await, 0);
    assert_eq!(db.count("webhook_inbox").await, 1);

    // A person among the authors (an aggregated event) needs the reconcile.
    let mut mixed = page_event("page.properties_updated", &new_page_id(), parent_of_specs());
    mixed["authors"] = json!([{"id": BOT_ID, "type": "bot"}, {"id": PERSON_ID, "type": "person"}]);
    let (_, body) = status_and_json(server.notion(&bytes(&mixed)).await).await;
    assert_eq!(body["status"], "queued", "{body}");
    // Another integration's bot is not us.
    let mut other_bot = page_event("page.properties_updated", &new_page_id(), parent_of_specs());
    other_bot["authors"] = json!([{"id": "99999999-2702-81b5-8408-00279347f034", "type": "bot"}]);
    let (_, body) = status_and_json(server.notion(&bytes(&other_bot)).await).await;
    assert_eq!(body["status"], "queued", "{body}");
    assert_eq!(db.jobs(JobState::Pending).await.len(), 2);
}

pub async fn a_linked_page_moved_out_is_still_reconciled(db: TestDb) {
    let server = start(&db).await;
    let page = new_page_id();
    let link = LinkUpsert {
        pair: "tasks".into(),
        notion_page_id: page.clone(),
        airtable_record_id: Some("recAAAAAAAAAAAAAA".into()),
        snapshot: Default::default(),
        sync_source: SyncSource::Service,
        state: LinkState::Active,
        notion_last_edited: None,
        airtable_modified: None,
    };
    db.store.upsert_link(&link, now_ms()).await.expect("link");
    let moved = page_event(
        "page.moved",
        &page,
        json!({"id": "33333333-3333-3333-3333-333333333333", "type": "page"}),
    );
    let (_, body) = status_and_json(server.notion(&bytes(&moved)).await).await;
    assert_eq!(body["status"], "queued", "{body}");
    let pending = db.jobs(JobState::Pending).await;
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].pair.as_deref(), Some("tasks"));
}

pub async fn database_down_is_503_and_nothing_is_acknowledged(db: TestDb) {
    let server = start(&db).await;
    db.store.close().await;
    let event = bytes(&page_event(
        "page.created",
        &new_page_id(),
        parent_of_specs(),
    ));
    let response = server.notion(&event).await;
    assert_eq!(response.headers()["retry-after"], "5");
    let message = error_of(response, 503).await;
    assert!(message.contains("retry"), "{message}");
    // A handshake must be stored, so it too is 503 (the sender resends).
    let handshake = bytes(&json!({"verification_token": "secret_x"}));
    let response = server.post_raw("/webhooks/notion", &[], handshake).await;
    assert_eq!(response.status(), 503);
}

pub async fn a_title_edit_arrives_as_content_updated_and_is_reconciled(db: TestDb) {
    let server = start(&db).await;
    let page = new_page_id();
    // As Notion sends it for a rename: the page itself as the updated block.
    let mut content = page_event("page.content_updated", &page, parent_of_specs());
    content["data"]["updated_blocks"] = json!([{"id": page, "type": "block"}]);
    let (status, body) = status_and_json(server.notion(&bytes(&content)).await).await;
    assert_eq!((status, &body["status"]), (200, &json!("queued")), "{body}");
    let pending = db.jobs(JobState::Pending).await;
    assert_eq!(pending.len(), 1);
    assert_eq!(
        JobSpec::from_payload(&pending[0].payload).expect("spec"),
        JobSpec::ReconcilePage {
            pair: "specs".into(),
            page_id: page.clone(),
            trigger: Trigger::Webhook,
        }
    );
    // The properties event Notion may also send for it is the same job.
    let properties = page_event("page.properties_updated", &page, parent_of_specs());
    let (_, body) = status_and_json(server.notion(&bytes(&properties)).await).await;
    assert_eq!(body["job_id"], pending[0].id, "{body}");
    assert_eq!(db.count("jobs").await, 1);
}

pub async fn events_reach_every_pair_of_a_shared_data_source(db: TestDb) {
    // `roadmap` syncs the specs data source with another Airtable table.
    let mut state = state(&db.store);
    state.pairs = PairDirectory::new(vec![
        ("specs".into(), SPECS_DB.into(), SPECS_DS.into()),
        ("tasks".into(), TASKS_DB.into(), TASKS_DS.into()),
        ("roadmap".into(), SPECS_DB.into(), SPECS_DS.into()),
    ]);
    let server = start_with(state).await;
    let page = new_page_id();
    let event = bytes(&page_event(
        "page.properties_updated",
        &page,
        parent_of_specs(),
    ));
    let (status, body) = status_and_json(server.notion(&event).await).await;
    assert_eq!((status, &body["status"]), (200, &json!("queued")), "{body}");
    assert_eq!(body["job_ids"].as_array().map(Vec::len), Some(2), "{body}");
    let mut specs: Vec<JobSpec> = db
        .jobs(JobState::Pending)
        .await
        .iter()
        .map(|j| JobSpec::from_payload(&j.payload).expect("spec"))
        .collect();
    specs.sort_by_key(|s| s.pair().map(str::to_owned));
    let reconcile = |pair: &str| JobSpec::ReconcilePage {
        pair: pair.into(),
        page_id: page.clone(),
        trigger: Trigger::Webhook,
    };
    assert_eq!(specs, vec![reconcile("roadmap"), reconcile("specs")]);
    // A redelivery changes nothing; the 2022 shape (database id only) and a
    // title edit reach both pairs too.
    let (_, body) = status_and_json(server.notion(&event).await).await;
    assert_eq!(body["status"], "duplicate");
    let old_shape = page_event(
        "page.content_updated",
        &new_page_id(),
        json!({"id": SPECS_DB, "type": "database"}),
    );
    let (_, body) = status_and_json(server.notion(&bytes(&old_shape)).await).await;
    assert_eq!(body["job_ids"].as_array().map(Vec::len), Some(2), "{body}");
    assert_eq!(db.jobs(JobState::Pending).await.len(), 4);
}

pub async fn oversized_bodies_are_413_on_both_endpoints(db: TestDb) {
    let server = start(&db).await;
    let mut event = page_event("page.created", &new_page_id(), parent_of_specs());
    event["padding"] = json!("x".repeat(300 * 1024));
    let big = bytes(&event);
    assert_eq!(server.notion(&big).await.status(), 413);
    let unsigned_handshake = bytes(&json!({"verification_token": "y".repeat(300 * 1024)}));
    let response = server
        .post_raw("/webhooks/notion", &[], unsigned_handshake)
        .await;
    assert_eq!(response.status(), 413);
    register_webhook(&db.store).await;
    let mut ping: serde_json::Value = serde_json::from_slice(&ping(WEBHOOK_ID)).expect("json");
    ping["padding"] = json!("x".repeat(300 * 1024));
    assert_eq!(server.airtable(&bytes(&ping)).await.status(), 413);
    db.assert_nothing_stored().await;
    // Just under the limit is fine.
    let mut fits = page_event("page.created", &new_page_id(), parent_of_specs());
    fits["padding"] = json!("x".repeat(200 * 1024));
    assert_eq!(server.notion(&bytes(&fits)).await.status(), 200);
}

/// Everything the service logs in this test process (installed once).
fn captured_log() -> &'static std::sync::Mutex<Vec<u8>> {
    use std::sync::{Mutex, OnceLock};
    static LOG: OnceLock<&'static Mutex<Vec<u8>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let log: &'static Mutex<Vec<u8>> = Box::leak(Box::new(Mutex::new(Vec::new())));
        let writer = move || LogWriter(log);
        let _ = tracing_subscriber::fmt()
            .with_env_filter("notion_airtable_sync=debug")
            .with_writer(writer)
            .with_ansi(false)
            .try_init();
        log
    })
}

struct LogWriter(&'static std::sync::Mutex<Vec<u8>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub async fn verification_tokens_are_logged_by_fingerprint_only(db: TestDb) {
    let log = captured_log();
    let mut unconfigured = state(&db.store);
    unconfigured.notion_webhook_secret = None;
    let unconfigured = start_with(unconfigured).await;
    let configured = start(&db).await;
    let kept = format!("secret_{}", uuid::Uuid::new_v4().simple());
    let second = format!("secret_{}", uuid::Uuid::new_v4().simple());
    let body = |token: &str| bytes(&json!({ "verification_token": token }));
    let response = unconfigured
        .post_raw("/webhooks/notion", &[], body(&kept))
        .await;
    assert_eq!(response.status(), 200);
    let response = configured
        .post_raw("/webhooks/notion", &[], body(&second))
        .await;
    assert_eq!(response.status(), 200);
    let text = String::from_utf8_lossy(&log.lock().unwrap()).into_owned();
    for token in [&kept, &second] {
        let print = notion_airtable_sync::http::webhooks::verification::fingerprint(token);
        assert!(text.contains(&print), "{print} is logged:\n{text}");
        // Not the token, nor the part after its fixed `secret_` prefix.
        assert!(!text.contains(&token["secret_".len()..][..8]), "{text}");
    }
}
