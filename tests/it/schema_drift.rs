//! Schema drift while the service runs, end to end against the sandbox
//! servers over HTTP (SQLite and Postgres): fields renamed on either side are
//! followed by id and keep syncing; a field deleted or a property removed
//! stops that field alone (reported as an issue, never written, never read
//! as emptied) while the rest of the pair syncs; a token without the
//! user-information capability still starts, and people who join later are
//! matched without a restart.

use crate::common;

use common::{
    TestDb,
    world::{World, select_of, text_of, world},
};
use notion_airtable_sandbox::{airtable::FieldEdit, notion::UserInformation};
use notion_airtable_sync::{
    engine::webhooks::Ensured,
    jobs::spec::{JobSpec, Trigger},
    queue::JobError,
    store::{Issue, IssueScope},
    worker::{
        classify::classify,
        service::{JobOutcome, SyncService, USERS_ISSUE},
    },
};
use serde_json::{Value, json};

/// The pair after the initial sync, and a service running it.
async fn synced(db: TestDb) -> (World, SyncService) {
    let w = world(db).await;
    let summary = w.sweep(true).await;
    assert!(summary.problems.is_empty(), "{:?}", summary.problems);
    let service = SyncService::new(w.engine.clone(), vec![w.pair.clone()], String::new());
    (w, service)
}

fn reconcile(w: &World, i: usize) -> JobSpec {
    JobSpec::ReconcilePage {
        pair: w.pair.name().to_owned(),
        page_id: w.team_n.page_ids[i].clone(),
        trigger: Trigger::Webhook,
    }
}

fn full_sweep(w: &World) -> JobSpec {
    JobSpec::Sweep {
        pair: w.pair.name().to_owned(),
        full: true,
    }
}

async fn run(service: &SyncService, spec: &JobSpec) -> JobOutcome {
    service.run(spec).await.unwrap()
}

/// A Notion property of every page, by page id.
fn notion_values(w: &World, property: &str) -> Vec<Value> {
    w.team_n
        .page_ids
        .iter()
        .map(|id| w.page(id)["properties"][property].clone())
        .collect()
}

/// One Airtable cell of every row, by the page it is linked to.
fn airtable_values(w: &World, field: &str) -> Vec<Value> {
    w.team_n
        .page_ids
        .iter()
        .enumerate()
        .map(|(i, _)| row(w, i)["fields"][field].clone())
        .collect()
}

/// The row linked to page `i`, whatever its page-id field is called now.
fn row(w: &World, i: usize) -> Value {
    let page_id = json!(w.team_n.page_ids[i]);
    w.rows()
        .into_iter()
        .find(|r| {
            r["fields"]
                .as_object()
                .unwrap()
                .values()
                .any(|v| *v == page_id)
        })
        .expect("a row for the page")
}

fn record_id(w: &World, i: usize) -> String {
    row(w, i)["id"].as_str().unwrap().to_owned()
}

async fn issues(w: &World) -> Vec<Issue> {
    w.engine
        .store
        .open_issues(Some(w.pair.name()))
        .await
        .unwrap()
}

fn edit_airtable(w: &World, i: usize, fields: Value) {
    let (base, table) = (&w.team_a.base_id, &w.team_a.table_id);
    w.airtable
        .update_record_as_person(base, table, &record_id(w, i), fields)
        .unwrap();
}

fn rename_airtable_field(w: &World, field: &str, to: &str) {
    let edit = FieldEdit {
        name: Some(to.into()),
        ..FieldEdit::default()
    };
    w.airtable
        .edit_field_as_person(&w.team_a.base_id, &w.team_a.table_id, field, edit)
        .unwrap();
}

fn change_notion_schema(w: &World, properties: Value) {
    w.notion
        .update_data_source_as_person(
            &w.team_n.data_source_id,
            &w.person(),
            json!({ "properties": properties }),
        )
        .unwrap();
}

fn updated_notion(outcome: &JobOutcome) -> usize {
    match outcome {
        JobOutcome::Reconciled(s) => {
            assert!(s.problems.is_empty(), "{:?}", s.problems);
            s.updated_notion
        }
        other => panic!("{other:?}"),
    }
}

