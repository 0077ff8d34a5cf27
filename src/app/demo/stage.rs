//! Everything the demo runs on, set up the way an operator would: both
//! sandboxes with the team's workspace, a scratch directory holding a
//! `sync.toml` made from `sync.example.toml` and a SQLite database, a
//! verified Notion webhook subscription, and the environment `serve` reads
//! (with `PUBLIC_URL`, so the service registers its Airtable webhook).
//!
//! Beside the example's fields the team keeps what product teams keep in
//! these tools: an `Epics` database and table (a second pair), an
//! `Epic` relation ↔ linked-record field between specs and epics, and the
//! spec's page content ↔ a `Spec` rich text field (`[pair.body]`): the
//! demo's config is the example plus [`DEMO_FIELDS`] and [`EPICS_PAIR`].

use std::{
    collections::HashMap,
    net::TcpListener,
    path::{Path, PathBuf},
};

use anyhow::Context as _;

use crate::config::Env;
use notion_airtable_sandbox::{
    airtable::{AirtableSandbox, AirtableSandboxConfig, FieldSchema, FieldType, TeamAirtable},
    notion::{NotionSandbox, NotionSandboxConfig, PropertySchema, TeamNotion},
};
use serde_json::json;

/// The mapping the demo runs, the README's example (compiled in, so the
/// demo works from any directory).
const EXAMPLE_CONFIG: &str = include_str!("../../../sync.example.toml");
const EXAMPLE_DATABASE_ID: &str = "00000000-0000-0000-0000-000000000000";
const EXAMPLE_BASE_ID: &str = "appXXXXXXXXXXXXXX";
const EXAMPLE_DEBOUNCE: &str = "debounce_ms = 2000";
/// A person's burst of edits still coalesces, but the demo does not wait
/// the production default of two seconds per step.
const DEMO_DEBOUNCE: &str = "debounce_ms = 250";
/// Where the specs pair's extra mappings go: before the example's one-way
/// fields, inside the specs pair.
const DEMO_ANCHOR: &str = "# Operational data:";
/// The specs pair's relation to epics and its page content.
const DEMO_FIELDS: &str = "[[pair.field]]
notion = \"Epic\"                 # relation ↔ linked records of the epics pair
airtable = \"Epic\"

[pair.body]
airtable = \"Spec\"               # the page's content ↔ a rich text field, as Markdown
direction = \"both\"
conflict = \"notion\"

";
/// The second pair, which the `Epic` relation points to.
const EPICS_PAIR: &str = "
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
debounce_ms = 250

[[pair.field]]
notion = \"Name\"
airtable = \"Name\"
";
/// The epics the product team already has in Notion.
pub const EPIC_TITLES: [&str; 3] = ["Checkout revamp", "Enterprise readiness", "Mobile parity"];

/// The running sandboxes and the service's environment.
pub struct Stage {
    pub notion: NotionSandbox,
    pub airtable: AirtableSandbox,
    pub team_notion: TeamNotion,
    pub team_airtable: TeamAirtable,
    pub epics: Epics,
    pub dir: ScratchDir,
    pub env: Env,
    /// The generated `ADMIN_TOKEN` (the status page's password).
    pub admin_token: String,
}

impl Stage {
    /// Start and seed both sandboxes (real rate limits and penalties),
    /// write the config, subscribe the service to Notion's webhooks.
    pub async fn start() -> anyhow::Result<Stage> {
        let notion = NotionSandbox::start_local(NotionSandboxConfig::default()).await?;
        let airtable = AirtableSandbox::start_local(AirtableSandboxConfig::default()).await?;
        let team_notion = notion.seed_team();
        let team_airtable = airtable.seed_team();
        let epics = Epics::create(&notion, &airtable, &team_notion, &team_airtable)?;
        let dir = ScratchDir::new()?;
        let config = sync_toml(&team_notion.database_id, &team_airtable.base_id)?;
        let config = with_epics_and_content(&config, &epics.database_id, &team_airtable.base_id)?;
        std::fs::write(dir.path().join("sync.toml"), config)
            .context("writing the demo's sync.toml")?;
        let listen = format!("127.0.0.1:{}", free_port()?);
        let public_url = format!("http://{listen}");
        // What an operator does in Notion's integration settings: subscribe
        // the service's URL and paste the verification token it receives.
        let subscription = notion.subscribe(&format!("{public_url}/webhooks/notion"));
        notion.verify_subscription(&subscription.id, &subscription.verification_token)?;
        let admin_token = uuid::Uuid::new_v4().simple().to_string();
        let vars = HashMap::from([
            ("DATABASE_URL", database_url(dir.path())),
            (
                "SYNC_CONFIG",
                dir.path().join("sync.toml").display().to_string(),
            ),
            ("LISTEN_ADDR", listen),
            ("NOTION_TOKEN", notion.token().to_owned()),
            ("AIRTABLE_TOKEN", airtable.token().to_owned()),
            ("NOTION_API_URL", notion.base_url()),
            ("AIRTABLE_API_URL", airtable.base_url()),
            ("NOTION_WEBHOOK_SECRET", subscription.verification_token),
            ("PUBLIC_URL", public_url),
            ("ADMIN_TOKEN", admin_token.clone()),
        ]);
        let env = Env::from_lookup(|name| vars.get(name).cloned())?;
        Ok(Stage {
            notion,
            airtable,
            team_notion,
            team_airtable,
            epics,
            dir,
            env,
            admin_token,
        })
    }

