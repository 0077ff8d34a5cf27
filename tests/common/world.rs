//! A seeded world for end-to-end tests: both sandbox servers with the team's
//! workspace, the example mapping pointed at them, resolved, and an engine
//! on a test database.

use std::{sync::Arc, time::Duration};

use notion_airtable_sandbox::{
    airtable::{AirtableSandbox, AirtableSandboxConfig, TeamAirtable},
    notion::{NotionSandbox, NotionSandboxConfig, TeamNotion},
    team::{NotionStatus, TeamOptions},
};
use notion_airtable_sync::{
    airtable::AirtableClient,
    clients::ratelimit::{Budget, NOTION_BURST, NOTION_RATE_PER_SEC},
    config::SyncConfig,
    engine::{Engine, Summary, SweepOptions},
    notion::NotionClient,
    secret::Secret,
    store::Cause,
    sync::pair::ResolvedPair,
};
use serde_json::{Value, json};

use super::{TestDb, mapping::Mapping};

pub struct World {
    pub notion: NotionSandbox,
    pub airtable: AirtableSandbox,
    pub team_n: TeamNotion,
    pub team_a: TeamAirtable,
    pub engine: Engine,
    pub pair: ResolvedPair,
    _db: TestDb,
}

pub const PENALTY: Duration = Duration::from_secs(1);

pub async fn world(db: TestDb) -> World {
    world_at(db, 0).await
}

pub async fn world_at(db: TestDb, offset: i64) -> World {
    world_with(db, offset, "").await
}

/// A world whose sandbox clocks run `offset` seconds from now while it is
/// seeded, with `options` replacing the example's `create_notion_pages` line.
pub async fn world_with(db: TestDb, offset: i64, options: &str) -> World {
    build(
        db,
        offset,
        options,
        true,
        NotionStatus::Select,
        &[],
        &Extra::default(),
    )
    .await
}

/// A world whose Notion Status column is a `status` property (its options
/// cannot be created through the API), as real databases mostly have it.
pub async fn world_with_status(db: TestDb) -> World {
    world_seeded(db, NotionStatus::Status).await
}

/// A world whose Notion Status column has the type `status`.
pub async fn world_seeded(db: TestDb, status: NotionStatus) -> World {
    build(db, 0, "", true, status, &[], &Extra::default()).await
}

/// A world with both vendors' rate limits off (for long randomized runs;
/// the limits themselves are tested elsewhere).
pub async fn world_unthrottled(db: TestDb) -> World {
    build(
        db,
        0,
        "",
        false,
        NotionStatus::Select,
        &[],
        &Extra::default(),
    )
    .await
}

/// An unthrottled world whose Notion Status column has the type `status`.
pub async fn world_unthrottled_with(db: TestDb, status: NotionStatus) -> World {
    build(db, 0, "", false, status, &[], &Extra::default()).await
}

/// An unthrottled world whose mapping is the example with `edits` (each
/// `(from, to)` must be in it).
pub async fn world_edited(db: TestDb, edits: &[(&str, &str)]) -> World {
    build(
        db,
        0,
        "",
        false,
        NotionStatus::Select,
        edits,
        &Extra::default(),
    )
    .await
}

