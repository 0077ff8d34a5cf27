//! Two pairs over one pair of sandboxes: the team's specs (the example
//! mapping) with an `Epic` relation ↔ `Epic` link field, and a second pair
//! of epics, which the relation points to.

use std::sync::Arc;

use notion_airtable_sandbox::{
    airtable::{AirtableSandbox, AirtableSandboxConfig, FieldSchema, FieldType, TeamAirtable},
    notion::{NotionSandbox, NotionSandboxConfig, PropertySchema, TeamNotion},
};
use notion_airtable_sync::{
    airtable::AirtableClient,
    clients::ratelimit::Budget,
    config::SyncConfig,
    engine::{Engine, Summary, SweepOptions, load_pair},
    notion::NotionClient,
    secret::Secret,
    store::Cause,
    sync::{pair::ResolvedPair, relation_target::link_targets},
};
use serde_json::{Value, json};

use crate::common::{TestDb, mapping::Mapping, world::Extra};

/// The example's section after its two-way fields; the relation goes before it.
const ANCHOR: &str = "# Operational data:";

const EPIC_FIELD: &str = "[[pair.field]]
notion = \"Epic\"
airtable = \"Epic\"

[[pair.field]]
notion = \"Depends on\"
airtable = \"Depends on\"

# Operational data:";

/// The second pair: epics, titles both ways; an Airtable row without a page
/// gets one (so a target can appear on either side).
pub fn epics_pair(database_id: &str, base_id: &str) -> String {
    format!(
        "
[[pair]]
name = \"epics\"

[pair.notion]
database_id = \"{database_id}\"
record_id_property = \"Airtable Record ID\"

[pair.airtable]
base_id = \"{base_id}\"
table = \"Epics\"
page_id_field = \"Notion Page ID\"

[pair.options]
create_notion_pages = true
on_notion_trash = \"ignore\"

[[pair.field]]
notion = \"Name\"
airtable = \"Name\"
"
    )
}

pub struct Two {
    pub notion: NotionSandbox,
    pub airtable: AirtableSandbox,
    pub team_n: TeamNotion,
    pub team_a: TeamAirtable,
    pub epics_ds: String,
    pub epics_table: String,
    pub engine: Engine,
    pub specs: ResolvedPair,
    pub epics: ResolvedPair,
    pub db: TestDb,
    /// The mapping file's text (both pairs).
    pub mapping_text: String,
}

/// The workspace, the mapping text (for `check`), and the two resolved pairs.
pub async fn two_pairs(db: TestDb, epic_titles: &[String]) -> Two {
    two_pairs_with(db, epic_titles, &[], &Extra::default()).await
}

/// [`two_pairs`] with the specs pair's mapping edited by `edits` (each
/// `(from, to)` must be in it) and `extra` properties and fields added to
/// the specs database and table before the pairs are resolved.
pub async fn two_pairs_with(
    db: TestDb,
    epic_titles: &[String],
    edits: &[(&str, &str)],
    extra: &Extra,
) -> Two {
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
    let team_n = notion.seed_team();
    let team_a = airtable.seed_team();
    extra.add(&notion, &team_n, &airtable, &team_a).await;
    let (epics_db, epics_ds) = notion.create_database(
        "Epics",
        vec![
            PropertySchema::title("Name"),
            PropertySchema::rich_text("Airtable Record ID"),
        ],
    );
    let text = |n: &str| FieldSchema::new(n, FieldType::SingleLineText);
    let epics_table = airtable.create_table(
        &team_a.base_id,
        "Epics",
        vec![text("Name"), text("Notion Page ID")],
    );
    let person = team_n.people[0].1.clone();
    for title in epic_titles {
        new_epic_page(&notion, &epics_ds, &person, title);
    }
    // The relation and the link field, as a person adds them.
    // And a relation of specs to specs (a self-relation: the same pair).
    let specs_ds = team_n.data_source_id.clone();
    let relation = json!({ "properties": {
        "Epic": { "relation": { "data_source_id": epics_ds, "single_property": {} } },
        "Depends on": { "relation": { "data_source_id": specs_ds, "single_property": {} } },
    }});
    notion
        .update_data_source_as_person(&team_n.data_source_id, &person, relation)
        .unwrap();
    let link = FieldSchema::with_options(
        "Epic",
        FieldType::MultipleRecordLinks,
        json!({ "linkedTableId": epics_table }),
    );
    airtable
        .create_field_as_person(&team_a.base_id, &team_a.table_id, link)
        .unwrap();
    let depends = FieldSchema::with_options(
        "Depends on",
        FieldType::MultipleRecordLinks,
        json!({ "linkedTableId": team_a.table_id }),
    );
    airtable
        .create_field_as_person(&team_a.base_id, &team_a.table_id, depends)
        .unwrap();
    let specs = Mapping::example(&team_n.database_id, &team_a.base_id).edit(ANCHOR, EPIC_FIELD);
    let specs = edits.iter().fold(specs, |m, (from, to)| m.edit(from, to));
    let text = format!("{}{}", specs.text(), epics_pair(&epics_db, &team_a.base_id));
    let config = SyncConfig::parse(&text).unwrap();
    let notion_client = NotionClient::new(
        &notion.base_url(),
        Secret::new(notion.token()),
        Arc::new(Budget::unlimited("notion")),
    )
    .unwrap();
    let airtable_client = AirtableClient::new(&airtable.base_url(), Secret::new(airtable.token()))
        .unwrap()
        .with_rate(10_000.0);
    let mut pairs = Vec::new();
    for p in &config.pairs {
        pairs.push(
            load_pair(p, &notion_client, &airtable_client)
                .await
                .unwrap(),
        );
    }
    let problems = link_targets(&mut pairs);
    assert!(problems.is_empty(), "{problems:?}");
    let epics = pairs.pop().unwrap();
    let specs = pairs.pop().unwrap();
    let engine = Engine::new(notion_client, airtable_client, db.store.clone());
    Two {
        notion,
        airtable,
        team_n,
        team_a,
        epics_ds,
        epics_table,
        engine,
        specs,
        epics,
        db,
        mapping_text: text,
    }
}

