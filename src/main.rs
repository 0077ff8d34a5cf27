//! The `notion-airtable-sync` binary: parses the command line and hands off
//! to the library. Each command's work lives in `notion_airtable_sync::*`.

use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use notion_airtable_sandbox::launch::SandboxArgs;
use notion_airtable_sync::{
    app::{commands, serve},
    config::Env,
    store::{Store, Verdict},
    telemetry,
};

#[derive(Parser)]
#[command(
    name = "notion-airtable-sync",
    version,
    about = "Keeps a Notion database and an Airtable table in two-way sync",
    long_about = "Keeps a Notion database and an Airtable table in two-way sync, driven by \
                  webhooks from both tools, with a durable job table (SQLite or Postgres) and a \
                  reconciliation sweep as a safety net.\n\nConfiguration comes from the \
                  environment (DATABASE_URL, SYNC_CONFIG, LISTEN_ADDR, NOTION_TOKEN, \
                  AIRTABLE_TOKEN, NOTION_API_URL, AIRTABLE_API_URL, NOTION_WEBHOOK_SECRET, \
                  PUBLIC_URL, ADMIN_TOKEN, LOG_FORMAT) and the mapping file sync.toml."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// HTTP server plus workers.
    Serve {
        /// Which parts to run in this process.
        #[arg(long, value_enum, default_value_t = Role::All)]
        role: Role,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Run one sweep in-process and print a summary.
    Reconcile {
        /// Only this pair (default: every pair).
        #[arg(long)]
        pair: Option<String>,
        /// Read both sides completely instead of only what changed.
        #[arg(long)]
        full: bool,
        /// Print the writes it would make and make none.
        #[arg(long)]
        dry_run: bool,
    },
    /// Write a sync.toml proposed from both live schemas (fields matched by name and type).
    Init {
        /// The Notion database (or data source) id.
        #[arg(long)]
        notion_database: String,
        /// The Airtable base id (app...).
        #[arg(long)]
        airtable_base: String,
        /// The table's name or id; needed when the base has several tables.
        #[arg(long)]
        airtable_table: Option<String>,
        /// Where to write the mapping.
        #[arg(long, default_value = "sync.toml")]
        output: std::path::PathBuf,
        /// Overwrite the output file if it exists.
        #[arg(long)]
        force: bool,
        /// Create the Airtable fields the mapping needs (after a confirmation).
        #[arg(long)]
        create_missing: bool,
        /// With --create-missing: create without asking.
        #[arg(long)]
        yes: bool,
    },
    /// Validate sync.toml against both live schemas.
    Check,
    /// Register, inspect or extend the Airtable webhooks.
    Webhooks {
        #[command(subcommand)]
        action: WebhooksAction,
    },
    /// Take the service's own logged changes back (both sides), through the engine.
    Undo {
        /// One sync log entry (the ID column of `log`).
        #[arg(value_name = "ENTRY_ID")]
        entry: Option<i64>,
        /// Every change of one run (the RUN column of `log`, e.g. job-7).
        #[arg(long, value_name = "RUN_ID")]
        run: Option<String>,
        /// Every change since this time: RFC 3339, a date, or an age (2h, 7d).
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        /// With --since: only this pair.
        #[arg(long)]
        pair: Option<String>,
        /// Print what it would write and what it would leave alone; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// The report as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Show the sync log.
    Log {
        #[arg(long)]
        pair: Option<String>,
        /// A Notion page id or an Airtable record id.
        #[arg(long)]
        record: Option<String>,
        /// Only entries at or after this time: RFC 3339, a date, or an age (2h, 7d).
        #[arg(long)]
        since: Option<String>,
        /// Only the lines of one engine run (the RUN column, e.g. job-7).
        #[arg(long, value_name = "RUN_ID")]
        run: Option<String>,
        /// Only entries older than this id (the next page).
        #[arg(long)]
        before: Option<i64>,
        /// JSON lines instead of a table.
        #[arg(long)]
        json: bool,
        /// At most this many entries, newest first.
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// The delete review queue: deletes held until an operator approves or rejects them.
    Deletes {
        #[command(subcommand)]
        action: DeletesAction,
    },
    /// Everything in one process: sandbox, seeded specs, the service, a scripted week.
    Demo {
        /// Leave the service and the sandbox running afterwards.
        #[arg(long)]
        keep_running: bool,
    },
    /// Run the Notion and Airtable sandbox servers on their own.
    Sandbox(SandboxArgs),
}

#[derive(Subcommand)]
enum WebhooksAction {
    /// Register one webhook per pair at PUBLIC_URL/webhooks/airtable if none exists.
    Ensure,
    /// Show id, expiry, notification state and last result of each webhook.
    List,
    /// Extend every webhook's expiry by seven days.
    Refresh,
}

#[derive(Subcommand)]
enum DeletesAction {
    /// List held deletes (pending ones unless --state says otherwise).
    List {
        #[arg(long)]
        pair: Option<String>,
        /// pending, approved, rejected, cleared, done, or all.
        #[arg(long)]
        state: Option<String>,
        /// JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Approve a pending delete: the record's next reconcile makes it.
    Approve { id: i64 },
    /// Reject a pending delete: it is never made for this event.
    Reject { id: i64 },
}

#[derive(Clone, Copy, ValueEnum)]
enum Role {
    All,
    Api,
    Worker,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let env = match Env::from_process() {
        Ok(env) => env,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    // The demo tells its story on stdout; the service it runs logs only
    // warnings unless RUST_LOG asks for more.
    if matches!(cli.command, Command::Demo { .. }) && std::env::var_os("RUST_LOG").is_none() {
        // SAFETY: no other thread exists yet (the runtime is built below).
        unsafe { std::env::set_var("RUST_LOG", "warn") };
    }
    telemetry::init(env.log_format);
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    match runtime.block_on(run(cli.command, env)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, env: Env) -> anyhow::Result<ExitCode> {
    match command {
        Command::Migrate => migrate(&env).await,
        Command::Sandbox(args) => {
            notion_airtable_sandbox::launch::run(args).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve { role } => {
            let role = match role {
                Role::All => serve::Role::All,
                Role::Api => serve::Role::Api,
                Role::Worker => serve::Role::Worker,
            };
            serve::serve(
                &env,
                role,
                notion_airtable_sandbox::launch::shutdown_signal(),
            )
            .await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Reconcile {
            pair,
            full,
            dry_run,
        } => {
            commands::reconcile(&env, pair.as_deref(), full, dry_run).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Init {
            notion_database,
            airtable_base,
            airtable_table,
            output,
            force,
            create_missing,
            yes,
        } => {
            let args = commands::InitArgs {
                notion_database,
                airtable_base,
                airtable_table,
                output,
                force,
                create_missing,
                yes,
            };
            commands::init(&env, &args).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Check => match commands::check(&env).await? {
            0 => Ok(ExitCode::SUCCESS),
            n => {
                eprintln!("{n} problem(s) found");
                Ok(ExitCode::FAILURE)
            }
        },
        Command::Webhooks { action } => {
            let action = match action {
                WebhooksAction::Ensure => commands::WebhooksAction::Ensure,
                WebhooksAction::List => commands::WebhooksAction::List,
                WebhooksAction::Refresh => commands::WebhooksAction::Refresh,
            };
            commands::webhooks(&env, action).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Log {
            pair,
            record,
            since,
            run,
            before,
            json,
            limit,
        } => {
            let args = commands::LogArgs {
                pair,
                record,
                since,
                run,
                before,
                json,
                limit,
            };
            commands::log(&env, &args).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Deletes { action } => {
            match action {
                DeletesAction::List { pair, state, json } => {
                    let args = commands::DeletesListArgs { pair, state, json };
                    commands::deletes_list(&env, &args).await?;
                }
                DeletesAction::Approve { id } => {
                    commands::deletes_decide(&env, id, Verdict::Approve).await?;
                }
                DeletesAction::Reject { id } => {
                    commands::deletes_decide(&env, id, Verdict::Reject).await?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Undo {
            entry,
            run,
            since,
            pair,
            dry_run,
            json,
        } => {
            let args = commands::UndoArgs {
                entry,
                run,
                since,
                pair,
                dry_run,
                json,
            };
            commands::undo(&env, &args).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo { keep_running } => notion_airtable_sync::app::demo::run(keep_running).await,
    }
}

async fn migrate(env: &Env) -> anyhow::Result<ExitCode> {
    let store = Store::connect(env.database_url.expose()).await?;
    store.migrate().await?;
    println!("migrations applied ({:?})", store.backend());
    Ok(ExitCode::SUCCESS)
}