    /// Where the service listens (`http://127.0.0.1:PORT`).
    pub fn service_url(&self) -> String {
        format!("http://{}", self.env.listen_addr)
    }
}

/// `sync.example.toml` with the sandbox's ids and a short debounce. Fails if
/// the example no longer carries a placeholder, rather than running a
/// config that silently kept it.
pub fn sync_toml(database_id: &str, base_id: &str) -> anyhow::Result<String> {
    let mut text = EXAMPLE_CONFIG.to_owned();
    for (placeholder, value) in [
        (EXAMPLE_DATABASE_ID, database_id),
        (EXAMPLE_BASE_ID, base_id),
        (EXAMPLE_DEBOUNCE, DEMO_DEBOUNCE),
    ] {
        anyhow::ensure!(
            text.contains(placeholder),
            "sync.example.toml no longer contains `{placeholder}`; the demo cannot derive its config"
        );
        text = text.replace(placeholder, value);
    }
    Ok(text)
}

/// The example's config with the relation, the page content and the
/// epics pair added.
pub fn with_epics_and_content(
    config: &str,
    epics_database_id: &str,
    base_id: &str,
) -> anyhow::Result<String> {
    anyhow::ensure!(
        config.contains(DEMO_ANCHOR),
        "sync.example.toml no longer contains `{DEMO_ANCHOR}`; the demo cannot place its fields"
    );
    let specs = config.replacen(DEMO_ANCHOR, &format!("{DEMO_FIELDS}{DEMO_ANCHOR}"), 1);
    let epics = EPICS_PAIR
        .replace("{database_id}", epics_database_id)
        .replace("{base_id}", base_id);
    Ok(format!("{specs}{epics}"))
}

/// The epics the specs link to, on both sides, made as a person would:
/// a database and a table, then a relation and a link field on the specs,
/// and a rich text field for the spec's content.
pub struct Epics {
    pub database_id: String,
    pub data_source_id: String,
    pub table_id: String,
    /// The Notion pages of [`EPIC_TITLES`], in order.
    pub page_ids: Vec<String>,
}

impl Epics {
    fn create(
        notion: &NotionSandbox,
        airtable: &AirtableSandbox,
        team_n: &TeamNotion,
        team_a: &TeamAirtable,
    ) -> anyhow::Result<Self> {
        let (database_id, data_source_id) = notion.create_database(
            "Epics",
            vec![
                PropertySchema::title("Name"),
                PropertySchema::rich_text("Airtable Record ID"),
            ],
        );
        let text = |n: &str| FieldSchema::new(n, FieldType::SingleLineText);
        let table_id = airtable.create_table(
            &team_a.base_id,
            "Epics",
            vec![text("Name"), text("Notion Page ID")],
        );
        let person = team_n
            .people
            .first()
            .map(|(_, id)| id.clone())
            .context("the seeded Notion workspace has no people")?;
        let mut page_ids = Vec::new();
        for title in EPIC_TITLES {
            let name = json!({ "title": [{ "type": "text", "text": { "content": title } }] });
            page_ids.push(notion.insert_page_as_person(
                &data_source_id,
                &person,
                json!({ "Name": name }),
            )?);
        }
        let relation = json!({ "properties": {
            "Epic": { "relation": { "data_source_id": data_source_id, "single_property": {} } },
        }});
        notion.update_data_source_as_person(&team_n.data_source_id, &person, relation)?;
        let (base, specs) = (&team_a.base_id, &team_a.table_id);
        let link = FieldSchema::with_options(
            "Epic",
            FieldType::MultipleRecordLinks,
            json!({ "linkedTableId": table_id }),
        );
        airtable.create_field_as_person(base, specs, link)?;
        airtable.create_field_as_person(
            base,
            specs,
            FieldSchema::new("Spec", FieldType::RichText),
        )?;
        Ok(Self {
            database_id,
            data_source_id,
            table_id,
            page_ids,
        })
    }
}

fn database_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("sync.db").display())
}

/// A port nobody listens on right now (the service binds it a moment later).
fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// A temporary directory, removed when dropped.
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new() -> anyhow::Result<Self> {
        let path = std::env::temp_dir().join(format!(
            "notion-airtable-sync-demo-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(Self(path))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