async fn an_airtable_rename_mid_run_still_syncs_and_empties_nothing(db: TestDb) {
    let (w, service) = synced(db).await;
    let sprints = notion_values(&w, "Sprint");
    let statuses = notion_values(&w, "Status");
    // Renamed while serving: the running pair still knows the old names.
    rename_airtable_field(&w, "Status", "Stage");
    rename_airtable_field(&w, "Sprint", "Iteration");
    rename_airtable_field(&w, "Notion Page ID", "Page Link");
    edit_airtable(
        &w,
        0,
        json!({ "Stage": "Shipped", "Iteration": "Sprint 30" }),
    );
    run(&service, &reconcile(&w, 0)).await;
    let page = w.page(&w.team_n.page_ids[0]);
    assert_eq!(select_of(&page["properties"]["Status"]), json!("Shipped"));
    assert_eq!(text_of(&page["properties"]["Sprint"]), "Sprint 30");
    // A full sweep (which resolves the pair again) changes nothing else.
    let outcome = run(&service, &full_sweep(&w)).await;
    assert_eq!(updated_notion(&outcome), 0, "{outcome:?}");
    let (now_sprints, now_statuses) = (notion_values(&w, "Sprint"), notion_values(&w, "Status"));
    for i in 1..w.team_n.page_ids.len() {
        assert_eq!(now_sprints[i], sprints[i], "page {i}'s Sprint");
        assert_eq!(now_statuses[i], statuses[i], "page {i}'s Status");
    }
    assert!(issues(&w).await.is_empty());
    // The renamed page-id field still finds rows by formula.
    let pair = service.pair("specs").unwrap();
    assert_eq!(pair.page_id_field_live(), "Page Link");
}

async fn a_deleted_airtable_field_stops_alone_and_notion_keeps_its_values(db: TestDb) {
    let (w, service) = synced(db).await;
    edit_airtable(&w, 0, json!({ "Sprint": "Sprint 20" }));
    run(&service, &reconcile(&w, 0)).await;
    let sprints = notion_values(&w, "Sprint");
    assert_eq!(text_of(&sprints[0]), "Sprint 20");
    w.airtable
        .delete_field_as_person(&w.team_a.base_id, &w.team_a.table_id, "Sprint")
        .unwrap();
    edit_airtable(&w, 0, json!({ "Priority": "P3" }));
    // The stale pair's read names the deleted field: Airtable refuses it, the
    // pair is resolved again and the job comes back soon.
    let err = service.run(&reconcile(&w, 0)).await.unwrap_err();
    assert!(
        matches!(classify(&err), JobError::RateLimited { .. }),
        "{err:#}"
    );
    run(&service, &reconcile(&w, 0)).await;
    let page = w.page(&w.team_n.page_ids[0]);
    assert_eq!(select_of(&page["properties"]["Priority"]), json!("P3"));
    assert_eq!(notion_values(&w, "Sprint"), sprints, "Notion keeps Sprint");
    let open = issues(&w).await;
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(
        (
            open[0].scope,
            open[0].subject.as_str(),
            open[0].field.as_str()
        ),
        (IssueScope::Field, "Sprint", "airtable")
    );
    assert!(
        open[0].message.contains("was deleted"),
        "{}",
        open[0].message
    );
    // Sweeps keep syncing the other fields and never touch Sprint.
    let other = if row(&w, 1)["fields"]["Priority"] == "P0" {
        "P1"
    } else {
        "P0"
    };
    edit_airtable(&w, 1, json!({ "Priority": other }));
    let outcome = run(&service, &full_sweep(&w)).await;
    assert_eq!(updated_notion(&outcome), 1, "{outcome:?}");
    assert_eq!(notion_values(&w, "Sprint"), sprints);
    assert_eq!(issues(&w).await.len(), 1, "still reported");
}

async fn notion_renames_are_followed_and_a_removed_property_stops(db: TestDb) {
    let (w, service) = synced(db).await;
    change_notion_schema(&w, json!({ "Priority": { "name": "Urgency" } }));
    w.notion
        .update_page_as_person(
            &w.team_n.page_ids[0],
            &w.person(),
            json!({ "Urgency": { "select": { "name": "P0" } } }),
        )
        .unwrap();
    run(&service, &reconcile(&w, 0)).await;
    assert_eq!(row(&w, 0)["fields"]["Priority"], "P0");

    let owners = airtable_values(&w, "Owner");
    change_notion_schema(&w, json!({ "Owner": null }));
    let resolve = JobSpec::ResolveSchema {
        pair: w.pair.name().to_owned(),
    };
    let outcome = run(&service, &resolve).await;
    assert_eq!(
        outcome,
        JobOutcome::Resolved {
            stopped: vec!["Owner".into()]
        }
    );
    let open = issues(&w).await;
    assert_eq!(
        (open[0].subject.as_str(), open[0].field.as_str()),
        ("Owner", "notion"),
        "{open:?}"
    );
    // Airtable keeps its Owner values; the other fields sync both ways.
    let other = if row(&w, 1)["fields"]["Priority"] == "P2" {
        "P1"
    } else {
        "P2"
    };
    edit_airtable(&w, 1, json!({ "Owner": "Somebody New", "Priority": other }));
    let outcome = run(&service, &reconcile(&w, 1)).await;
    assert_eq!(updated_notion(&outcome), 1, "{outcome:?}");
    let page = w.page(&w.team_n.page_ids[1]);
    assert_eq!(select_of(&page["properties"]["Urgency"]), json!(other));
    let outcome = run(&service, &full_sweep(&w)).await;
    assert!(
        matches!(outcome, JobOutcome::Reconciled(ref s) if s.updated_airtable == 0),
        "{outcome:?}"
    );
    let mut expected = owners;
    expected[1] = json!("Somebody New");
    assert_eq!(airtable_values(&w, "Owner"), expected);
}

