//! A workspace built the way a user's tools build one: the Notion database
//! through `POST /v1/databases` (in a page, with its first data source) and
//! the Airtable table through `POST /v0/meta/bases/{id}/tables`, then synced
//! people ↔ collaborators both ways, on SQLite and Postgres.

use std::sync::Arc;

use crate::common;

use common::TestDb;
use notion_airtable_sandbox::{
    airtable::{AirtableSandbox, AirtableSandboxConfig},
    notion::{NotionSandbox, NotionSandboxConfig},
    team,
};
use notion_airtable_sync::{
    airtable::AirtableClient,
    clients::ratelimit::Budget,
    config::SyncConfig,
    engine::{Engine, SweepOptions},
    notion::NotionClient,
    secret::Secret,
    store::Cause,
};
use serde_json::{Value, json};

async fn post(base: &str, token: &str, path: &str, notion: bool, body: Value) -> Value {
    let mut request = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .bearer_auth(token)
        .json(&body);
    if notion {
        request = request.header("Notion-Version", "2025-09-03");
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert!(status.is_success(), "{path}: {status} {body}");
    body
}

fn mapping(database_id: &str, base_id: &str) -> String {
    format!(
        r#"[[pair]]
name = "epics"

[pair.notion]
database_id = "{database_id}"

[pair.airtable]
base_id = "{base_id}"
table = "Epics"
page_id_field = "Notion Page ID"

[pair.options]
on_notion_trash = "ignore"
on_airtable_delete = "ignore"

[[pair.field]]
notion = "Epic"
airtable = "Epic"

[[pair.field]]
notion = "Engineers"
airtable = "Engineers"

[[pair.field]]
notion = "Lead"
airtable = "Lead"
"#
    )
}

/// The database and the table, created through the public endpoints → their ids.
async fn create_workspace(notion: &NotionSandbox, airtable: &AirtableSandbox) -> (String, String) {
    let parent = notion.seed_team().page_ids[0].clone();
    let database = post(
        &notion.base_url(),
        notion.token(),
        "/v1/databases",
        true,
        json!({
            "parent": { "type": "page_id", "page_id": parent },
            "title": [{ "type": "text", "text": { "content": "Epics" } }],
            "initial_data_source": { "properties": {
                "Epic": { "title": {} },
                "Engineers": { "people": {} },
                "Lead": { "people": {} },
            } },
        }),
    )
    .await;
    let base_id = airtable.create_base("Delivery");
    let people: Vec<(&str, &str)> = team::PEOPLE.iter().map(|p| (p.email, p.name)).collect();
    airtable.set_collaborators(&base_id, &people);
    post(
        &airtable.base_url(),
        airtable.token(),
        &format!("/v0/meta/bases/{base_id}/tables"),
        false,
        json!({ "name": "Epics", "fields": [
            { "name": "Epic", "type": "singleLineText" },
            { "name": "Engineers", "type": "multipleCollaborators" },
            { "name": "Lead", "type": "singleCollaborator" },
            { "name": "Notion Page ID", "type": "singleLineText" },
        ] }),
    )
    .await;
    (database["id"].as_str().unwrap().to_owned(), base_id)
}

async fn a_workspace_made_through_the_create_endpoints_syncs_people(db: TestDb) {
    let notion = NotionSandbox::start_local(NotionSandboxConfig {
        rate_limit: false,
        ..NotionSandboxConfig::default()
    })
    .await
    .unwrap();
    let airtable = AirtableSandbox::start_local(AirtableSandboxConfig {
        rate_limit: false,
        ..AirtableSandboxConfig::default()
    })
    .await
    .unwrap();
    let (database_id, base_id) = create_workspace(&notion, &airtable).await;
    let config = SyncConfig::parse(&mapping(&database_id, &base_id)).unwrap();
    let notion_client = NotionClient::new(
        &notion.base_url(),
        Secret::new(notion.token()),
        Arc::new(Budget::unlimited("notion")),
    )
    .unwrap();
    let airtable_client = AirtableClient::new(&airtable.base_url(), Secret::new(airtable.token()))
        .unwrap()
        .with_rate(10_000.0);
    let pair =
        notion_airtable_sync::engine::load_pair(&config.pairs[0], &notion_client, &airtable_client)
            .await
            .unwrap();
    let engine = Engine::new(notion_client, airtable_client, db.store.clone());
    let sweep = || async {
        let opts = SweepOptions {
            full: true,
            dry_run: false,
            cause: Cause::Sweep,
        };
        engine.sweep(&pair, opts).await.unwrap()
    };

    let users = notion.seed_team().people;
    let id_of = |name: &str| users.iter().find(|(n, _)| n == name).unwrap().1.clone();
    let page = notion
        .insert_page_as_person(
            &pair.data_source_id,
            &id_of("Maya Chen"),
            json!({
                "Epic": { "title": [{ "text": { "content": "Checkout" } }] },
                "Engineers": { "people": [
                    { "object": "user", "id": id_of("Maya Chen") },
                    { "object": "user", "id": id_of("Tom Okafor") },
                ] },
            }),
        )
        .unwrap();
    let summary = sweep().await;
    assert!(summary.problems.is_empty(), "{:?}", summary.problems);
    let rows = airtable.records(&base_id, "Epics");
    assert_eq!(rows.len(), 1, "{rows:?}");
    let mut emails: Vec<&str> = rows[0]["fields"]["Engineers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["email"].as_str().unwrap())
        .collect();
    emails.sort();
    assert_eq!(emails, ["maya@example.com", "tom@example.com"]);

    let row = rows[0]["id"].as_str().unwrap();
    airtable
        .update_record_as_person(
            &base_id,
            "Epics",
            row,
            json!({ "Lead": { "email": "priya@example.com" } }),
        )
        .unwrap();
    sweep().await;
    let lead = &notion.page(&page).unwrap()["properties"]["Lead"]["people"];
    assert_eq!(lead[0]["id"], json!(id_of("Priya Raman")), "{lead}");
    let again = sweep().await;
    assert_eq!(
        (again.updated_airtable, again.updated_notion),
        (0, 0),
        "{again:?}"
    );
}

both_backends! {
    a_workspace_made_through_the_create_endpoints_syncs_people,
}
