//! The real binary as a child process: `serve` (webhook ingest, workers)
//! and `reconcile` (one sweep), each in a temporary folder with its own
//! `sync.toml` and a fresh database.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context as _, bail};
use notion_airtable_sync::store::{JobCounts, Store};
use sqlx::Connection as _;

use crate::{
    common::{mapping::Mapping, serve::ServeConfig},
    sandboxes::Sandboxes,
};

/// Where the service keeps its jobs.
#[derive(Clone, Debug)]
pub enum Backend {
    Sqlite,
    /// The admin URL (`TEST_POSTGRES_URL`); each run gets a fresh database.
    Postgres(String),
}

impl Backend {
    /// The backend and how durably it commits (scripts/bench.sh runs
    /// PostgreSQL with `PG_DURABLE=1`; the service opens SQLite in WAL mode
    /// with `synchronous=FULL`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Sqlite => "SQLite (WAL, synchronous=FULL)",
            Self::Postgres(_) if std::env::var("PG_DURABLE").is_ok_and(|v| v == "1") => {
                "Postgres (durable: fsync, synchronous_commit, full_page_writes on)"
            }
            Self::Postgres(_) => "Postgres (fsync off)",
        }
    }

    /// A database nobody used before, for a service in `dir`.
    pub async fn fresh_database(&self, dir: &Path) -> anyhow::Result<String> {
        match self {
            Self::Sqlite => Ok(format!("sqlite://{}", dir.join("sync.db").display())),
            Self::Postgres(admin_url) => {
                let name = format!("bench_{}", uuid::Uuid::new_v4().simple());
                let mut admin = sqlx::PgConnection::connect(admin_url)
                    .await
                    .context("connecting to TEST_POSTGRES_URL")?;
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut admin)
                    .await?;
                admin.close().await.ok();
                let mut url = url::Url::parse(admin_url)?;
                url.set_path(&name);
                Ok(url.to_string())
            }
        }
    }
}

