//! Airtable webhook registrations, Notion verification tokens, shared rate
//! limits.

use std::{collections::HashSet, time::Duration};

use notion_airtable_sync::{
    secret::Secret,
    store::{NewAirtableWebhook, Pace, Store, WebhookStatus, now_ms},
};
use serde_json::json;

const MAC_SECRET: &str = "c2VjcmV0LW1hYy1rZXk=";

fn registration(id: &str, pair: &str) -> NewAirtableWebhook {
    NewAirtableWebhook {
        webhook_id: id.into(),
        pair: pair.into(),
        base_id: "app123".into(),
        table_id: "tbl456".into(),
        mac_secret_base64: Secret::new(MAC_SECRET),
        expires_at: Some(7 * 24 * 3_600_000),
        notification_url: Some("https://sync.example.com/webhooks/airtable".into()),
    }
}

pub async fn cursor_update_rolled_back_keeps_old_cursor(store: Store) {
    let now = now_ms();
    store
        .upsert_webhook(&registration("ach1", "specs"), now)
        .await
        .expect("upsert");
    assert_eq!(cursor(&store).await, 1, "cursors start at 1");

    let mut tx = store.begin().await.expect("begin");
    assert!(tx.set_webhook_cursor("ach1", 5, now).await.expect("set"));
    tx.rollback().await.expect("rollback");
    assert_eq!(cursor(&store).await, 1);

    let mut tx = store.begin().await.expect("begin");
    assert!(
        tx.set_webhook_cursor("ach1", 5, now + 1)
            .await
            .expect("set")
    );
    tx.commit().await.expect("commit");
    let stored = store
        .get_webhook("ach1")
        .await
        .expect("get")
        .expect("exists");
    assert_eq!((stored.cursor, stored.last_fetch_at), (5, Some(now + 1)));

    // Cursors never go back; the same cursor again is a fetch with nothing new.
    assert!(!store.set_webhook_cursor("ach1", 4, now).await.expect("set"));
    assert!(
        store
            .set_webhook_cursor("ach1", 5, now + 2)
            .await
            .expect("set")
    );
    assert!(
        !store
            .set_webhook_cursor("unknown", 9, now)
            .await
            .expect("set")
    );
    assert_eq!(cursor(&store).await, 5);
    // Re-registering the same webhook keeps its cursor.
    store
        .upsert_webhook(&registration("ach1", "specs"), now + 3)
        .await
        .expect("upsert");
    assert_eq!(cursor(&store).await, 5);
}

async fn cursor(store: &Store) -> i64 {
    store
        .get_webhook("ach1")
        .await
        .expect("get")
        .expect("exists")
        .cursor
}

pub async fn webhook_registration_status_and_secret(store: Store) {
    let now = now_ms();
    store
        .upsert_webhook(&registration("ach1", "specs"), now)
        .await
        .expect("upsert");
    store
        .upsert_webhook(&registration("ach2", "roadmap"), now)
        .await
        .expect("upsert");
    let stored = store
        .get_webhook("ach1")
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(stored.mac_secret_base64.expose(), MAC_SECRET);
    assert!(stored.notifications_enabled && stored.hook_enabled);
    assert!(
        !format!("{stored:?}").contains(MAC_SECRET),
        "the secret leaks in Debug"
    );

    assert!(
        store
            .record_webhook_ping("ach1", now + 10)
            .await
            .expect("ping")
    );
    assert!(!store.record_webhook_ping("nope", now).await.expect("ping"));
    let status = WebhookStatus {
        expires_at: Some(now + 1_000),
        notifications_enabled: false,
        hook_enabled: true,
        last_result: Some(json!({"success": false, "error": {"message": "timeout"}})),
    };
    assert!(
        store
            .update_webhook_status("ach1", &status, now + 20)
            .await
            .expect("status")
    );
    let updated = store
        .get_webhook("ach1")
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(updated.last_ping_at, Some(now + 10));
    assert_eq!(updated.expires_at, Some(now + 1_000));
    assert!(!updated.notifications_enabled);
    assert_eq!(updated.last_result, status.last_result);
    assert_eq!(updated.updated_at, now + 20);

    let all = store.list_webhooks(None).await.expect("list");
    let ids: Vec<_> = all.iter().map(|w| w.webhook_id.as_str()).collect();
    assert_eq!(ids, ["ach2", "ach1"], "by pair, then id");
    let specs = store.list_webhooks(Some("specs")).await.expect("list");
    assert_eq!(specs.len(), 1);
    assert!(store.delete_webhook("ach1").await.expect("delete"));
    assert!(store.get_webhook("ach1").await.expect("get").is_none());
    assert!(!store.delete_webhook("ach1").await.expect("delete"));
}

