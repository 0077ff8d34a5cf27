//! `POST /webhooks/airtable`.

use futures::future::join_all;
use notion_airtable_sync::{
    jobs::spec::JobSpec,
    signature::airtable_mac,
    store::{JobState, now_ms},
};
use serde_json::json;

use super::support::*;

async fn last_ping_at(db: &TestDb) -> Option<i64> {
    db.store
        .get_webhook(WEBHOOK_ID)
        .await
        .expect("read")
        .expect("registered")
        .last_ping_at
}

pub async fn a_good_ping_enqueues_one_payload_fetch(db: TestDb) {
    register_webhook(&db.store).await;
    let server = start(&db).await;
    let before = now_ms();
    let response = server.airtable(&ping(WEBHOOK_ID)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.text().await.expect("body"),
        "",
        "Airtable wants an empty body"
    );
    let pending = db.jobs(JobState::Pending).await;
    assert_eq!(pending.len(), 1);
    let expected = JobSpec::AirtablePayloads {
        webhook_id: WEBHOOK_ID.into(),
    };
    assert_eq!(
        JobSpec::from_payload(&pending[0].payload).expect("payload"),
        expected
    );
    assert_eq!(pending[0].key, expected.key());
    assert!(
        pending[0].run_at <= now_ms(),
        "a payload fetch is due at once"
    );
    assert!(last_ping_at(&db).await.is_some_and(|at| at >= before));

    // Ten more pings (Airtable coalesces and retries them too) while the
    // fetch waits: still one pending fetch.
    let body = ping(WEBHOOK_ID);
    let pings = (0..10).map(|_| server.airtable(&body));
    for response in join_all(pings).await {
        assert_eq!(response.status(), 200);
    }
    assert_eq!(db.jobs(JobState::Pending).await.len(), 1);
    assert_eq!(db.count("jobs").await, 1);
}

pub async fn bad_macs_are_refused_and_nothing_is_stored(db: TestDb) {
    register_webhook(&db.store).await;
    let server = start(&db).await;
    let body = ping(WEBHOOK_ID);
    let good = airtable_mac(MAC_SECRET, &body).expect("mac");
    let hex = good.trim_start_matches("hmac-sha256=");
    let forged = airtable_mac("b3RoZXIta2V5", &body).expect("mac"); // other-key
    let truncated = &good[..good.len() - 1];
    let wrong_scheme = format!("sha256={hex}");
    // The secret used as is, without base64-decoding it: a classic mistake.
    let undecoded = {
        use base64::Engine as _;
        let raw = base64::engine::general_purpose::STANDARD.encode(MAC_SECRET);
        airtable_mac(&raw, &body).expect("mac")
    };
    let cases: Vec<(&str, Option<&str>)> = vec![
        ("missing", None),
        ("forged with another secret", Some(&forged)),
        ("key not base64-decoded", Some(&undecoded)),
        ("truncated", Some(truncated)),
        ("wrong scheme", Some(&wrong_scheme)),
        ("bare hex", Some(hex)),
    ];
    for (case, header) in cases {
        let headers: Vec<(&str, &str)> = header
            .map(|h| vec![("x-airtable-content-mac", h)])
            .unwrap_or_default();
        let response = server
            .post_raw("/webhooks/airtable", &headers, body.clone())
            .await;
        let message = error_of(response, 401).await;
        assert!(
            message.contains("X-Airtable-Content-MAC"),
            "{case}: {message}"
        );
    }
    // Right MAC, other bytes (re-serialised JSON hashes differently).
    let reserialised = serde_json::to_vec_pretty(
        &serde_json::from_slice::<serde_json::Value>(&body).expect("json"),
    )
    .expect("json");
    let response = server
        .post_raw(
            "/webhooks/airtable",
            &[("x-airtable-content-mac", &good)],
            reserialised,
        )
        .await;
    error_of(response, 401).await;
    db.assert_nothing_stored().await;
    assert_eq!(last_ping_at(&db).await, None);
}

pub async fn an_unknown_webhook_id_is_401(db: TestDb) {
    register_webhook(&db.store).await;
    let server = start(&db).await;
    // Correctly signed with our secret, but for a webhook we never registered.
    let message = error_of(server.airtable(&ping("achUNKNOWN0000000")).await, 401).await;
    assert!(message.contains("unknown Airtable webhook"), "{message}");
    db.assert_nothing_stored().await;
    assert_eq!(last_ping_at(&db).await, None);
}

pub async fn malformed_pings_are_400_only_when_authentic(db: TestDb) {
    register_webhook(&db.store).await;
    let server = start(&db).await;
    // Signed with the webhook's secret, but not a ping.
    let garbage = b"{\"base\": {\"id\": ".to_vec();
    let message = error_of(server.airtable(&garbage).await, 400).await;
    assert!(message.contains("webhook.id"), "{message}");
    let no_base =
        bytes(&json!({"webhook": {"id": WEBHOOK_ID}, "timestamp": "2022-02-01T21:25:05.663Z"}));
    error_of(server.airtable(&no_base).await, 400).await;
    // The same garbage signed with a key we do not know is a forgery.
    let mac = airtable_mac("b3RoZXIta2V5", &garbage).expect("mac");
    let response = server
        .post_raw(
            "/webhooks/airtable",
            &[("x-airtable-content-mac", &mac)],
            garbage,
        )
        .await;
    error_of(response, 401).await;
    db.assert_nothing_stored().await;
    assert_eq!(last_ping_at(&db).await, None);
}

pub async fn database_down_is_503(db: TestDb) {
    register_webhook(&db.store).await;
    let server = start(&db).await;
    db.store.close().await;
    error_of(server.airtable(&ping(WEBHOOK_ID)).await, 503).await;
}
