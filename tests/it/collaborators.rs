//! Notion people ↔ Airtable collaborators end to end, against both
//! sandboxes over HTTP, on SQLite and Postgres: engineers assigned on either
//! side appear on the other (matched by email, in any order); a person who
//! cannot be matched is reported and both sides keep their values; without
//! the email capability the mapping says what it cannot do.

use crate::common;

use common::{
    TestDb,
    world::{Extra, World, world_extended},
};
use notion_airtable_sandbox::{common::CallLog, notion::UserInformation};
use notion_airtable_sync::store::{Issue, IssueScope};
use serde_json::{Value, json};

const ANCHOR: &str = "# Operational data:";

const FIELDS: &str = r#"[[pair.field]]
notion = "Engineers"
airtable = "Engineers"
direction = "both"
conflict = "notion"

[[pair.field]]
notion = "Reviewer"
airtable = "Reviewer"
direction = "both"
conflict = "notion"

# Operational data:"#;

/// The base's collaborators: the team but Lea, and someone Notion does not know.
const COLLABORATORS: [(&str, &str); 6] = [
    ("maya@example.com", "Maya Chen"),
    ("jonas@example.com", "Jonas Berg"),
    ("priya@example.com", "Priya Raman"),
    ("tom@example.com", "Tom Okafor"),
    ("ghost@example.com", "Gus Host"),
    ("rita@example.com", "Rita Field"),
];

fn extra(info: UserInformation) -> Extra {
    Extra {
        notion_properties: json!({
            "Engineers": { "people": {} },
            "Reviewer": { "people": {} },
        }),
        airtable_fields: vec![
            json!({ "name": "Engineers", "type": "multipleCollaborators" }),
            json!({ "name": "Reviewer", "type": "singleCollaborator" }),
        ],
        notion_user_information: Some(info),
        airtable_collaborators: Some(COLLABORATORS.to_vec()),
        ..Extra::default()
    }
}

fn people(w: &World, names: &[&str]) -> Value {
    let refs: Vec<Value> = names
        .iter()
        .map(|n| json!({ "object": "user", "id": w.user(n) }))
        .collect();
    json!({ "people": refs })
}

