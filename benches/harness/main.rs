//! The benchmark harness of issue 6: every figure measured in one run
//! against the sandbox servers with the stated settings, printed as one
//! table next to its target and bound, then the side-by-side with the
//! team's original polling script.
//!
//! Run it with `scripts/bench.sh [--quick]`, which builds the release binary
//! and starts a throwaway Postgres. Directly:
//!
//! ```sh
//! cargo bench --bench harness -- --serve-bin target/release/notion-airtable-sync [--quick] [--only ingest,sync]
//! ```
//!
//! Postgres figures need `TEST_POSTGRES_URL` (a superuser URL; each run
//! creates its own database); without it they are printed as skipped.

/// The test harness's `serve` runner, example mapping and waits, shared
/// with the integration tests.
#[allow(dead_code)]
#[path = "../../tests/common"]
mod common {
    pub mod mapping;
    pub mod serve;
    pub mod wait;
}

mod burst;
mod calls;
mod ingest;
mod load;
mod notion_compat;
mod propagation;
mod report;
mod sandboxes;
mod seed_sync;
mod service;
mod stats;
mod sync;

use std::{path::PathBuf, time::Duration};

use anyhow::bail;
use report::Report;
use service::Backend;

/// Durations and sizes of one run.
pub struct Settings {
    pub quick: bool,
    pub serve_bin: PathBuf,
    /// The sustained ingest run (30 s; 5 s quick).
    pub sustain: Duration,
    /// Each step of the maximum-throughput search.
    pub step: Duration,
    /// Each diagnostic ingest run (10 s; 3 s quick).
    pub diagnostic: Duration,
    /// Specs of the large initial sync (5,000; 500 quick).
    pub big_n: usize,
    /// Edits per direction for the propagation latency (200; 20 quick).
    pub edits: usize,
    pub postgres: Option<String>,
    only: Option<Vec<String>>,
}

/// The groups of figures, in the order they run.
const GROUPS: [&str; 6] = [
    "ingest",
    "propagation",
    "calls",
    "sync",
    "burst",
    "seed-sync",
];

impl Settings {
    fn from_args() -> anyhow::Result<Self> {
        let mut quick = false;
        // The binary Cargo built with this harness (optimized under `cargo
        // bench`); scripts/bench.sh passes the `cargo build --release` one.
        let mut serve_bin = PathBuf::from(env!("CARGO_BIN_EXE_notion-airtable-sync"));
        let mut only = None;
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => quick = true,
                "--serve-bin" => match args.next() {
                    Some(p) => serve_bin = PathBuf::from(p),
                    None => bail!("--serve-bin needs a path"),
                },
                "--only" => match args.next() {
                    Some(list) => {
                        let groups: Vec<String> = list.split(',').map(str::to_owned).collect();
                        if let Some(bad) = groups.iter().find(|g| !GROUPS.contains(&g.as_str())) {
                            bail!("unknown group {bad}; groups: {}", GROUPS.join(", "));
                        }
                        only = Some(groups);
                    }
                    None => bail!("--only needs a list: {}", GROUPS.join(",")),
                },
                // `cargo bench` passes this to every bench target.
                "--bench" => {}
                other => bail!(
                    "unknown argument {other}; usage: harness [--quick] [--serve-bin PATH] [--only {}]",
                    GROUPS.join(",")
                ),
            }
        }
        service::check_binary(&serve_bin)?;
        // Children run in temporary folders: the path must not be relative.
        let serve_bin = std::fs::canonicalize(&serve_bin)?;
        let postgres = std::env::var("TEST_POSTGRES_URL")
            .ok()
            .filter(|u| !u.is_empty());
        Ok(Self {
            quick,
            serve_bin,
            sustain: Duration::from_secs(if quick { 5 } else { 30 }),
            step: Duration::from_secs(if quick { 2 } else { 5 }),
            diagnostic: Duration::from_secs(if quick { 3 } else { 10 }),
            big_n: if quick { 500 } else { 5000 },
            edits: if quick { 20 } else { 200 },
            postgres,
            only,
        })
    }

    fn wants(&self, group: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|o| o.iter().any(|g| g == group))
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::from_args()?;
    let started = std::time::Instant::now();
    let mut report = Report::default();
    if settings.quick {
        report.note("--quick: shorter runs and smaller N than the targets state; not the figures to publish");
    }
    if settings.wants("ingest") {
        match &settings.postgres {
            Some(url) => ingest::run(&settings, &Backend::Postgres(url.clone()), &mut report).await,
            None => report.push(report::Row::skipped(
                "signed Notion webhook ingest, sustained",
                "Postgres",
                "TEST_POSTGRES_URL not set (run through scripts/bench.sh)",
            )),
        }
        ingest::run(&settings, &Backend::Sqlite, &mut report).await;
    }
    if settings.wants("propagation") {
        propagation::run(&settings, &mut report).await;
    }
    if settings.wants("calls") {
        calls::run(&settings, &mut report).await;
    }
    if settings.wants("sync") {
        sync::run(&settings, &mut report).await;
    }
    if settings.wants("burst") {
        burst::run(&settings, &mut report).await;
    }
    if settings.wants("seed-sync") {
        seed_sync::run(&settings, &mut report).await;
    }
    report.note(format!(
        "machine: {}; whole run {:.0} s",
        machine(),
        started.elapsed().as_secs_f64()
    ));
    println!("{}", report.render());
    if report.missed() > 0 {
        eprintln!("bench: {} target(s) missed", report.missed());
    }
    Ok(())
}

/// CPU model and count, and memory, from /proc.
fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map_or("unknown CPU".to_owned(), |m| m.trim().to_owned());
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_gib = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|k| k.parse::<f64>().ok())
        .map_or(0.0, |k| k / 1024.0 / 1024.0);
    format!(
        "{cpus} × {model}, {mem_gib:.0} GiB RAM, {}",
        std::env::consts::OS
    )
}
