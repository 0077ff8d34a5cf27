//! The webhook inbox, record links and snapshots, the sync log, sweeps.

use notion_airtable_sync::store::{
    Cause, InboxEvent, LinkState, LinkUpsert, LogAction, LogQuery, NewJob, NewLogEntry, Side,
    Snapshot, Store, SweepKind, SyncDirection, SyncSource, now_ms,
};
use serde_json::json;

fn event(id: &str, at: i64) -> InboxEvent {
    InboxEvent {
        source: "notion".into(),
        event_id: id.into(),
        received_at: at,
        summary: Some("page.properties_updated".into()),
    }
}

pub async fn inbox_dedupes_concurrent_deliveries(store: Store) {
    let now = now_ms();
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut tx = store.begin().await.expect("begin");
                let fresh = tx.insert_inbox(&event("evt-1", now)).await.expect("insert");
                tx.commit().await.expect("commit");
                fresh
            })
        })
        .collect();
    let mut fresh = 0;
    for task in tasks {
        fresh += usize::from(task.await.expect("task"));
    }
    assert_eq!(fresh, 1, "exactly one delivery is new");
    // Same id from the other source is a different event.
    let airtable = InboxEvent {
        source: "airtable".into(),
        ..event("evt-1", now)
    };
    assert!(store.insert_inbox(&airtable).await.expect("insert"));
    assert!(!store.insert_inbox(&airtable).await.expect("insert"));

    assert!(
        store
            .insert_inbox(&event("old", now - 10_000))
            .await
            .expect("insert")
    );
    assert_eq!(store.prune_inbox(now - 1).await.expect("prune"), 1);
    assert!(
        store
            .insert_inbox(&event("old", now))
            .await
            .expect("forgotten after pruning")
    );
}

pub async fn inbox_and_job_roll_back_together(store: Store) {
    let now = now_ms();
    let job = NewJob::new("reconcile", "reconcile:specs:notion:p1", now);
    let mut tx = store.begin().await.expect("begin");
    assert!(tx.insert_inbox(&event("evt-2", now)).await.expect("insert"));
    tx.enqueue(&job, now).await.expect("enqueue");
    drop(tx); // e.g. the handler failed before committing: nothing happened
    assert_eq!(store.job_counts().await.expect("counts").pending, 0);

    let mut tx = store.begin().await.expect("begin");
    assert!(
        tx.insert_inbox(&event("evt-2", now)).await.expect("insert"),
        "not recorded before"
    );
    tx.enqueue(&job, now).await.expect("enqueue");
    tx.commit().await.expect("commit");
    assert_eq!(store.job_counts().await.expect("counts").pending, 1);
    assert!(
        !store
            .insert_inbox(&event("evt-2", now))
            .await
            .expect("insert")
    );
}

fn snapshot(status: &str) -> Snapshot {
    let value = json!({"Name": "Spec A", "Status": status, "Owner": null, "Tags": ["a", "b"]});
    value.as_object().cloned().expect("an object")
}

fn link(page: &str, record: Option<&str>, status: &str) -> LinkUpsert {
    LinkUpsert {
        pair: "specs".into(),
        notion_page_id: page.into(),
        airtable_record_id: record.map(str::to_owned),
        snapshot: snapshot(status),
        sync_source: SyncSource::Notion,
        state: LinkState::Active,
        notion_last_edited: Some(1_000),
        airtable_modified: None,
    }
}

pub async fn links_roundtrip_with_snapshot(store: Store) {
    let now = now_ms();
    let mut tx = store.begin().await.expect("begin");
    let id = tx
        .upsert_link(&link("page-1", None, "Draft"), now)
        .await
        .expect("upsert");
    tx.commit().await.expect("commit");
    let stored = store
        .get_link_by_page("specs", "page-1")
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(stored.id, id);
    assert_eq!(stored.airtable_record_id, None);
    assert_eq!(stored.snapshot, snapshot("Draft"));
    assert_eq!((stored.created_at, stored.last_synced_at), (now, Some(now)));

    // The row is created: the link gains its record id and a new snapshot.
    let mut update = link("page-1", Some("rec1"), "Ready");
    update.sync_source = SyncSource::Service;
    update.airtable_modified = Some(2_000);
    assert_eq!(
        store.upsert_link(&update, now + 1).await.expect("upsert"),
        id
    );
    let by_record = store
        .get_link_by_record("specs", "rec1")
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(by_record.notion_page_id, "page-1");
    assert_eq!(by_record.snapshot, snapshot("Ready"));
    assert_eq!(by_record.sync_source, SyncSource::Service);
    assert_eq!(
        (by_record.notion_last_edited, by_record.airtable_modified),
        (Some(1_000), Some(2_000))
    );
    assert_eq!((by_record.created_at, by_record.updated_at), (now, now + 1));

    // An upsert without a record id keeps the link; None keeps timestamps.
    let mut trashed = link("page-1", None, "Ready");
    trashed.state = LinkState::NotionTrashed;
    trashed.notion_last_edited = None;
    store.upsert_link(&trashed, now + 2).await.expect("upsert");
    let kept = store
        .get_link_by_page("specs", "page-1")
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(kept.airtable_record_id.as_deref(), Some("rec1"));
    assert_eq!(kept.state, LinkState::NotionTrashed);
    assert_eq!(kept.notion_last_edited, Some(1_000));

    for page in ["page-2", "page-3", "page-4"] {
        store
            .upsert_link(&link(page, None, "Draft"), now)
            .await
            .expect("upsert");
    }
    assert_eq!(store.count_links("specs").await.expect("count"), 4);
    let first = store.list_links("specs", None, 3).await.expect("list");
    let pages: Vec<_> = first.iter().map(|l| l.notion_page_id.as_str()).collect();
    assert_eq!(pages, ["page-1", "page-2", "page-3"]);
    let rest = store
        .list_links("specs", Some("page-3"), 3)
        .await
        .expect("list");
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].notion_page_id, "page-4");

    assert!(store.delete_link("specs", "page-4").await.expect("delete"));
    assert!(!store.delete_link("specs", "page-4").await.expect("delete"));
    assert!(
        store
            .get_link_by_page("specs", "page-4")
            .await
            .expect("get")
            .is_none()
    );
    assert_eq!(store.count_links("specs").await.expect("count"), 3);
}