async fn build(
    db: TestDb,
    offset: i64,
    options: &str,
    rate_limit: bool,
    status: NotionStatus,
    edits: &[(&str, &str)],
    extra: &Extra,
) -> World {
    let notion = NotionSandbox::start_local(NotionSandboxConfig {
        rate_limit,
        ..NotionSandboxConfig::default()
    })
    .await
    .unwrap();
    let airtable = AirtableSandbox::start_local(AirtableSandboxConfig {
        penalty: PENALTY,
        rate_limit,
        ..AirtableSandboxConfig::default()
    })
    .await
    .unwrap();
    set_clocks(&notion, &airtable, offset).await;
    let team_n = notion.seed_team_with(TeamOptions { status });
    let team_a = airtable.seed_team();
    extra.add(&notion, &team_n, &airtable, &team_a).await;
    let mapping = Mapping::example(&team_n.database_id, &team_a.base_id);
    let mapping = if options.is_empty() {
        mapping
    } else {
        mapping.edit("create_notion_pages = false", options)
    };
    let mapping = edits.iter().fold(mapping, |m, (from, to)| m.edit(from, to));
    let config = SyncConfig::parse(mapping.text()).unwrap();
    let budget = if rate_limit {
        Budget::new("notion", NOTION_RATE_PER_SEC, NOTION_BURST)
    } else {
        Budget::unlimited("notion")
    };
    let notion_client = NotionClient::new(
        &notion.base_url(),
        Secret::new(notion.token()),
        Arc::new(budget),
    )
    .unwrap();
    let airtable_client = AirtableClient::new(&airtable.base_url(), Secret::new(airtable.token()))
        .unwrap()
        .with_penalty(PENALTY);
    let airtable_client = if rate_limit {
        airtable_client
    } else {
        airtable_client.with_rate(10_000.0)
    };
    let pair =
        notion_airtable_sync::engine::load_pair(&config.pairs[0], &notion_client, &airtable_client)
            .await
            .unwrap();
    let engine = Engine::new(notion_client, airtable_client, db.store.clone());
    World {
        notion,
        airtable,
        team_n,
        team_a,
        engine,
        pair,
        _db: db,
    }
}

/// Properties and fields added to the seeded workspace before the pair is
/// resolved: Notion properties through the data source update a person
/// makes, Airtable fields through the Meta API's create-field endpoint (computed
/// ones, which the API cannot create, as a person adds them).
#[derive(Default)]
pub struct Extra {
    /// `{"<name>": {"<type>": {...}}}`, as `PATCH /v1/data_sources/{id}` takes it.
    pub notion_properties: Value,
    /// `{name, type, options?}` bodies for `POST .../tables/{id}/fields`.
    pub airtable_fields: Vec<Value>,
    /// The Notion integration's user capability, set before the pair is resolved.
    pub notion_user_information: Option<notion_airtable_sandbox::notion::UserInformation>,
    /// The Airtable base's collaborators `(email, name)`, when not the team.
    pub airtable_collaborators: Option<Vec<(&'static str, &'static str)>>,
    /// More members of the Notion workspace `(name, email)`, besides the team.
    pub notion_members: Vec<(String, String)>,
}

impl Extra {
    /// Add them to the team's workspace (the specs database and table).
    pub async fn add(
        &self,
        notion: &NotionSandbox,
        team_n: &TeamNotion,
        airtable: &AirtableSandbox,
        team_a: &TeamAirtable,
    ) {
        if let Some(info) = self.notion_user_information {
            notion.set_user_information(info);
        }
        if let Some(people) = &self.airtable_collaborators {
            airtable.set_collaborators(&team_a.base_id, people);
        }
        for (name, email) in &self.notion_members {
            notion.add_member(name, email);
        }
        if !self.notion_properties.is_null() {
            let person = team_n.people[0].1.clone();
            // `$DATA_SOURCE_ID` stands for the specs' own data source (a self-relation).
            let text = self.notion_properties.to_string();
            let text = text.replace("$DATA_SOURCE_ID", &team_n.data_source_id);
            let properties: Value = serde_json::from_str(&text).unwrap();
            let body = json!({ "properties": properties });
            notion
                .update_data_source_as_person(&team_n.data_source_id, &person, body)
                .unwrap();
        }
        let url = |prefix: &str| {
            format!(
                "{}{prefix}/bases/{}/tables/{}/fields",
                airtable.base_url(),
                team_a.base_id,
                team_a.table_id
            )
        };
        for field in &self.airtable_fields {
            // Computed fields only a person can add, in Airtable's UI.
            let computed = [
                "formula",
                "autoNumber",
                "createdTime",
                "lastModifiedTime",
                "rollup",
                "multipleLookupValues",
                "count",
            ];
            let by_person = computed.iter().any(|t| field["type"] == *t);
            // `$TABLE_ID` stands for the specs' own table (a link to the same table).
            let text = field.to_string().replace("$TABLE_ID", &team_a.table_id);
            let field: Value = serde_json::from_str(&text).unwrap();
            let field = &field;
            let url = url(if by_person { "/_sandbox" } else { "/v0/meta" });
            let response = reqwest::Client::new()
                .post(&url)
                .bearer_auth(airtable.token())
                .json(field)
                .send()
                .await
                .unwrap();
            let status = response.status();
            let text = response.text().await.unwrap();
            assert!(status.is_success(), "creating {field}: {status} {text}");
        }
    }
}