pub fn new_epic_page(notion: &NotionSandbox, ds: &str, person: &str, title: &str) -> String {
    let name = json!({ "title": [{ "type": "text", "text": { "content": title } }] });
    notion
        .insert_page_as_person(ds, person, json!({ "Name": name }))
        .unwrap()
}

impl Two {
    pub fn person(&self) -> String {
        self.team_n.people[0].1.clone()
    }

    pub async fn sweep(&self, pair: &ResolvedPair) -> Summary {
        let opts = SweepOptions {
            full: true,
            dry_run: false,
            cause: Cause::Sweep,
        };
        let s = self.engine.sweep(pair, opts).await.unwrap();
        assert!(s.problems.is_empty(), "{:?}", s.problems);
        s
    }

    pub async fn reconcile(&self, pair: &ResolvedPair, page: &str) -> Summary {
        self.engine
            .reconcile_page(pair, page, Cause::Manual)
            .await
            .unwrap()
    }

    /// Every epic page id, in creation order.
    pub fn epic_pages(&self) -> Vec<String> {
        let rows = self
            .airtable
            .records(&self.team_a.base_id, &self.epics_table);
        rows.iter()
            .filter_map(|r| r["fields"]["Notion Page ID"].as_str().map(str::to_owned))
            .collect()
    }

    /// The Airtable record linked to a page (of either pair).
    pub async fn record_of(&self, pair: &str, page: &str) -> String {
        let link = self.db.store.get_link_by_page(pair, page).await.unwrap();
        link.and_then(|l| l.airtable_record_id)
            .unwrap_or_else(|| panic!("{pair}: page {page} is not linked"))
    }

    /// Set a spec page's relation, as a person in Notion.
    pub fn relate_in_notion(&self, spec: &str, epics: &[String]) {
        let refs: Vec<Value> = epics.iter().map(|id| json!({ "id": id })).collect();
        self.notion
            .update_page_as_person(
                spec,
                &self.person(),
                json!({ "Epic": { "relation": refs } }),
            )
            .unwrap();
    }

    /// Set a spec row's link cell, as a person in Airtable.
    pub fn relate_in_airtable(&self, spec_row: &str, records: &[String]) {
        let (base, table) = (&self.team_a.base_id, &self.team_a.table_id);
        self.airtable
            .update_record_as_person(base, table, spec_row, json!({ "Epic": records }))
            .unwrap();
    }

    /// The spec row's link cell, sorted.
    pub fn airtable_links(&self, spec_row: &str) -> Vec<String> {
        let (base, table) = (&self.team_a.base_id, &self.team_a.table_id);
        let row = self.airtable.record(base, table, spec_row).unwrap();
        sorted(&row["fields"]["Epic"])
    }

    /// Every page a spec relates to, read as a client must: the page read
    /// (25 at most) and, when it says `has_more`, the property-item list.
    pub async fn notion_links(&self, spec: &str) -> Vec<String> {
        let page = self.notion.page(spec).unwrap();
        let prop = &page["properties"]["Epic"];
        if prop["has_more"] != json!(true) {
            return sorted(&json!(ids(&prop["relation"])));
        }
        let client = reqwest::Client::new();
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut url = format!(
                "{}/v1/pages/{spec}/properties/{}?page_size=10",
                self.notion.base_url(),
                prop["id"].as_str().unwrap()
            );
            if let Some(c) = &cursor {
                url.push_str(&format!("&start_cursor={c}"));
            }
            let body: Value = client
                .get(url)
                .bearer_auth(self.notion.token())
                .header("Notion-Version", "2025-09-03")
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            for item in body["results"].as_array().unwrap() {
                all.push(item["relation"]["id"].as_str().unwrap().to_owned());
            }
            match body["next_cursor"].as_str() {
                Some(c) if body["has_more"] == json!(true) => cursor = Some(c.to_owned()),
                _ => break,
            }
        }
        all.sort();
        all
    }
}

fn ids(refs: &Value) -> Vec<String> {
    refs.as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["id"].as_str().map(str::to_owned))
        .collect()
}

pub fn sorted(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect();
    out.sort();
    out
}