pub async fn links_are_unique_per_side(store: Store) {
    let now = now_ms();
    store
        .upsert_link(&link("page-1", Some("rec1"), "Draft"), now)
        .await
        .expect("upsert");
    let err = store
        .upsert_link(&link("page-2", Some("rec1"), "Draft"), now)
        .await
        .expect_err("rec1 is linked to page-1");
    assert!(err.is_conflict(), "{err}");
    assert!(!err.is_transient());
    // The same ids in another pair are another link.
    let mut other_pair = link("page-1", Some("rec1"), "Draft");
    other_pair.pair = "roadmap".into();
    store
        .upsert_link(&other_pair, now)
        .await
        .expect("another pair");
    assert_eq!(store.count_links("specs").await.expect("count"), 1);
    assert_eq!(store.count_links("roadmap").await.expect("count"), 1);
}

fn entry(at: i64, pair: &str, page: &str, record: &str, conflict: bool) -> NewLogEntry {
    NewLogEntry {
        at,
        pair: pair.into(),
        notion_page_id: Some(page.into()),
        airtable_record_id: Some(record.into()),
        action: LogAction::Update,
        field: Some("Status".into()),
        old_value: Some(json!("Draft")),
        new_value: Some(json!("Ready")),
        direction: SyncDirection::NotionToAirtable,
        cause: Cause::Webhook,
        conflict,
        winner: conflict.then_some(Side::Notion),
        detail: conflict.then(|| "rule: notion wins".to_owned()),
        job_id: Some(7),
        run_id: None,
        undoes: None,
    }
}

