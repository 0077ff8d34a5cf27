//! People lists longer than Notion's page reads show (25 people per
//! property), end to end on both backends: they are read whole through the
//! property-item endpoint and cross both ways complete; a list longer than
//! Notion takes in one write (100 people) is refused with the reason, and
//! both sides keep their values.

use crate::common;

use common::{
    TestDb,
    world::{Extra, World, world_extended},
};
use notion_airtable_sandbox::{notion::UserInformation, team::PEOPLE};
use notion_airtable_sync::store::IssueScope;
use serde_json::{Value, json};

const ANCHOR: &str = "# Operational data:";

const FIELDS: &str = r#"[[pair.field]]
notion = "Engineers"
airtable = "Engineers"
direction = "both"
conflict = "notion"

# Operational data:"#;

/// `n` people besides the team: `(name, email)`.
fn crew(n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| (format!("Crew {i:03}"), format!("crew{i:03}@example.com")))
        .collect()
}

async fn crowded_world(db: TestDb, crew: &[(String, String)]) -> World {
    let extra = Extra {
        notion_properties: json!({ "Engineers": { "people": {} } }),
        airtable_fields: vec![json!({ "name": "Engineers", "type": "multipleCollaborators" })],
        notion_user_information: Some(UserInformation::WithEmail),
        notion_members: crew.to_vec(),
        ..Extra::default()
    };
    let w = world_extended(db, &[(ANCHOR, FIELDS)], extra).await;
    // Everyone is a collaborator of the base too.
    let mut everyone: Vec<(&str, &str)> = PEOPLE.iter().map(|p| (p.email, p.name)).collect();
    everyone.extend(crew.iter().map(|(n, e)| (e.as_str(), n.as_str())));
    w.airtable.set_collaborators(&w.team_a.base_id, &everyone);
    w
}

/// The Notion user ids of `emails`, as the workspace lists them.
fn user_ids(w: &World, emails: &[String]) -> Vec<Value> {
    let users = w.notion.users();
    emails
        .iter()
        .map(|email| {
            let user = users
                .iter()
                .find(|u| u["person"]["email"] == json!(email))
                .unwrap_or_else(|| panic!("no user {email}"));
            json!({ "object": "user", "id": user["id"] })
        })
        .collect()
}

/// Every email of the page's Engineers, read as a client must: the page read
/// shows 25 at most, the property-item list has them all.
async fn notion_emails(w: &World, page_id: &str) -> Vec<String> {
    let page = w.page(page_id);
    let prop = &page["properties"]["Engineers"];
    assert!(prop["people"].as_array().unwrap().len() <= 25, "{prop}");
    let client = reqwest::Client::new();
    let mut emails = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!(
            "{}/v1/pages/{page_id}/properties/{}?page_size=20",
            w.notion.base_url(),
            prop["id"].as_str().unwrap()
        );
        if let Some(c) = &cursor {
            url.push_str(&format!("&start_cursor={c}"));
        }
        let body: Value = client
            .get(url)
            .bearer_auth(w.notion.token())
            .header("Notion-Version", "2025-09-03")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for item in body["results"].as_array().unwrap() {
            emails.push(
                item["people"]["person"]["email"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
        }
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    emails.sort();
    emails
}

fn airtable_emails(w: &World, page_id: &str) -> Vec<String> {
    let row = w.row_for(page_id);
    let mut emails: Vec<String> = row["fields"]["Engineers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| c["email"].as_str().unwrap().to_owned())
        .collect();
    emails.sort();
    emails
}

fn emails(crew: &[(String, String)]) -> Vec<String> {
    crew.iter().map(|(_, e)| e.clone()).collect()
}

async fn forty_people_cross_both_ways_whole(db: TestDb) {
    let crew = crew(40);
    let w = crowded_world(db, &crew).await;
    w.sweep(true).await;
    let (a, b) = (w.team_n.page_ids[0].clone(), w.team_n.page_ids[1].clone());

    // Notion → Airtable: 30 people, of which a page read shows 25.
    let thirty = emails(&crew[..30]);
    let edit = json!({ "Engineers": { "people": user_ids(&w, &thirty) } });
    w.notion
        .update_page_as_person(&a, &w.person(), edit)
        .unwrap();
    // Airtable → Notion: 40 collaborators.
    let forty = emails(&crew);
    let cells: Vec<Value> = forty.iter().map(|e| json!({ "email": e })).collect();
    let row_b = w.row_for(&b)["id"].as_str().unwrap().to_owned();
    let (base, table) = (&w.team_a.base_id, &w.team_a.table_id);
    w.airtable
        .update_record_as_person(base, table, &row_b, json!({ "Engineers": cells }))
        .unwrap();

    let summary = w.sweep(true).await;
    assert!(summary.problems.is_empty(), "{:?}", summary.problems);
    assert_eq!(airtable_emails(&w, &a), thirty);
    assert_eq!(notion_emails(&w, &b).await, forty);
    assert_eq!(airtable_emails(&w, &b), forty, "Airtable kept its 40");
    let issues = w.engine.store.open_issues(Some("specs")).await.unwrap();
    assert!(issues.is_empty(), "{issues:#?}");

    // Converged: another sweep reads the long lists whole and writes nothing.
    let again = w.sweep(true).await;
    assert_eq!(
        (again.updated_airtable, again.updated_notion),
        (0, 0),
        "{again:?}"
    );
}

async fn more_people_than_notion_takes_are_refused_with_the_reason(db: TestDb) {
    let crew = crew(101);
    let w = crowded_world(db, &crew).await;
    w.sweep(true).await;
    let a = w.team_n.page_ids[0].clone();
    let before = notion_emails(&w, &a).await;
    let all = emails(&crew);
    let cells: Vec<Value> = all.iter().map(|e| json!({ "email": e })).collect();
    let row_a = w.row_for(&a)["id"].as_str().unwrap().to_owned();
    let (base, table) = (&w.team_a.base_id, &w.team_a.table_id);
    let edit = json!({ "Engineers": cells, "Sprint": "S-101" });
    w.airtable
        .update_record_as_person(base, table, &row_a, edit)
        .unwrap();

    w.sweep(true).await;
    let issues = w.engine.store.open_issues(Some("specs")).await.unwrap();
    let refused: Vec<_> = issues
        .iter()
        .filter(|i| i.scope == IssueScope::Record && i.field == "Engineers")
        .collect();
    assert_eq!(refused.len(), 1, "{issues:#?}");
    assert!(
        refused[0].message.contains("at most 100 people"),
        "{issues:#?}"
    );
    assert_eq!(notion_emails(&w, &a).await, before, "Notion keeps its list");
    assert_eq!(airtable_emails(&w, &a), all, "Airtable keeps its 101");
    let page = w.page(&a);
    assert!(
        page["properties"]["Sprint"].to_string().contains("S-101"),
        "the rest of the row still syncs: {page}"
    );
}

both_backends! {
    forty_people_cross_both_ways_whole,
    more_people_than_notion_takes_are_refused_with_the_reason,
}
