//! Both sides compared field by field, read as a person would see them and
//! independently of the service's conversions: the example's fields as the
//! team's week compares them; relations through the pairs' links (a page
//! id on one side is the record id its link names on the other); the body
//! as text; collaborators by email; files by name, size and bytes.

use notion_airtable_sandbox::team::PEOPLE;
use serde_json::Value;

use super::script::Scenario;
use crate::common::world::assert_team_fields_agree;
use crate::relations::setup::sorted;

/// `(name, size, SHA-256)` of a file, the size and digest of the bytes
/// its URL serves.
pub type File = (String, usize, String);

/// `(name, size, SHA-256)` of these bytes.
pub fn file(name: &str, bytes: &[u8]) -> File {
    (name.to_owned(), bytes.len(), digest(bytes))
}

fn digest(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Every spec and every epic agrees on every mapped field; every page has
/// exactly one row and the other way round. Returns the number of values
/// compared.
pub async fn assert_agree(s: &Scenario) -> usize {
    let w = &s.w;
    let mut compared = 0;
    let spec_rows = w.airtable.records(&w.team_a.base_id, &w.team_a.table_id);
    assert_eq!(spec_rows.len(), w.team_n.page_ids.len(), "one row per spec");
    for page_id in &w.team_n.page_ids {
        let page = w.notion.page(page_id).unwrap();
        let row = row_for(&spec_rows, page_id);
        assert_team_fields_agree(&page, &row);
        compared += 9;
        let epics = records_of(s, "epics", w.notion_links(page_id).await).await;
        assert_eq!(epics, w.airtable_links(row_id(&row)), "Epic of {page_id}");
        let deps = ids(&page["properties"]["Depends on"]["relation"]);
        let deps = records_of(s, "specs", deps).await;
        assert_eq!(deps, sorted(&row["fields"]["Depends on"]), "Depends on");
        assert_eq!(
            notion_emails(&page),
            airtable_emails(&row["fields"]["Engineers"]),
            "Engineers of {page_id}"
        );
        assert_eq!(
            notion_files(&page).await,
            airtable_files(&row).await,
            "Mockup of {page_id}"
        );
        assert_eq!(
            body(s, page_id),
            spec_cell(&row),
            "the body of {page_id} and its Spec cell"
        );
        compared += 5;
    }
    compared + assert_epics_agree(s)
}

/// Every epic page has one row with its title, and every row a page.
fn assert_epics_agree(s: &Scenario) -> usize {
    let w = &s.w;
    let rows = w.airtable.records(&w.team_a.base_id, &w.epics_table);
    let pages = w.epic_pages();
    assert_eq!(
        pages.len(),
        rows.len(),
        "every epic row has a page: {rows:?}"
    );
    for page_id in &pages {
        let page = w.notion.page(page_id).unwrap();
        let row = row_for(&rows, page_id);
        let title = crate::common::world::text_of(&page["properties"]["Name"]);
        assert_eq!(Some(title.as_str()), row["fields"]["Name"].as_str());
    }
    pages.len()
}

/// The records `pages` are linked to in `pair`, sorted.
pub async fn records_of(s: &Scenario, pair: &str, pages: Vec<String>) -> Vec<String> {
    let mut out = Vec::new();
    for p in pages {
        out.push(s.w.record_of(pair, &p).await);
    }
    out.sort();
    out
}

pub fn row_for(rows: &[Value], page_id: &str) -> Value {
    let found: Vec<&Value> = rows
        .iter()
        .filter(|r| r["fields"]["Notion Page ID"] == *page_id)
        .collect();
    assert_eq!(found.len(), 1, "exactly one row for page {page_id}");
    found[0].clone()
}

pub fn row_id(row: &Value) -> &str {
    row["id"].as_str().unwrap()
}

fn ids(refs: &Value) -> Vec<String> {
    refs.as_array()
        .into_iter()
        .flatten()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The page's content as Notion stores it.
pub fn body(s: &Scenario, page_id: &str) -> String {
    s.w.notion.content(page_id).unwrap()
}

/// The row's Spec cell (a rich text reads back with a trailing newline;
/// an empty one is absent).
pub fn spec_cell(row: &Value) -> String {
    let text = row["fields"]["Spec"].as_str().unwrap_or_default();
    text.strip_suffix('\n').unwrap_or(text).to_owned()
}

/// The emails of the page's Engineers (Notion user ids → the team's emails), sorted.
pub fn notion_emails(page: &Value) -> Vec<String> {
    let names: Vec<String> = page["properties"]["Engineers"]["people"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap().to_owned())
        .collect();
    let mut emails: Vec<String> = names.iter().map(|n| email_of(n)).collect();
    emails.sort();
    emails
}

pub fn email_of(name: &str) -> String {
    let person = PEOPLE.iter().find(|p| p.name == name);
    person.unwrap_or_else(|| panic!("{name}")).email.to_owned()
}

/// The emails of a collaborator cell, sorted.
pub fn airtable_emails(cell: &Value) -> Vec<String> {
    let mut emails: Vec<String> = cell
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| c["email"].as_str().unwrap().to_lowercase())
        .collect();
    emails.sort();
    emails
}

async fn download(url: &str) -> Vec<u8> {
    let response = reqwest::get(url).await.unwrap();
    assert!(response.status().is_success(), "{url}");
    response.bytes().await.unwrap().to_vec()
}

/// The page's Mockup files, sorted by name.
pub async fn notion_files(page: &Value) -> Vec<File> {
    let mut out = Vec::new();
    for f in page["properties"]["Mockup"]["files"].as_array().unwrap() {
        assert_eq!(f["type"], "file", "{f}");
        let bytes = download(f["file"]["url"].as_str().unwrap()).await;
        out.push(file(f["name"].as_str().unwrap(), &bytes));
    }
    out.sort();
    out
}

/// The row's Mockup attachments, sorted by name (the size Airtable states
/// must be the size of what its URL serves).
pub async fn airtable_files(row: &Value) -> Vec<File> {
    let mut out = Vec::new();
    for a in row["fields"]["Mockup"].as_array().into_iter().flatten() {
        let bytes = download(a["url"].as_str().unwrap()).await;
        let size = usize::try_from(a["size"].as_u64().unwrap()).unwrap();
        assert_eq!(size, bytes.len(), "{a}");
        out.push(file(a["filename"].as_str().unwrap(), &bytes));
    }
    out.sort();
    out
}
