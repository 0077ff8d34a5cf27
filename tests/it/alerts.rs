//! Alerts against a local receiver (a small axum server, over HTTP), on
//! both backends: a condition starts and clears with one message each; a
//! flapping condition starts at most once per hour (the clock is moved, not
//! waited for); two replicas send each message once; a receiver that is
//! down gets the message once it is back, once; every condition the
//! service watches starts, and no body carries a secret.

mod conditions;
pub mod receiver;

use std::{
    sync::{
        Arc,
        atomic::{AtomicI64, Ordering},
    },
    time::Duration,
};

use notion_airtable_sync::{
    alerts::{AlertConfig, Alerts},
    config::ApiBudgets,
    secret::Secret,
    store::{IssueScope, NewIssue, Store, now_ms},
};
use serde_json::Value;

use crate::common::{TestDb, wait::eventually};
use receiver::Receiver;

both_backends!(
    a_condition_starts_and_clears_with_one_message_each,
    a_flapping_condition_starts_at_most_once_an_hour,
    two_replicas_send_each_message_once,
    a_receiver_that_was_down_gets_the_message_once,
);

pub(crate) const MIN: i64 = 60_000;
pub(crate) const BASE: &str = "appTeamBase0001";
pub(crate) const NOTION_TOKEN: &str = "ntn_alerttestsecret0001";
pub(crate) const AIRTABLE_TOKEN: &str = "patALERTTESTSECRET0002";
pub(crate) const DB_PASSWORD: &str = "pgalertpassword0003";

/// A clock the test moves.
pub(crate) struct TestClock(Arc<AtomicI64>);

impl TestClock {
    pub(crate) fn at(now: i64) -> Self {
        TestClock(Arc::new(AtomicI64::new(now)))
    }

    pub(crate) fn set(&self, now: i64) -> i64 {
        self.0.store(now, Ordering::SeqCst);
        now
    }

    pub(crate) fn config(&self) -> AlertConfig {
        let clock = self.0.clone();
        AlertConfig {
            clock: Arc::new(move || clock.load(Ordering::SeqCst)),
            secrets: secrets(),
            ..AlertConfig::default()
        }
    }
}

pub(crate) fn secrets() -> Vec<Secret> {
    [
        NOTION_TOKEN.to_owned(),
        AIRTABLE_TOKEN.to_owned(),
        format!("postgres://sync:{DB_PASSWORD}@db/sync"),
    ]
    .into_iter()
    .map(Secret::new)
    .collect()
}

pub(crate) fn alerts(store: &Store, receiver: &Receiver, config: AlertConfig) -> Alerts {
    alerts_with_budget(store, receiver, config, 100)
}

/// Alerts with `BASE`'s monthly budget at `budget` calls.
pub(crate) fn alerts_with_budget(
    store: &Store,
    receiver: &Receiver,
    config: AlertConfig,
    budget: i64,
) -> Alerts {
    let budgets = ApiBudgets::from_pairs([(BASE, budget)]);
    let pairs = vec![("specs".to_owned(), BASE.to_owned())];
    Alerts::new(
        store.clone(),
        Secret::new(receiver.url()),
        config,
        budgets,
        pairs,
    )
    .unwrap()
}

pub(crate) fn drift(pair: &str) -> NewIssue<'_> {
    NewIssue {
        pair,
        scope: IssueScope::Field,
        subject: "Status",
        field: "",
        message: "deleted in Airtable",
    }
}

async fn clear_drift(store: &Store) {
    store
        .clear_issues("specs", IssueScope::Field, "Status")
        .await
        .unwrap();
}

