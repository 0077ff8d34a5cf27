//! What the status page names and draws: records by their title, pairs by
//! their data source and table names, and the last 24 hours as charts, from
//! a store seeded through its own API.

use notion_airtable_sync::{
    config::ApiBudgets,
    http::PairLabel,
    store::{
        Cause, LinkState, LinkUpsert, LogAction, NewLogEntry, Series, Snapshot, SyncDirection,
        SyncSource, now_ms,
    },
};
use serde_json::json;

use super::http::{page_html, section};
use crate::http_ingest::support::{self, Server, TestDb};

const HOUR: i64 = 3_600_000;
const LINKED_PAGE: &str = "2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d";
/// A page whose link is gone: only the log entry that wrote its title names it.
const UNLINKED_PAGE: &str = "3b4c5d6e-7f8a-4b9c-8d0e-2f3a4b5c6d7e";

async fn start(db: &TestDb) -> Server {
    let mut state = support::state(&db.store);
    state.api_budgets = ApiBudgets::from_pairs([(support::BASE_ID, 72_000)]);
    state.pairs = support::directory()
        .with_airtable_table("specs", support::BASE_ID, "tblDelivery000001")
        .with_label(
            "specs",
            PairLabel {
                notion: "Product Specs".into(),
                airtable: "Delivery Tracker".into(),
                title_field: Some("Name".into()),
            },
        );
    support::start_with(state).await
}

fn text(value: &str) -> serde_json::Value {
    json!({"type": "text", "value": value})
}

fn entry(at: i64, page: &str, field: &str, new: &str, direction: SyncDirection) -> NewLogEntry {
    NewLogEntry {
        at,
        pair: "specs".into(),
        notion_page_id: Some(page.into()),
        airtable_record_id: None,
        action: LogAction::Update,
        field: Some(field.into()),
        old_value: Some(text("before")),
        new_value: Some(text(new)),
        direction,
        cause: Cause::Webhook,
        conflict: false,
        winner: None,
        detail: None,
        job_id: None,
        run_id: None,
        undoes: None,
    }
}

async fn seed(db: &TestDb, now: i64, title: &str) {
    let mut snapshot = Snapshot::new();
    snapshot.insert("Name".into(), text(title));
    db.store
        .upsert_link(
            &LinkUpsert {
                pair: "specs".into(),
                notion_page_id: LINKED_PAGE.into(),
                airtable_record_id: Some("recLinked00000001".into()),
                snapshot,
                sync_source: SyncSource::Notion,
                state: LinkState::Active,
                notion_last_edited: None,
                airtable_modified: None,
            },
            now,
        )
        .await
        .unwrap();
    use SyncDirection::{AirtableToNotion as ToNotion, NotionToAirtable as ToAirtable};
    let entries = [
        entry(now, LINKED_PAGE, "Status", "Ready", ToAirtable),
        entry(now, LINKED_PAGE, "Priority", "P1", ToAirtable),
        entry(now - 2 * HOUR, LINKED_PAGE, "Sprint", "S30", ToNotion),
        entry(now, UNLINKED_PAGE, "Name", "Offline mode", ToNotion),
        // Older than the charts' day: drawn nowhere.
        entry(now - 30 * HOUR, LINKED_PAGE, "Status", "Draft", ToAirtable),
    ];
    db.store.append_log(&entries).await.unwrap();
    let lags: Vec<(Series, i64)> = (1..=100)
        .map(|i| (Series::LagToAirtable, i * 100))
        .collect();
    db.store.record_samples(now, &lags).await.unwrap();
    db.store
        .record_samples(now - HOUR, &[(Series::QueueDue, 4)])
        .await
        .unwrap();
    db.store
        .record_samples(now - HOUR + 1, &[(Series::QueueDue, 9)])
        .await
        .unwrap();
    // Airtable calls: 3 this hour, 2 three hours ago; the Notion integration 4.
    for at in [now, now, now, now - 3 * HOUR, now - 3 * HOUR] {
        db.store
            .count_api_call("airtable", support::BASE_ID, 200, at);
    }
    for _ in 0..4 {
        db.store.count_api_call("notion", "integration", 200, now);
    }
    db.store.flush_api_calls().await.unwrap();
}