/// An unthrottled world whose mapping is the example with `edits`, with
/// `extra` properties and fields added before the pair is resolved.
pub async fn world_extended(db: TestDb, edits: &[(&str, &str)], extra: Extra) -> World {
    build(db, 0, "", false, NotionStatus::Select, edits, &extra).await
}

/// [`world_extended`] with the team's Status as a Notion `status` property.
pub async fn world_extended_with_status(db: TestDb, edits: &[(&str, &str)], extra: Extra) -> World {
    build(db, 0, "", false, NotionStatus::Status, edits, &extra).await
}

pub async fn set_clocks(notion: &NotionSandbox, airtable: &AirtableSandbox, offset: i64) {
    notion.set_clock_offset_seconds(offset);
    let url = format!("{}/_sandbox/clock", airtable.base_url());
    let response = reqwest::Client::new()
        .post(url)
        .json(&json!({ "offset_seconds": offset }))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
}

impl World {
    /// The test database's URL (for a command run against it).
    pub fn db_url(&self) -> &str {
        &self._db.url
    }

    pub async fn sweep(&self, full: bool) -> Summary {
        let opts = SweepOptions {
            full,
            dry_run: false,
            cause: Cause::Sweep,
        };
        self.engine.sweep(&self.pair, opts).await.unwrap()
    }

    pub fn rows(&self) -> Vec<Value> {
        self.airtable
            .records(&self.team_a.base_id, &self.team_a.table_id)
    }

    pub fn row_for(&self, page_id: &str) -> Value {
        let rows: Vec<Value> = self
            .rows()
            .into_iter()
            .filter(|r| r["fields"]["Notion Page ID"] == json!(page_id))
            .collect();
        assert_eq!(rows.len(), 1, "exactly one row for page {page_id}");
        rows.into_iter().next().unwrap()
    }

    pub fn page(&self, id: &str) -> Value {
        self.notion.page(id).expect("page exists")
    }

    pub fn user(&self, name: &str) -> String {
        self.team_n
            .people
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, id)| id.clone())
            .unwrap()
    }

    pub fn person(&self) -> String {
        self.team_n.people[0].1.clone()
    }

    pub fn calls(&self) -> (u64, u64) {
        (self.notion.calls().total(), self.airtable.calls().total())
    }
}

pub fn text_of(prop: &Value) -> String {
    let ty = prop["type"].as_str().unwrap();
    prop[ty]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["plain_text"].as_str().unwrap())
        .collect()
}

pub fn select_of(prop: &Value) -> Value {
    let ty = prop["type"].as_str().unwrap();
    prop[ty]["name"].clone()
}

/// Every mapped value of every live page equals its row's.
pub fn assert_in_sync(w: &World) {
    for page_id in &w.team_n.page_ids {
        let page = w.page(page_id);
        if page["in_trash"] == json!(true) {
            continue;
        }
        assert_team_fields_agree(&page, &w.row_for(page_id));
    }
}

/// The example mapping's fields of one page (as read) and its row (as read)
/// hold the same values.
pub fn assert_team_fields_agree(page: &Value, row: &Value) {
    let page_id = page["id"].as_str().unwrap();
    let (p, f) = (&page["properties"], &row["fields"]);
    assert_eq!(json!(text_of(&p["Name"])), f["Spec Name"], "{page_id}");
    for field in ["Status", "Priority", "Target Quarter"] {
        assert_eq!(select_of(&p[field]), f[field], "{field} of {page_id}");
    }
    let owners: Vec<&str> = p["Owner"]["people"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert_eq!(json!(owners.join(", ")), f["Owner"], "Owner of {page_id}");
    assert_eq!(page["url"], f["Notion URL"]);
    for field in ["Sprint", "Blockers"] {
        let notion = text_of(&p[field]);
        assert_eq!(
            notion,
            f[field].as_str().unwrap_or_default(),
            "{field} of {page_id}"
        );
    }
    assert_eq!(
        p["Ship Date"]["date"]["start"].as_str(),
        f["Ship Date"].as_str(),
        "Ship Date of {page_id}"
    );
    assert!(f["Last Synced"].is_string());
}
