//! Everything the demo runs on, set up the way an operator would: both
//! sandboxes with the team's workspace, a scratch directory holding a
//! `sync.toml` made from `sync.example.toml` and a SQLite database, a
//! verified Notion webhook subscription, and the environment `serve` reads
//! (with `PUBLIC_URL`, so the service registers its Airtable webhook).

use std::{
    collections::HashMap,
    net::TcpListener,
    path::{Path, PathBuf},
};

use anyhow::Context as _;

use crate::config::Env;
use notion_airtable_sandbox::{
    airtable::{AirtableSandbox, AirtableSandboxConfig, TeamAirtable},
    notion::{NotionSandbox, NotionSandboxConfig, TeamNotion},
};

/// The mapping the demo runs, the README's example (compiled in, so the
/// demo works from any directory).
const EXAMPLE_CONFIG: &str = include_str!("../../../sync.example.toml");
const EXAMPLE_DATABASE_ID: &str = "00000000-0000-0000-0000-000000000000";
const EXAMPLE_BASE_ID: &str = "appXXXXXXXXXXXXXX";
const EXAMPLE_DEBOUNCE: &str = "debounce_ms = 2000";
/// A person's burst of edits still coalesces, but the demo does not wait
/// the production default of two seconds per step.
const DEMO_DEBOUNCE: &str = "debounce_ms = 250";

/// The running sandboxes and the service's environment.
pub struct Stage {
    pub notion: NotionSandbox,
    pub airtable: AirtableSandbox,
    pub team_notion: TeamNotion,
    pub team_airtable: TeamAirtable,
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
        let dir = ScratchDir::new()?;
        let config = sync_toml(&team_notion.database_id, &team_airtable.base_id)?;
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