async fn a_field_schema_payload_resolves_the_pair(db: TestDb) {
    let (w, service) = synced(db).await;
    let ensured = w
        .engine
        .ensure_webhook(&w.pair, "https://sync.example.com")
        .await
        .unwrap();
    let Ensured::Created(webhook_id) = ensured else {
        panic!("{ensured:?}")
    };
    let spec = webhook_spec(&w, &webhook_id).await;
    assert_eq!(
        spec["options"]["filters"]["dataTypes"],
        json!(["tableData", "tableFields"])
    );
    w.airtable
        .delete_field_as_person(&w.team_a.base_id, &w.team_a.table_id, "Ship Date")
        .unwrap();
    let outcome = run(&service, &JobSpec::AirtablePayloads { webhook_id }).await;
    let JobOutcome::Drained(drained) = outcome else {
        panic!("{outcome:?}")
    };
    assert!(drained.schema_changed, "{drained:?}");
    let pair = service.pair("specs").unwrap();
    assert_eq!(pair.wire.stopped["Ship Date"].side, "airtable");
    assert_eq!(issues(&w).await[0].subject, "Ship Date");
}

async fn without_user_information_the_service_starts_and_learns_people_later(db: TestDb) {
    let w = world(db).await;
    w.sweep(true).await;
    w.notion.set_user_information(UserInformation::None);
    // A people field is mapped, and the token cannot list users: start anyway.
    let pair = notion_airtable_sync::engine::load_pair(
        &w.pair.config,
        &w.engine.notion,
        &w.engine.airtable,
    )
    .await
    .expect("a pair whose users cannot be listed still resolves");
    assert!(!pair.wire.users_listed);
    assert!(pair.users.is_empty());
    let service = SyncService::new(w.engine.clone(), vec![pair], String::new());
    let resolve = JobSpec::ResolveSchema {
        pair: w.pair.name().to_owned(),
    };
    run(&service, &resolve).await;
    let open = issues(&w).await;
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(
        (open[0].scope, open[0].subject.as_str()),
        (IssueScope::Pair, USERS_ISSUE)
    );
    // The capability is granted later: a name nobody matched is looked up
    // and the record synced in the same job, without a restart.
    w.notion.set_user_information(UserInformation::WithEmail);
    let (name, id) = w.team_n.people.last().unwrap().clone();
    let current = w.page(&w.team_n.page_ids[2])["properties"]["Owner"].clone();
    assert_ne!(current["people"][0]["id"], json!(id), "pick another person");
    edit_airtable(&w, 2, json!({ "Owner": name }));
    run(&service, &reconcile(&w, 2)).await;
    let owner = &w.page(&w.team_n.page_ids[2])["properties"]["Owner"]["people"];
    assert_eq!(owner[0]["id"], json!(id));
    assert_eq!(owner.as_array().unwrap().len(), 1);
    // A name nobody has does not list the users again within the minute.
    let listed = || w.notion.calls().count(Some("GET"), "/v1/users");
    let before = listed();
    assert!(before >= 1);
    edit_airtable(&w, 3, json!({ "Owner": "Nobody Here" }));
    run(&service, &reconcile(&w, 3)).await;
    assert_eq!(listed(), before);
}

/// The webhook's specification as Airtable lists it.
async fn webhook_spec(w: &World, webhook_id: &str) -> Value {
    let hooks = w
        .engine
        .airtable
        .list_webhooks(&w.team_a.base_id)
        .await
        .unwrap();
    hooks
        .into_iter()
        .find(|h| h.id == webhook_id)
        .expect("the webhook is listed")
        .specification
}

both_backends! {
    an_airtable_rename_mid_run_still_syncs_and_empties_nothing,
    a_deleted_airtable_field_stops_alone_and_notion_keeps_its_values,
    notion_renames_are_followed_and_a_removed_property_stops,
    a_field_schema_payload_resolves_the_pair,
    without_user_information_the_service_starts_and_learns_people_later,
}