pub async fn verification_tokens_stay_pending_until_acknowledged(store: Store) {
    let token = Secret::new("secret_verification_abc");
    assert!(
        store
            .record_verification_token(&token, 100, Some("203.0.113.7"))
            .await
            .expect("record")
    );
    assert!(
        !store
            .record_verification_token(&token, 200, None)
            .await
            .expect("dedupe")
    );
    let other = Secret::new("secret_verification_xyz");
    assert!(
        store
            .record_verification_token(&other, 300, None)
            .await
            .expect("record")
    );

    let pending = store.pending_verification_tokens().await.expect("pending");
    let tokens: Vec<_> = pending.iter().map(|t| t.token.expose()).collect();
    assert_eq!(
        tokens,
        ["secret_verification_xyz", "secret_verification_abc"],
        "newest first"
    );
    assert_eq!(pending[1].received_at, 100, "the first delivery is kept");
    assert_eq!(pending[1].remote_addr.as_deref(), Some("203.0.113.7"));
    assert!(!format!("{pending:?}").contains("secret_verification"));

    assert!(
        store
            .acknowledge_verification_token("secret_verification_abc", 400)
            .await
            .expect("ack")
    );
    assert!(
        !store
            .acknowledge_verification_token("secret_verification_abc", 500)
            .await
            .expect("ack")
    );
    assert!(
        !store
            .acknowledge_verification_token("unknown", 500)
            .await
            .expect("ack")
    );
    let pending = store.pending_verification_tokens().await.expect("pending");
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].token, other);
}

pub async fn penalty_keeps_the_latest_deadline(store: Store) {
    let now = 1_000_000;
    assert_eq!(
        store
            .blocked_until("airtable:app1", now)
            .await
            .expect("read"),
        None
    );
    store
        .penalize("airtable:app1", now + 30_000, now)
        .await
        .expect("penalize");
    store
        .penalize("airtable:app1", now + 7_000, now + 1)
        .await
        .expect("penalize");
    assert_eq!(
        store
            .blocked_until("airtable:app1", now)
            .await
            .expect("read"),
        Some(now + 30_000)
    );
    store
        .penalize("airtable:app1", now + 60_000, now + 2)
        .await
        .expect("penalize");
    assert_eq!(
        store
            .blocked_until("airtable:app1", now)
            .await
            .expect("read"),
        Some(now + 60_000)
    );
    assert_eq!(
        store
            .blocked_until("airtable:app1", now + 60_000)
            .await
            .expect("read"),
        None
    );
    assert_eq!(
        store.blocked_until("notion:int1", now).await.expect("read"),
        None,
        "per budget"
    );
}

pub async fn reserve_slot_spaces_calls_and_honours_penalty(store: Store) {
    let now = 1_000_000;
    let spaced = Pace::Spaced {
        interval: Duration::from_millis(200),
        burst: Duration::ZERO,
    };
    let mut starts = Vec::new();
    for _ in 0..3 {
        starts.push(
            store
                .reserve_slot("notion:int1", &spaced, now)
                .await
                .expect("reserve"),
        );
    }
    assert_eq!(starts, [now, now + 200, now + 400]);

    // A 429 pushes the schedule past the penalty.
    store
        .penalize("notion:int1", now + 5_000, now)
        .await
        .expect("penalize");
    let after = store
        .reserve_slot("notion:int1", &spaced, now)
        .await
        .expect("reserve");
    assert_eq!(after, now + 5_000);

    // A burst allowance of two intervals lets three calls start at once.
    let bursty_pace = Pace::Spaced {
        interval: Duration::from_millis(200),
        burst: Duration::from_millis(400),
    };
    let mut bursty = Vec::new();
    for _ in 0..4 {
        bursty.push(
            store
                .reserve_slot("airtable:app1", &bursty_pace, now)
                .await
                .expect("reserve"),
        );
    }
    assert_eq!(bursty, [now, now, now, now + 200]);
    // Time passing frees the schedule again.
    let later = store
        .reserve_slot("airtable:app1", &bursty_pace, now + 10_000)
        .await
        .expect("reserve");
    assert_eq!(later, now + 10_000);
}

pub async fn concurrent_reservations_get_distinct_slots(store: Store) {
    let now = 1_000_000;
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .reserve_slot(
                        "airtable:app1",
                        &Pace::Spaced {
                            interval: Duration::from_millis(200),
                            burst: Duration::ZERO,
                        },
                        now,
                    )
                    .await
                    .expect("reserve")
            })
        })
        .collect();
    let mut starts = HashSet::new();
    for task in tasks {
        starts.insert(task.await.expect("task"));
    }
    let expected: HashSet<i64> = (0..20).map(|i| now + 200 * i).collect();
    assert_eq!(starts, expected, "one slot each, 200 ms apart");
}

pub async fn a_window_budget_admits_its_calls_together_across_clients(store: Store) {
    let now = 1_000_000;
    let window = Pace::Window {
        calls: 5,
        window: Duration::from_millis(1_000),
    };
    let tasks: Vec<_> = (0..12)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .reserve_slot("airtable:app2", &window, now)
                    .await
                    .expect("reserve")
            })
        })
        .collect();
    let mut starts = Vec::new();
    for task in tasks {
        starts.push(task.await.expect("task"));
    }
    starts.sort_unstable();
    let expected: Vec<i64> = (0..12).map(|i| now + 1_000 * (i / 5)).collect();
    assert_eq!(
        starts, expected,
        "five per window, the rest in the next ones"
    );

    // A penalty holds the window back too.
    store
        .penalize("airtable:app2", now + 60_000, now)
        .await
        .expect("penalize");
    let after = store
        .reserve_slot("airtable:app2", &window, now + 1)
        .await
        .expect("reserve");
    assert_eq!(after, now + 60_000);
}
