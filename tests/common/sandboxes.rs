//! Both vendors' sandboxes seeded with the team's workspace (47 specs),
//! real rate limits on, and what tests read and do through them.

use std::time::Duration;

use notion_airtable_sandbox::{
    airtable::{AirtableSandbox, AirtableSandboxConfig, TeamAirtable},
    notion::{NotionSandbox, NotionSandboxConfig, TeamNotion},
};
use serde_json::{Value, json};

/// Both vendors' sandboxes with the team's 47 specs, real rate limits on.
pub struct Sandboxes {
    pub notion: NotionSandbox,
    pub airtable: AirtableSandbox,
    pub team_n: TeamNotion,
    pub team_a: TeamAirtable,
}

impl Sandboxes {
    pub async fn start() -> Self {
        let notion = NotionSandbox::start_local(NotionSandboxConfig::default())
            .await
            .unwrap();
        let airtable = AirtableSandbox::start_local(AirtableSandboxConfig {
            penalty: Duration::from_secs(1),
            ..AirtableSandboxConfig::default()
        })
        .await
        .unwrap();
        let team_n = notion.seed_team();
        let team_a = airtable.seed_team();
        Sandboxes {
            notion,
            airtable,
            team_n,
            team_a,
        }
    }

    pub fn person(&self) -> String {
        self.team_n.people[0].1.clone()
    }

    pub fn rows(&self) -> Vec<Value> {
        self.airtable
            .records(&self.team_a.base_id, &self.team_a.table_id)
    }

    /// Rows whose link field names `page_id` (exactly one when in sync).
    pub fn rows_for(&self, page_id: &str) -> Vec<Value> {
        self.rows()
            .into_iter()
            .filter(|r| r["fields"]["Notion Page ID"] == json!(page_id))
            .collect()
    }

    pub fn row_for(&self, page_id: &str) -> Option<Value> {
        self.rows_for(page_id).into_iter().next()
    }

    pub fn record_id(&self, page_id: &str) -> String {
        self.row_for(page_id).expect("a linked row")["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// A person renames a page (the `Name` title, synced both ways).
    pub fn rename_page(&self, page_id: &str, name: &str) {
        self.notion
            .update_page_as_person(
                page_id,
                &self.person(),
                json!({ "Name": { "title": [{ "text": { "content": name } }] } }),
            )
            .unwrap();
    }

    /// A person edits a row's cells.
    pub fn edit_row(&self, page_id: &str, fields: Value) {
        let record = self.record_id(page_id);
        self.airtable
            .update_record_as_person(&self.team_a.base_id, &self.team_a.table_id, &record, fields)
            .unwrap();
    }

    pub fn notion_name(&self, page_id: &str) -> String {
        plain_text(&self.notion.page(page_id).unwrap()["properties"]["Name"])
    }

    /// `Spec Name` of the page's row, if it has exactly one.
    pub fn airtable_name(&self, page_id: &str) -> Option<String> {
        let rows = self.rows_for(page_id);
        (rows.len() == 1).then(|| {
            rows[0]["fields"]["Spec Name"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
    }

    /// Write requests both sandboxes have answered (reads and queries aside).
    pub fn writes(&self) -> u64 {
        let n = self.notion.calls().snapshot();
        let a = self.airtable.calls().snapshot();
        n.iter()
            .chain(&a)
            .filter(|c| {
                c.method != "GET" && !c.route.contains("/query") && !c.route.contains("listRecords")
            })
            .map(|c| c.count)
            .sum()
    }
}

/// The text of a title or rich text property.
pub fn plain_text(prop: &Value) -> String {
    let ty = prop["type"].as_str().unwrap_or("rich_text");
    prop[ty]
        .as_array()
        .map(|parts| {
            parts
                .iter()
                .filter_map(|t| t["plain_text"].as_str())
                .collect()
        })
        .unwrap_or_default()
}

/// The name of a select or status property.
pub fn select_name(prop: &Value) -> Value {
    let ty = prop["type"].as_str().unwrap_or("select");
    prop[ty]["name"].clone()
}
