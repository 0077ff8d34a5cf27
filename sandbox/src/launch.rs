//! `notion-airtable-sync sandbox`: both sandbox servers in one process, each on
//! its own port, optionally seeded with the team's workspace. Prints one JSON
//! line on stdout with everything a client needs, then serves until Ctrl-C or
//! SIGTERM.

use std::{net::IpAddr, time::Duration};

use serde::Serialize;
use tokio::net::TcpListener;

use super::{
    airtable::{AirtableSandbox, AirtableSandboxConfig},
    common::Faults,
    notion::{NotionSandbox, NotionSandboxConfig, UserInformation},
    team::{NotionStatus, TeamOptions},
};

#[derive(Debug, Clone, clap::Args)]
pub struct SandboxArgs {
    /// Address both servers listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port of the Notion API sandbox (0 picks a free port).
    #[arg(long, default_value_t = 8701)]
    pub notion_port: u16,
    /// Port of the Airtable API sandbox (0 picks a free port).
    #[arg(long, default_value_t = 8702)]
    pub airtable_port: u16,
    /// Seed a workspace: `team` creates "Product Specs" (47 specs) and an empty "Delivery Tracker".
    #[arg(long, value_enum)]
    pub seed: Option<Seed>,
    /// Turn off both vendors' rate limits (they are on by default, as in production).
    #[arg(long)]
    pub no_rate_limit: bool,
    /// How long Airtable refuses every request to a base after a 429, in seconds.
    #[arg(long, default_value_t = 30.0)]
    pub airtable_penalty_secs: f64,
    /// Latency added to every API response, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Type of the seeded Notion "Status" column: `select` (the API adds options on write) or
    /// `status` (Notion's status type: the API cannot create its options).
    #[arg(long, value_enum, default_value_t = NotionStatus::Select)]
    pub notion_status: NotionStatus,
    /// The Notion integration's user capability: `none` makes `GET /v1/users` answer 403.
    #[arg(long, value_enum, default_value_t = UserInformation::WithEmail)]
    pub notion_user_info: UserInformation,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Seed {
    Team,
}

/// The JSON line printed at start.
#[derive(Debug, Serialize)]
pub struct SandboxInfo {
    pub notion_url: String,
    pub notion_token: String,
    pub airtable_url: String,
    pub airtable_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notion_database_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notion_data_source_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub airtable_base_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub airtable_table_id: Option<String>,
}

/// Both servers, started.
pub struct RunningSandbox {
    pub notion: NotionSandbox,
    pub airtable: AirtableSandbox,
    pub info: SandboxInfo,
}

/// Start both servers as `args` says and seed them.
pub async fn start(args: &SandboxArgs) -> anyhow::Result<RunningSandbox> {
    let faults = Faults {
        latency_ms: args.latency_ms,
        ..Faults::default()
    };
    let notion_cfg = NotionSandboxConfig {
        rate_limit: !args.no_rate_limit,
        user_information: args.notion_user_info,
        faults: faults.clone(),
        ..NotionSandboxConfig::default()
    };
    let airtable_cfg = AirtableSandboxConfig {
        rate_limit: !args.no_rate_limit,
        penalty: Duration::from_secs_f64(args.airtable_penalty_secs.max(0.0)),
        faults,
        ..AirtableSandboxConfig::default()
    };
    let notion = NotionSandbox::start(notion_cfg, bind(args.host, args.notion_port).await?).await?;
    let airtable =
        AirtableSandbox::start(airtable_cfg, bind(args.host, args.airtable_port).await?).await?;
    let mut info = SandboxInfo {
        notion_url: notion.base_url(),
        notion_token: notion.token().to_owned(),
        airtable_url: airtable.base_url(),
        airtable_token: airtable.token().to_owned(),
        notion_database_id: None,
        notion_data_source_id: None,
        airtable_base_id: None,
        airtable_table_id: None,
    };
    if args.seed == Some(Seed::Team) {
        let n = notion.seed_team_with(TeamOptions {
            status: args.notion_status,
        });
        let a = airtable.seed_team();
        info.notion_database_id = Some(n.database_id);
        info.notion_data_source_id = Some(n.data_source_id);
        info.airtable_base_id = Some(a.base_id);
        info.airtable_table_id = Some(a.table_id);
    }
    Ok(RunningSandbox {
        notion,
        airtable,
        info,
    })
}

async fn bind(host: IpAddr, port: u16) -> anyhow::Result<TcpListener> {
    TcpListener::bind((host, port))
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {host}:{port}: {e}"))
}

/// The `sandbox` command: start, print the JSON line, serve until stopped.
pub async fn run(args: SandboxArgs) -> anyhow::Result<()> {
    let sandbox = start(&args).await?;
    println!("{}", serde_json::to_string(&sandbox.info)?);
    tracing::info!(
        notion = %sandbox.info.notion_url,
        airtable = %sandbox.info.airtable_url,
        "sandbox running; control API under /_sandbox/ on each server; Ctrl-C to stop"
    );
    shutdown_signal().await;
    tracing::info!("sandbox stopping");
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
