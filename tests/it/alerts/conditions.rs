//! Every condition the service watches starts and clears, and no body
//! carries a secret; short rate-limit pauses back to back start only once
//! they have lasted five minutes.

use std::time::Duration;

use notion_airtable_sync::{
    secret::Secret,
    store::{IssueScope, NewAirtableWebhook, NewIssue, NewJob, Store, WebhookStatus, now_ms},
};
use serde_json::Value;

use super::{
    AIRTABLE_TOKEN, BASE, DB_PASSWORD, MIN, NOTION_TOKEN, TestClock, alerts, alerts_with_budget,
    drift, pair,
    receiver::{self, Receiver},
    states,
};
use crate::common::TestDb;

both_backends!(
    every_condition_starts_and_clears_and_no_body_carries_a_secret,
    short_pauses_back_to_back_start_after_five_minutes,
);

const WEBHOOK: &str = "achAlerts0001";
const KINDS: [&str; 7] = [
    "airtable_webhook",
    "api_budget",
    "dead_jobs",
    "queue_behind",
    "rate_limit_pause",
    "schema_drift",
    "token_refused",
];

/// Make every condition hold at `t0`; returns the drifting field's name.
async fn break_everything(store: &Store, t0: i64) -> String {
    // A dead job whose error names a token (errors are never sent).
    let job = NewJob {
        max_attempts: 1,
        pair: Some("specs".into()),
        ..NewJob::new("sweep", "sweep:specs", t0 - 30 * MIN)
    };
    store.enqueue(&job, t0 - 30 * MIN).await.unwrap();
    let job = store
        .claim(Duration::from_secs(30), t0)
        .await
        .unwrap()
        .unwrap();
    let error = format!("401 for token {AIRTABLE_TOKEN}");
    assert!(
        store
            .bury(job.id, &job.lease_token, &error, t0)
            .await
            .unwrap()
    );
    // A field issue whose subject carries a token (as if a person had
    // pasted one into a field's name): redacted.
    let subject = format!("Notes {NOTION_TOKEN}");
    let issue = NewIssue {
        subject: &subject,
        ..drift("specs")
    };
    store.raise_issue(&issue, t0).await.unwrap();
    // The base past its budget (100), and its token refused last.
    for _ in 0..150 {
        store.count_api_call("airtable", BASE, 200, t0);
    }
    store.count_api_call("airtable", BASE, 401, t0 + 1);
    store.flush_api_calls().await.unwrap();
    // A webhook about to expire, whose URL carries a password.
    let webhook = NewAirtableWebhook {
        webhook_id: WEBHOOK.into(),
        pair: "specs".into(),
        base_id: BASE.into(),
        table_id: "tblSpecs".into(),
        mac_secret_base64: Secret::new("bWFjc2VjcmV0"),
        expires_at: Some(t0 + 3_600_000),
        notification_url: Some(format!(
            "https://sync:{DB_PASSWORD}@sync.example/webhooks/airtable"
        )),
    };
    store.upsert_webhook(&webhook, t0).await.unwrap();
    // A 10-minute pause on the base's budget; a job due 20 minutes ago.
    let budget = format!("airtable:{BASE}");
    store.penalize(&budget, t0 + 10 * MIN, t0).await.unwrap();
    let late = NewJob::new("reconcile_page", "page:late", t0 - 20 * MIN);
    store.enqueue(&late, t0 - 20 * MIN).await.unwrap();
    subject
}

/// Put every condition right at `t1` (past the pause); the budget is
/// raised by the caller.
async fn fix_everything(store: &Store, subject: &str, t1: i64) {
    let dead = store
        .list_jobs(Some(notion_airtable_sync::store::JobState::Dead), 10)
        .await
        .unwrap();
    store.retry_dead(dead[0].id, t1).await.unwrap();
    for _ in 0..2 {
        let job = store
            .claim(Duration::from_secs(30), t1)
            .await
            .unwrap()
            .unwrap();
        assert!(store.complete(job.id, &job.lease_token, t1).await.unwrap());
    }
    store
        .clear_issues("specs", IssueScope::Field, subject)
        .await
        .unwrap();
    store.count_api_call("airtable", BASE, 200, t1);
    store.flush_api_calls().await.unwrap();
    let healthy = WebhookStatus {
        expires_at: Some(t1 + 7 * 24 * 60 * MIN),
        notifications_enabled: true,
        hook_enabled: true,
        last_result: None,
    };
    assert!(
        store
            .update_webhook_status(WEBHOOK, &healthy, t1)
            .await
            .unwrap()
    );
}