/// A temporary folder, deleted on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(label: &str) -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!(
            "nas-bench-{label}-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir)?;
        Ok(Self(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

/// The example mapping pointed at the sandboxes, with `debounce_ms`.
pub fn write_config(dir: &Path, sb: &Sandboxes, debounce_ms: u64) -> anyhow::Result<()> {
    Mapping::example(&sb.team_n.database_id, &sb.team_a.base_id)
        .debounce_ms(debounce_ms)
        .write_to(dir);
    Ok(())
}

/// The environment every command of the binary gets.
fn command(bin: &Path, dir: &Path, sb: &Sandboxes, db_url: &str) -> Command {
    let mut cmd = Command::new(bin);
    cmd.current_dir(dir)
        .env("DATABASE_URL", db_url)
        .env("NOTION_TOKEN", sb.notion.token())
        .env("AIRTABLE_TOKEN", sb.airtable.token())
        .env("NOTION_API_URL", sb.notion.base_url())
        .env("AIRTABLE_API_URL", sb.airtable.base_url())
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null());
    cmd
}

/// How `serve` is started.
pub struct ServeOpts {
    pub debounce_ms: u64,
    /// Subscribe to the Notion sandbox (verified) and register the Airtable
    /// webhook through `PUBLIC_URL`, so both vendors' webhooks flow. Without
    /// it the service gets `ingest_secret` and only the bench sends events.
    pub webhooks: bool,
    /// `--role` (`all` when None).
    pub role: Option<&'static str>,
}

/// A running `serve`; killed on drop.
pub struct Serve {
    child: Child,
    pub base_url: String,
    /// The `NOTION_WEBHOOK_SECRET` the service checks events against.
    pub notion_secret: String,
    pub db_url: String,
    _dir: TempDir,
}

/// The secret the ingest benchmarks sign their events with.
const INGEST_SECRET: &str = "secret_bench_ingest_0123456789";

impl Serve {
    pub async fn start(
        bin: &Path,
        sb: &Sandboxes,
        backend: &Backend,
        opts: ServeOpts,
    ) -> anyhow::Result<Self> {
        let dir = TempDir::new("serve")?;
        write_config(&dir.0, sb, opts.debounce_ms)?;
        let db_url = backend.fresh_database(&dir.0).await?;
        let mut config = ServeConfig::new(&sb.notion, &sb.airtable, &dir.0, &db_url);
        config.bin = bin.to_owned();
        config.role = opts.role.map(str::to_owned);
        config.admin_token = "bench-admin".to_owned();
        if opts.webhooks {
            config.subscribe_notion(&sb.notion);
        } else {
            config.public_url = None;
            config.notion_secret = INGEST_SECRET.to_owned();
        }
        let (base_url, notion_secret) = (config.url(), config.notion_secret.clone());
        let child = config
            .command()
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let serve = Self {
            child,
            base_url,
            notion_secret,
            db_url,
            _dir: dir,
        };
        serve.wait_ready().await?;
        Ok(serve)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    async fn wait_ready(&self) -> anyhow::Result<()> {
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = http.get(format!("{}/readyz", self.base_url)).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("serve did not become ready within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Peak resident set size so far (`VmHWM`), in KiB.
    pub fn peak_rss_kib(&self) -> anyhow::Result<u64> {
        proc_status_kib(self.pid(), "VmHWM:")
    }

    /// A store on the service's database, to read the job queue.
    pub async fn store(&self) -> anyhow::Result<Store> {
        Ok(Store::connect(&self.db_url).await?)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `kB` line of `/proc/<pid>/status`.
fn proc_status_kib(pid: u32, key: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with(key))
        .with_context(|| format!("no {key} in /proc/{pid}/status"))?;
    let kib = line
        .split_whitespace()
        .nth(1)
        .context("malformed status line")?
        .parse()?;
    Ok(kib)
}

/// What one `reconcile` run took and printed.
pub struct ReconcileRun {
    pub elapsed: Duration,
    pub stdout: String,
    /// The process's peak resident set size (`VmHWM`, last read before it
    /// exited; read every 100 ms), in KiB.
    pub peak_rss_kib: u64,
}

/// Run `reconcile [--full]` against the sandboxes on `db_url`, timed from
/// the spawn to the exit (start-up, schema resolution and the sweep).
pub async fn reconcile(
    bin: &Path,
    dir: &Path,
    sb: &Sandboxes,
    db_url: &str,
    full: bool,
) -> anyhow::Result<ReconcileRun> {
    let mut cmd = command(bin, dir, sb, db_url);
    cmd.arg("reconcile");
    if full {
        cmd.arg("--full");
    }
    let mut cmd = tokio::process::Command::from(cmd);
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let started = Instant::now();
    let child = cmd.spawn()?;
    let pid = child.id().unwrap_or_default();
    let output = child.wait_with_output();
    tokio::pin!(output);
    let mut peak_rss_kib = 0;
    let out = loop {
        tokio::select! {
            out = &mut output => break out?,
            () = tokio::time::sleep(Duration::from_millis(100)) => {
                if let Ok(kib) = proc_status_kib(pid, "VmHWM:") {
                    peak_rss_kib = peak_rss_kib.max(kib);
                }
            }
        }
    };
    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        bail!(
            "reconcile failed ({}): {}{}",
            out.status,
            stdout,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(ReconcileRun {
        elapsed,
        stdout,
        peak_rss_kib,
    })
}

/// Poll until the job queue has nothing pending or running, for `quiet` in
/// a row; false at the deadline.
pub async fn wait_idle(store: &Store, quiet: Duration, deadline: Duration) -> bool {
    let end = Instant::now() + deadline;
    let mut idle_since: Option<Instant> = None;
    while Instant::now() < end {
        let idle = store
            .job_counts()
            .await
            .is_ok_and(|c: JobCounts| c.pending + c.running == 0);
        match (idle, idle_since) {
            (true, Some(since)) if since.elapsed() >= quiet => return true,
            (true, None) => idle_since = Some(Instant::now()),
            (false, _) => idle_since = None,
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// The binary given to the harness exists.
pub fn check_binary(path: &Path) -> anyhow::Result<()> {
    anyhow::ensure!(
        path.is_file(),
        "{} does not exist: build it with `cargo build --release` (scripts/bench.sh does)",
        path.display()
    );
    Ok(())
}