pub async fn records_and_pairs_are_named_and_the_day_is_drawn(db: TestDb) {
    let now = now_ms();
    seed(&db, now, "Checkout <redesign>").await;
    let server = start(&db).await;
    let html = page_html(&server).await;

    let pairs = section(&html, "pairs");
    assert!(
        pairs.contains("Notion <b>Product Specs</b> ⇄ Airtable <b>Delivery Tracker</b>"),
        "{pairs}"
    );
    assert!(
        pairs.contains("Delivery Tracker <span class=\"muted\">"),
        "{pairs}"
    );

    // Records by title, escaped; a record whose link is gone by the title
    // its entry wrote.
    let changes = section(&html, "changes");
    assert!(
        changes.contains("<b class=\"record-title\">Checkout &lt;redesign&gt;</b>"),
        "{changes}"
    );
    assert!(
        changes.contains("<b class=\"record-title\">Offline mode</b>"),
        "{changes}"
    );

    let activity = section(&html, "activity");
    let chart = |id: &str| {
        let start = activity.find(&format!("id=\"{id}\"")).expect(id);
        let end = activity[start..].find("</figure>").expect("figure end") + start;
        activity[start..end].to_owned()
    };
    // Two changes to Airtable this hour, one to Notion this hour (the
    // title) and one two hours ago; the 30-hour-old one is not drawn.
    let changes = chart("chart-changes");
    assert_eq!(changes.matches("<rect").count(), 3, "{changes}");
    assert!(changes.contains("Notion → Airtable (2)"), "{changes}");
    assert!(changes.contains("Airtable → Notion (2)"), "{changes}");
    assert!(
        changes.contains("· Notion → Airtable: 2</title>"),
        "{changes}"
    );
    // p50 and p99 of 100 ms … 10 s.
    let lag = chart("chart-lag-airtable");
    assert!(lag.contains("· p50: 5 s</title>"), "{lag}");
    assert!(lag.contains("· p99: 9 s</title>"), "{lag}");
    let other_way = chart("chart-lag-notion");
    assert_eq!(other_way.matches("<rect").count(), 0, "{other_way}");
    // The queue: the most seen in the hour.
    let queue = chart("chart-queue");
    assert_eq!(queue.matches("<rect").count(), 1, "{queue}");
    assert!(queue.contains("· due jobs: 9</title>"), "{queue}");
    // API calls per scope, the base's against its monthly budget spread
    // over the month's hours (72,000 / 720 or 744 hours: about 100).
    let airtable = chart(&format!("chart-api-airtable-{}", support::BASE_ID));
    assert_eq!(airtable.matches("<rect").count(), 2, "{airtable}");
    assert!(airtable.contains("· calls: 3</title>"), "{airtable}");
    assert!(airtable.contains("calls (5)"), "{airtable}");
    assert!(airtable.contains("<line class=\"limit\""), "{airtable}");
    let notion = chart("chart-api-notion-integration");
    assert!(notion.contains("· calls: 4</title>"), "{notion}");
    assert!(!notion.contains("class=\"limit\""), "{notion}");
}

pub async fn without_a_mapped_title_records_keep_their_links(db: TestDb) {
    let now = now_ms();
    seed(&db, now, "Checkout").await;
    let mut state = support::state(&db.store);
    state.pairs = support::directory().with_label(
        "specs",
        PairLabel {
            notion: "Product Specs".into(),
            airtable: "Delivery Tracker".into(),
            title_field: None,
        },
    );
    let server = support::start_with(state).await;
    let html = page_html(&server).await;
    let changes = section(&html, "changes");
    assert!(!changes.contains("record-title"), "{changes}");
    assert!(changes.contains("Notion ↗"), "{changes}");
}