pub async fn sync_log_filters_and_pages(store: Store) {
    let base = now_ms();
    let entries: Vec<_> = (0..25)
        .map(|i| {
            let pair = if i % 5 == 0 { "roadmap" } else { "specs" };
            let page = format!("page-{}", i % 3);
            entry(base + i, pair, &page, &format!("rec-{}", i % 3), i % 4 == 0)
        })
        .collect();
    let mut tx = store.begin().await.expect("begin");
    tx.append_log(&entries[..20]).await.expect("append");
    tx.commit().await.expect("commit");
    store.append_log(&entries[20..]).await.expect("append");

    let all = store.query_log(&LogQuery::default()).await.expect("query");
    assert_eq!(all.len(), 25);
    assert!(all.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    assert_eq!(all[0].at, base + 24);
    let first = all.last().expect("entries");
    assert_eq!(first.old_value, Some(json!("Draft")));
    assert_eq!((first.conflict, first.winner), (true, Some(Side::Notion)));

    let specs = query(
        &store,
        LogQuery {
            pair: Some("specs".into()),
            ..LogQuery::default()
        },
    )
    .await;
    assert_eq!(specs.len(), 20);
    // A record id matches entries by either side's id.
    let by_page = query(
        &store,
        LogQuery {
            record: Some("page-1".into()),
            ..LogQuery::default()
        },
    )
    .await;
    let by_record = query(
        &store,
        LogQuery {
            record: Some("rec-1".into()),
            ..LogQuery::default()
        },
    )
    .await;
    assert_eq!(by_page.len(), 8);
    assert_eq!(by_page, by_record);
    let since = query(
        &store,
        LogQuery {
            since: Some(base + 20),
            ..LogQuery::default()
        },
    )
    .await;
    assert_eq!(since.len(), 5);
    let conflicts = store.list_conflicts(None, 100).await.expect("conflicts");
    assert_eq!(conflicts.len(), 7);
    assert!(
        conflicts
            .iter()
            .all(|e| e.conflict && e.winner == Some(Side::Notion))
    );
    assert_eq!(
        store
            .list_conflicts(Some("roadmap"), 100)
            .await
            .expect("conflicts")
            .len(),
        2
    );

    // Paging with before_id walks everything exactly once.
    let mut seen = Vec::new();
    let mut before_id = None;
    loop {
        let page = query(
            &store,
            LogQuery {
                before_id,
                limit: 7,
                ..LogQuery::default()
            },
        )
        .await;
        let Some(last) = page.last() else { break };
        before_id = Some(last.id);
        seen.extend(page.iter().map(|e| e.id));
    }
    assert_eq!(seen, all.iter().map(|e| e.id).collect::<Vec<_>>());

    assert_eq!(store.prune_log(base + 10).await.expect("prune"), 10);
    assert_eq!(
        store
            .query_log(&LogQuery::default())
            .await
            .expect("query")
            .len(),
        15
    );
}

async fn query(store: &Store, q: LogQuery) -> Vec<notion_airtable_sync::store::LogEntry> {
    store.query_log(&q).await.expect("query")
}

pub async fn sweeps_record_start_finish_and_high_water(store: Store) {
    assert!(
        store
            .get_sweep("specs", SweepKind::Full)
            .await
            .expect("get")
            .is_none()
    );
    store
        .start_sweep("specs", SweepKind::Incremental, 100)
        .await
        .expect("start");
    let started = store
        .get_sweep("specs", SweepKind::Incremental)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(
        (started.last_started_at, started.last_finished_at),
        (Some(100), None)
    );

    let summary = json!({"checked": 47, "written": 3});
    store
        .finish_sweep("specs", SweepKind::Incremental, 200, &summary, Some(150))
        .await
        .expect("finish");
    // A failed sweep keeps the previous high-water mark.
    store
        .start_sweep("specs", SweepKind::Incremental, 300)
        .await
        .expect("start");
    let mut tx = store.begin().await.expect("begin");
    tx.finish_sweep(
        "specs",
        SweepKind::Incremental,
        400,
        &json!({"error": "timeout"}),
        None,
    )
    .await
    .expect("finish");
    tx.commit().await.expect("commit");
    let sweep = store
        .get_sweep("specs", SweepKind::Incremental)
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(sweep.last_started_at, Some(300));
    assert_eq!(sweep.last_finished_at, Some(400));
    assert_eq!(sweep.last_result, Some(json!({"error": "timeout"})));
    assert_eq!(sweep.high_water, Some(150));

    store
        .start_sweep("specs", SweepKind::Full, 500)
        .await
        .expect("start");
    let kinds: Vec<_> = store
        .list_sweeps()
        .await
        .expect("list")
        .iter()
        .map(|s| s.kind)
        .collect();
    assert_eq!(kinds, [SweepKind::Full, SweepKind::Incremental]);
}

pub async fn issues_are_raised_once_refreshed_and_cleared(store: Store) {
    use notion_airtable_sync::store::{IssueScope, NewIssue};
    let refused = |message| NewIssue {
        pair: "specs",
        scope: IssueScope::Record,
        subject: "page-1",
        field: "Status",
        message,
    };
    assert!(store.raise_issue(&refused("first"), 10).await.unwrap());
    assert!(!store.raise_issue(&refused("again"), 20).await.unwrap());
    let other = NewIssue {
        field: "Priority",
        ..refused("priority refused")
    };
    assert!(store.raise_issue(&other, 30).await.unwrap());
    let drift = NewIssue {
        pair: "other",
        scope: IssueScope::Field,
        subject: "Sprint",
        field: "airtable",
        message: "deleted",
    };
    let mut tx = store.begin().await.unwrap();
    assert!(tx.raise_issue(&drift, 40).await.unwrap());
    tx.commit().await.unwrap();

    let open = store.open_issues(Some("specs")).await.unwrap();
    assert_eq!(open.len(), 2);
    assert_eq!(
        (
            open[0].message.as_str(),
            open[0].first_seen_at,
            open[0].last_seen_at
        ),
        ("again", 10, 20)
    );
    assert_eq!(store.open_issues(None).await.unwrap().len(), 3);

    assert!(
        store
            .clear_issue("specs", IssueScope::Record, "page-1", "Status")
            .await
            .unwrap()
    );
    assert!(
        !store
            .clear_issue("specs", IssueScope::Record, "page-1", "Status")
            .await
            .unwrap()
    );
    assert!(store.raise_issue(&refused("back"), 50).await.unwrap());
    assert_eq!(
        store
            .clear_issues("specs", IssueScope::Record, "page-1")
            .await
            .unwrap(),
        2
    );
    let left = store.open_issues(None).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].scope, IssueScope::Field);

    // A record's fresh sync keeps what is still wrong, drops what is fixed.
    store.raise_issue(&refused("status"), 60).await.unwrap();
    store.raise_issue(&other, 60).await.unwrap();
    let mut tx = store.begin().await.unwrap();
    let cleared = tx
        .clear_issues_except("specs", IssueScope::Record, "page-1", &["Priority"])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(cleared, 1);
    let open = store.open_issues(Some("specs")).await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].field, "Priority");
}