/// The user ids of a Notion people property, sorted.
fn ids_of(prop: &Value) -> Vec<String> {
    let mut ids: Vec<String> = prop["people"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

fn sorted_ids(w: &World, names: &[&str]) -> Vec<String> {
    let mut ids: Vec<String> = names.iter().map(|n| w.user(n)).collect();
    ids.sort();
    ids
}

/// The emails of an Airtable collaborator cell (one or many), sorted.
fn emails_of(cell: &Value) -> Vec<String> {
    let items = match cell {
        Value::Array(items) => items.clone(),
        Value::Null => Vec::new(),
        one => vec![one.clone()],
    };
    let mut emails: Vec<String> = items
        .iter()
        .map(|c| c["email"].as_str().unwrap().to_owned())
        .collect();
    emails.sort();
    emails
}

fn writes(calls: &CallLog) -> u64 {
    calls
        .snapshot()
        .iter()
        .filter(|c| {
            c.method != "GET" && !c.route.contains("query") && !c.route.contains("listRecords")
        })
        .map(|c| c.count)
        .sum()
}

async fn record_issues(w: &World) -> Vec<Issue> {
    let issues = w.engine.store.open_issues(Some("specs")).await.unwrap();
    issues
        .into_iter()
        .filter(|i| i.scope == IssueScope::Record)
        .collect()
}

fn row_id(w: &World, page: &str) -> String {
    w.row_for(page)["id"].as_str().unwrap().to_owned()
}

async fn engineers_assigned_on_either_side_appear_on_the_other(db: TestDb) {
    let w = world_extended(db, &[(ANCHOR, FIELDS)], extra(UserInformation::WithEmail)).await;
    let (base, table) = (w.team_a.base_id.clone(), w.team_a.table_id.clone());
    let person = w.person();
    w.sweep(true).await;
    let (a, b) = (w.team_n.page_ids[0].clone(), w.team_n.page_ids[1].clone());

    // Notion → Airtable, and Airtable → Notion (by email, any case).
    let edit = json!({
        "Engineers": people(&w, &["Maya Chen", "Jonas Berg"]),
        "Reviewer": people(&w, &["Priya Raman"]),
    });
    w.notion.update_page_as_person(&a, &person, edit).unwrap();
    let cells = json!({
        "Engineers": [{ "email": "TOM@example.com" }, { "email": "jonas@example.com" }],
        "Reviewer": { "email": "maya@example.com" },
    });
    w.airtable
        .update_record_as_person(&base, &table, &row_id(&w, &b), cells)
        .unwrap();
    let summary = w.sweep(true).await;
    assert!(summary.problems.is_empty(), "{:?}", summary.problems);
    let row_a = w.row_for(&a)["fields"].clone();
    assert_eq!(
        emails_of(&row_a["Engineers"]),
        ["jonas@example.com", "maya@example.com"]
    );
    assert_eq!(emails_of(&row_a["Reviewer"]), ["priya@example.com"]);
    assert_eq!(row_a["Reviewer"]["name"], "Priya Raman", "{row_a}");
    let page_b = w.page(&b)["properties"].clone();
    assert_eq!(
        ids_of(&page_b["Engineers"]),
        sorted_ids(&w, &["Tom Okafor", "Jonas Berg"])
    );
    assert_eq!(ids_of(&page_b["Reviewer"]), sorted_ids(&w, &["Maya Chen"]));

    // Unmatched people: Lea is no collaborator of the base, Gus no Notion
    // user, and a single collaborator cannot hold two. The rest of each
    // record still syncs.
    let edit = json!({
        "Engineers": people(&w, &["Maya Chen", "Jonas Berg", "Lea Martin"]),
        "Reviewer": people(&w, &["Priya Raman", "Tom Okafor"]),
        "Name": { "title": [{ "text": { "content": "Renamed with Lea" } }] },
    });
    w.notion.update_page_as_person(&a, &person, edit).unwrap();
    let cells = json!({
        "Engineers": [{ "email": "tom@example.com" }, { "email": "ghost@example.com" }],
        "Sprint": "S-9",
    });
    w.airtable
        .update_record_as_person(&base, &table, &row_id(&w, &b), cells)
        .unwrap();
    for _ in 0..2 {
        w.sweep(true).await;
        let row_a = w.row_for(&a)["fields"].clone();
        assert_eq!(row_a["Spec Name"], "Renamed with Lea");
        assert_eq!(
            emails_of(&row_a["Engineers"]),
            ["jonas@example.com", "maya@example.com"],
            "never a partial list"
        );
        assert_eq!(emails_of(&row_a["Reviewer"]), ["priya@example.com"]);
        let page_a = w.page(&a)["properties"].clone();
        assert_eq!(ids_of(&page_a["Engineers"]).len(), 3, "Lea stays in Notion");
        assert_eq!(ids_of(&page_a["Reviewer"]).len(), 2);
        let page_b = w.page(&b)["properties"].clone();
        assert_eq!(
            ids_of(&page_b["Engineers"]),
            sorted_ids(&w, &["Tom Okafor", "Jonas Berg"])
        );
        assert!(
            page_b["Sprint"]["rich_text"].to_string().contains("S-9"),
            "{page_b}"
        );
        assert_eq!(
            emails_of(&w.row_for(&b)["fields"]["Engineers"]),
            ["ghost@example.com", "tom@example.com"],
            "Gus stays in Airtable"
        );
        let issues = record_issues(&w).await;
        let mut seen: Vec<(String, String)> = issues
            .iter()
            .map(|i| (i.subject.clone(), i.field.clone()))
            .collect();
        seen.sort();
        let mut want = vec![
            (a.clone(), "Engineers".to_owned()),
            (a.clone(), "Reviewer".to_owned()),
            (b.clone(), "Engineers".to_owned()),
        ];
        want.sort();
        assert_eq!(seen, want, "{issues:#?}");
        let says = |text: &str| issues.iter().any(|i| i.message.contains(text));
        assert!(says("collaborator of the Airtable base"), "{issues:#?}");
        assert!(
            says("no Notion workspace member has the email ghost@example.com"),
            "{issues:#?}"
        );
        assert!(says("single-collaborator"), "{issues:#?}");
    }

    // Matched again, the issues close; the order of a cell is no change.
    let edit = json!({
        "Engineers": people(&w, &["Maya Chen", "Jonas Berg"]),
        "Reviewer": people(&w, &["Tom Okafor"]),
    });
    w.notion.update_page_as_person(&a, &person, edit).unwrap();
    let cells =
        json!({ "Engineers": [{ "email": "tom@example.com" }, { "email": "rita@example.com" }] });
    w.airtable
        .update_record_as_person(&base, &table, &row_id(&w, &b), cells)
        .unwrap();
    w.sweep(true).await;
    let issues = record_issues(&w).await;
    assert_eq!(issues.len(), 1, "Rita is no Notion user: {issues:#?}");
    let cells = json!({ "Engineers": [{ "email": "tom@example.com" }] });
    w.airtable
        .update_record_as_person(&base, &table, &row_id(&w, &b), cells)
        .unwrap();
    let reordered =
        json!({ "Engineers": [{ "email": "maya@example.com" }, { "email": "jonas@example.com" }] });
    w.airtable
        .update_record_as_person(&base, &table, &row_id(&w, &a), reordered)
        .unwrap();
    w.sweep(true).await;
    let issues = record_issues(&w).await;
    assert!(issues.is_empty(), "{issues:#?}");
    assert_eq!(
        emails_of(&w.row_for(&a)["fields"]["Reviewer"]),
        ["tom@example.com"]
    );
    assert_eq!(
        ids_of(&w.page(&b)["properties"]["Engineers"]),
        sorted_ids(&w, &["Tom Okafor"])
    );

    // Converged: one more sweep writes nothing on either side.
    w.notion.calls().reset();
    w.airtable.calls().reset();
    let again = w.sweep(true).await;
    assert_eq!(
        (again.updated_airtable, again.updated_notion),
        (0, 0),
        "{again:?}"
    );
    assert_eq!(writes(w.notion.calls()), 0);
    assert_eq!(writes(w.airtable.calls()), 0);
}

async fn without_the_email_capability_people_are_reported_not_dropped(db: TestDb) {
    let extra = extra(UserInformation::WithoutEmail);
    let w = world_extended(db, &[(ANCHOR, FIELDS)], extra).await;
    let (base, table) = (w.team_a.base_id.clone(), w.team_a.table_id.clone());
    let person = w.person();
    w.sweep(true).await;
    let (a, b) = (w.team_n.page_ids[0].clone(), w.team_n.page_ids[1].clone());
    let edit = json!({ "Engineers": people(&w, &["Maya Chen"]) });
    w.notion.update_page_as_person(&a, &person, edit).unwrap();
    let cells = json!({ "Engineers": [{ "email": "priya@example.com" }] });
    w.airtable
        .update_record_as_person(&base, &table, &row_id(&w, &b), cells)
        .unwrap();
    for _ in 0..2 {
        w.sweep(true).await;
        assert_eq!(w.row_for(&a)["fields"]["Engineers"], Value::Null);
        assert_eq!(
            ids_of(&w.page(&a)["properties"]["Engineers"]),
            sorted_ids(&w, &["Maya Chen"])
        );
        assert!(ids_of(&w.page(&b)["properties"]["Engineers"]).is_empty());
        assert_eq!(
            emails_of(&w.row_for(&b)["fields"]["Engineers"]),
            ["priya@example.com"]
        );
        let issues = record_issues(&w).await;
        assert_eq!(issues.len(), 2, "{issues:#?}");
        for issue in &issues {
            assert_eq!(issue.field, "Engineers");
            assert!(
                issue
                    .message
                    .contains("\"Read user information including email addresses\" capability"),
                "{issue:#?}"
            );
        }
    }
}

/// Collaborator cells in Airtable's webhook payloads: the service's own
/// writes are recognised as echoes, and a person's assignment becomes one
/// reconcile that brings the engineer to Notion.
async fn an_assignment_in_airtable_arrives_by_webhook(db: TestDb) {
    use notion_airtable_sandbox::common::DeliveryKnobs;
    use notion_airtable_sync::{engine::webhooks::Ensured, store::Cause};
    let w = world_extended(db, &[(ANCHOR, FIELDS)], extra(UserInformation::WithEmail)).await;
    // Pings go nowhere: the payloads are what matters.
    w.airtable.set_delivery(DeliveryKnobs {
        drop_rate: 1.0,
        ..DeliveryKnobs::default()
    });
    let created = w
        .engine
        .ensure_webhook(&w.pair, "https://sync.example.com/")
        .await
        .unwrap();
    let Ensured::Created(id) = created else {
        panic!("expected a new webhook, got {created:?}")
    };
    let me = w.engine.airtable.whoami().await.unwrap().id;
    let drain = || async {
        let hook = w.engine.store.get_webhook(&id).await.unwrap().unwrap();
        w.engine
            .drain_airtable_webhook(&w.pair, &hook, &me, 0)
            .await
            .unwrap()
    };
    let a = w.team_n.page_ids[0].clone();
    let edit = json!({ "Engineers": people(&w, &["Maya Chen", "Priya Raman"]) });
    w.notion
        .update_page_as_person(&a, &w.person(), edit)
        .unwrap();
    w.sweep(true).await;
    let first = drain().await;
    assert_eq!(
        first.jobs, 0,
        "the service's own writes are echoes: {first:?}"
    );
    let cells =
        json!({ "Engineers": [{ "email": "priya@example.com" }, { "email": "tom@example.com" }] });
    let (base, table) = (&w.team_a.base_id, &w.team_a.table_id);
    w.airtable
        .update_record_as_person(base, table, &row_id(&w, &a), cells)
        .unwrap();
    let second = drain().await;
    assert_eq!((second.jobs, second.echoes), (1, 0), "{second:?}");
    w.engine
        .reconcile_page(&w.pair, &a, Cause::Webhook)
        .await
        .unwrap();
    assert_eq!(
        ids_of(&w.page(&a)["properties"]["Engineers"]),
        sorted_ids(&w, &["Priya Raman", "Tom Okafor"])
    );
    let third = drain().await;
    assert_eq!(third.jobs, 0, "{third:?}");
}

both_backends! {
    an_assignment_in_airtable_arrives_by_webhook,
    engineers_assigned_on_either_side_appear_on_the_other,
    without_the_email_capability_people_are_reported_not_dropped,
}