pub(crate) fn states(bodies: &[Value]) -> Vec<(String, String)> {
    bodies
        .iter()
        .map(|b| {
            (
                b["condition"].as_str().unwrap().to_owned(),
                b["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

pub(crate) fn pair(condition: &str, state: &str) -> (String, String) {
    (condition.to_owned(), state.to_owned())
}

async fn a_condition_starts_and_clears_with_one_message_each(db: TestDb) {
    let receiver = Receiver::start().await;
    let clock = TestClock::at(now_ms());
    let alerts = alerts(&db.store, &receiver, clock.config());
    let t0 = clock.set(now_ms());
    db.store.raise_issue(&drift("specs"), t0).await.unwrap();
    let evaluation = alerts.evaluate(t0).await.unwrap();
    assert_eq!(evaluation.started, ["schema_drift:specs"]);
    assert_eq!(alerts.deliver(t0).await.unwrap(), 1);
    let started = receiver.bodies();
    assert_eq!(states(&started), [pair("schema_drift:specs", "started")]);
    let body = &started[0];
    assert_eq!(body["pair"], "specs");
    assert!(
        body["text"].as_str().unwrap().contains("field \"Status\""),
        "{body}"
    );
    assert!(
        body["detail"].as_str().unwrap().contains("pair specs"),
        "{body}"
    );
    assert!(body["at"].as_str().unwrap().ends_with('Z'), "{body}");
    // Still wrong a minute later: nothing more.
    let t1 = clock.set(t0 + MIN);
    assert_eq!(alerts.evaluate(t1).await.unwrap(), Default::default());
    assert_eq!(alerts.deliver(t1).await.unwrap(), 0);
    // Fixed: one clear, repeating what was wrong.
    clear_drift(&db.store).await;
    let t2 = clock.set(t0 + 2 * MIN);
    assert_eq!(
        alerts.evaluate(t2).await.unwrap().cleared,
        ["schema_drift:specs"]
    );
    assert_eq!(alerts.deliver(t2).await.unwrap(), 1);
    let bodies = receiver.bodies();
    assert_eq!(
        states(&bodies),
        [
            pair("schema_drift:specs", "started"),
            pair("schema_drift:specs", "cleared")
        ]
    );
    assert!(
        bodies[1]["text"].as_str().unwrap().contains("resolved"),
        "{}",
        bodies[1]
    );
    let t3 = clock.set(t0 + 3 * MIN);
    assert_eq!(alerts.evaluate(t3).await.unwrap(), Default::default());
    assert_eq!(alerts.deliver(t3).await.unwrap(), 0);
    assert_eq!(receiver.bodies().len(), 2);
}

async fn a_flapping_condition_starts_at_most_once_an_hour(db: TestDb) {
    let receiver = Receiver::start().await;
    let clock = TestClock::at(now_ms());
    let alerts = alerts(&db.store, &receiver, clock.config());
    let t0 = now_ms();
    let round = async |at: i64, wrong: bool| {
        clock.set(at);
        if wrong {
            db.store.raise_issue(&drift("specs"), at).await.unwrap();
        } else {
            clear_drift(&db.store).await;
        }
        alerts.evaluate(at).await.unwrap();
        alerts.deliver(at).await.unwrap();
    };
    // Wrong, right, wrong, right, wrong within the hour: the first start
    // and its clear are sent, the next starts are held back.
    for (minute, wrong) in [
        (0, true),
        (1, false),
        (2, true),
        (3, false),
        (4, true),
        (30, true),
    ] {
        round(t0 + minute * MIN, wrong).await;
    }
    let expected = vec![
        pair("schema_drift:specs", "started"),
        pair("schema_drift:specs", "cleared"),
    ];
    assert_eq!(states(&receiver.bodies()), expected);
    // An hour after the last start it is still wrong: it starts again.
    round(t0 + 60 * MIN, true).await;
    let mut expected = expected;
    expected.push(pair("schema_drift:specs", "started"));
    assert_eq!(states(&receiver.bodies()), expected);
    // Its clear is sent at once, however soon.
    round(t0 + 61 * MIN, false).await;
    expected.push(pair("schema_drift:specs", "cleared"));
    assert_eq!(states(&receiver.bodies()), expected);
}

async fn two_replicas_send_each_message_once(db: TestDb) {
    let receiver = Receiver::start().await;
    let clock = TestClock::at(now_ms());
    let other = Store::connect(&db.url).await.unwrap();
    let first = alerts(&db.store, &receiver, clock.config());
    let second = alerts(&other, &receiver, clock.config());
    let t0 = now_ms();
    db.store.raise_issue(&drift("specs"), t0).await.unwrap();
    for round in 0..3 {
        let at = clock.set(t0 + round * MIN);
        let (a, b) = tokio::join!(first.evaluate(at), second.evaluate(at));
        let decided = a.unwrap().started.len() + b.unwrap().started.len();
        assert_eq!(decided, usize::from(round == 0), "round {round}");
        let (a, b) = tokio::join!(first.deliver(at), second.deliver(at));
        assert_eq!(
            a.unwrap() + b.unwrap(),
            usize::from(round == 0),
            "round {round}"
        );
    }
    clear_drift(&db.store).await;
    let at = clock.set(t0 + 5 * MIN);
    let (a, b) = tokio::join!(first.evaluate(at), second.evaluate(at));
    assert_eq!(a.unwrap().cleared.len() + b.unwrap().cleared.len(), 1);
    let (a, b) = tokio::join!(first.deliver(at), second.deliver(at));
    assert_eq!(a.unwrap() + b.unwrap(), 1);
    assert_eq!(
        states(&receiver.bodies()),
        [
            pair("schema_drift:specs", "started"),
            pair("schema_drift:specs", "cleared")
        ]
    );
}

async fn a_receiver_that_was_down_gets_the_message_once(db: TestDb) {
    // Nothing listens on the receiver's port yet.
    let mut receiver = Receiver::down();
    let config = AlertConfig {
        evaluate_every: Duration::from_millis(100),
        deliver_every: Duration::from_millis(50),
        backoff_base: Duration::from_millis(100),
        backoff_max: Duration::from_millis(400),
        secrets: secrets(),
        ..AlertConfig::default()
    };
    let running = alerts(&db.store, &receiver, config.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(running.run(async {
        let _ = stopped.await;
    }));
    db.store
        .raise_issue(&drift("specs"), now_ms())
        .await
        .unwrap();
    // Failed deliveries are recorded with their error and retried.
    let failed = eventually(20, "two failed deliveries", async || {
        let messages = db.store.alert_messages(10).await.ok()?;
        let m = messages.first()?;
        (m.attempts >= 2 && m.delivered_at.is_none()).then(|| m.clone())
    })
    .await;
    let error = failed.last_error.unwrap();
    assert!(error.contains("could not connect"), "{error}");
    assert!(
        !error.contains(&receiver.url()),
        "the URL is a secret: {error}"
    );
    receiver.up().await;
    eventually(20, "the message delivered", async || {
        let m = db.store.alert_messages(1).await.ok()?.pop()?;
        m.delivered_at.map(|_| ())
    })
    .await;
    let _ = stop.send(());
    task.await.unwrap();
    // Delivered once: another round owes nothing.
    let again = alerts(&db.store, &receiver, config);
    assert_eq!(again.deliver(now_ms()).await.unwrap(), 0);
    assert_eq!(
        states(&receiver.bodies()),
        [pair("schema_drift:specs", "started")]
    );
}