fn kinds(bodies: &[Value], state: &str) -> Vec<String> {
    let mut kinds: Vec<String> = bodies
        .iter()
        .filter(|b| b["state"] == state)
        .map(|b| b["kind"].as_str().unwrap().to_owned())
        .collect();
    kinds.sort_unstable();
    kinds
}

async fn every_condition_starts_and_clears_and_no_body_carries_a_secret(db: TestDb) {
    let receiver = Receiver::start().await;
    let clock = TestClock::at(now_ms());
    let alerts = alerts(&db.store, &receiver, clock.config());
    let t0 = clock.set(now_ms());
    let subject = break_everything(&db.store, t0).await;
    let started = alerts.evaluate(t0).await.unwrap().started;
    assert_eq!(alerts.deliver(t0).await.unwrap(), 7, "{started:?}");
    assert_eq!(kinds(&receiver.bodies(), "started"), KINDS);
    let bodies = receiver.bodies();
    let budget = bodies.iter().find(|b| b["kind"] == "api_budget").unwrap();
    let detail = budget["detail"].as_str().unwrap();
    assert!(
        detail.contains("is used up") && detail.contains("151 of 100"),
        "{detail}"
    );
    assert!(detail.contains("webhooks still sync"), "{detail}");
    assert_eq!(budget["pair"], "specs");
    let drifted = bodies.iter().find(|b| b["kind"] == "schema_drift").unwrap();
    assert!(
        drifted["detail"].as_str().unwrap().contains("[redacted]"),
        "{drifted}"
    );

    // Everything fixed, the budget raised: seven clears.
    let t1 = clock.set(t0 + 11 * MIN);
    fix_everything(&db.store, &subject, t1).await;
    let raised = alerts_with_budget(&db.store, &receiver, clock.config(), 1_000_000);
    let cleared = raised.evaluate(t1).await.unwrap().cleared;
    assert_eq!(raised.deliver(t1).await.unwrap(), 7, "{cleared:?}");
    let bodies = receiver.bodies();
    assert_eq!(kinds(&bodies, "cleared"), KINDS);
    let url = receiver.url();
    for body in &bodies {
        let text = body.to_string();
        for secret in [
            NOTION_TOKEN,
            AIRTABLE_TOKEN,
            DB_PASSWORD,
            url.as_str(),
            receiver::KEY,
        ] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }
    assert_eq!(raised.evaluate(t1 + MIN).await.unwrap(), Default::default());
}

async fn short_pauses_back_to_back_start_after_five_minutes(db: TestDb) {
    let receiver = Receiver::start().await;
    let clock = TestClock::at(now_ms());
    let alerts = alerts_with_budget(&db.store, &receiver, clock.config(), 1_000_000);
    let budget = format!("airtable:{BASE}");
    let t0 = now_ms();
    // A 30-second pause renewed every 30 seconds: seen at each evaluation.
    let mut at = t0;
    let mut started_at = None;
    while at <= t0 + 6 * MIN {
        clock.set(at);
        db.store.penalize(&budget, at + 30_000, at).await.unwrap();
        if !alerts.evaluate(at).await.unwrap().started.is_empty() {
            started_at.get_or_insert(at);
        }
        at += 30_000;
    }
    assert_eq!(
        started_at,
        Some(t0 + 5 * MIN),
        "after five minutes of pauses"
    );
    // The pause over, it clears.
    let end = clock.set(at + MIN);
    assert_eq!(alerts.evaluate(end).await.unwrap().cleared.len(), 1);
    alerts.deliver(end).await.unwrap();
    let condition = format!("rate_limit_pause:{budget}");
    assert_eq!(
        states(&receiver.bodies()),
        [pair(&condition, "started"), pair(&condition, "cleared")]
    );
    // A single short pause never starts.
    let later = clock.set(end + 2 * 60 * MIN);
    db.store
        .penalize(&budget, later + 30_000, later)
        .await
        .unwrap();
    assert!(alerts.evaluate(later).await.unwrap().started.is_empty());
    let after = clock.set(later + MIN);
    assert_eq!(alerts.evaluate(after).await.unwrap(), Default::default());
}
