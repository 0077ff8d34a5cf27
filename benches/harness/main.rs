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

mod bulk;
mod burst;
mod calls;
mod ingest;
mod load;
mod notion_compat;
mod propagation;
mod quiet;
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
    /// Print the table without failing on a missed target.
    pub report_only: bool,
    /// Where the raw numbers go as JSON.
    pub json: PathBuf,
    pub serve_bin: PathBuf,
    /// The sustained ingest run (30 s; 5 s quick).
    pub sustain: Duration,
    /// Each step of the maximum-throughput search.
    pub step: Duration,
    /// Each diagnostic ingest run (10 s; 3 s quick).
    pub diagnostic: Duration,
    /// Specs of the large initial syncs (1,000 and 50,000; 1,000 quick),
    /// each at 250 ms and at 0 ms API latency.
    pub big_ns: Vec<usize>,
    /// Rows pasted over in Airtable and pages changed in Notion for the bulk
    /// edits ((10,000, 2,000); (150, 300) quick).
    pub bulk: (usize, usize),
    /// Edits per direction for the propagation latency (200; 20 quick).
    pub edits: usize,
    /// Cron runs the polling script gets for its initial sync (4, an hour
    /// of cron; 2 quick).
    pub script_initial_runs: usize,
    pub postgres: Option<String>,
    only: Option<Vec<String>>,
}

/// The groups of figures, in the order they run.
const GROUPS: [&str; 8] = [
    "ingest",
    "propagation",
    "calls",
    "sync",
    "bulk",
    "quiet",
    "burst",
    "seed-sync",
];

/// The groups `--quick` runs beside the polling script's comparison.
const BESIDE_SEED_SYNC: [&str; 3] = ["bulk", "quiet", "burst"];

impl Settings {
    fn from_args() -> anyhow::Result<Self> {
        let mut quick = false;
        let mut report_only = false;
        let mut json = PathBuf::from("target/bench-report.json");
        // The binary Cargo built with this harness (optimized under `cargo
        // bench`); scripts/bench.sh passes the `cargo build --release` one.
        let mut serve_bin = PathBuf::from(env!("CARGO_BIN_EXE_notion-airtable-sync"));
        let mut only = None;
        let mut big_ns = None;
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => quick = true,
                "--report-only" => report_only = true,
                "--json" => match args.next() {
                    Some(p) => json = PathBuf::from(p),
                    None => bail!("--json needs a path"),
                },
                "--serve-bin" => match args.next() {
                    Some(p) => serve_bin = PathBuf::from(p),
                    None => bail!("--serve-bin needs a path"),
                },
                "--sync-n" => match args.next().map(|l| parse_sizes(&l)) {
                    Some(Ok(ns)) => big_ns = Some(ns),
                    Some(Err(e)) => bail!("--sync-n: {e}"),
                    None => bail!("--sync-n needs a list of spec counts, e.g. 5000"),
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
                    "unknown argument {other}; usage: harness [--quick] [--report-only] [--json PATH] [--serve-bin PATH] [--sync-n N,...] [--only {}]",
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
            report_only,
            json,
            serve_bin,
            sustain: Duration::from_secs(if quick { 5 } else { 30 }),
            step: Duration::from_secs(if quick { 2 } else { 5 }),
            diagnostic: Duration::from_secs(if quick { 3 } else { 10 }),
            big_ns: big_ns.unwrap_or_else(|| {
                if quick {
                    vec![1000]
                } else {
                    vec![1000, 50_000]
                }
            }),
            edits: if quick { 20 } else { 200 },
            bulk: if quick { (150, 300) } else { (10_000, 2_000) },
            script_initial_runs: if quick { 2 } else { 4 },
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
    // Each group in turn, timed: where the run's time goes. With --quick,
    // the side-by-side with the polling script (which mostly waits out
    // Airtable's penalty between cron runs) runs beside the groups bound by
    // the rate limits or counting calls, on sandboxes of its own.
    let beside = settings.quick && settings.wants("seed-sync");
    let alone = |g: &&str| !(beside && (*g == "seed-sync" || BESIDE_SEED_SYNC.contains(g)));
    let mut took = Vec::new();
    for group in GROUPS
        .into_iter()
        .filter(|g| settings.wants(g))
        .filter(alone)
    {
        let group_started = std::time::Instant::now();
        run_group(group, &settings, &mut report).await;
        took.push(format!(
            "{group} {:.0} s",
            group_started.elapsed().as_secs_f64()
        ));
    }
    if beside {
        let group_started = std::time::Instant::now();
        let mut script_report = Report::default();
        let groups = async {
            for group in BESIDE_SEED_SYNC.into_iter().filter(|g| settings.wants(g)) {
                run_group(group, &settings, &mut report).await;
            }
        };
        let script = run_group("seed-sync", &settings, &mut script_report);
        tokio::join!(groups, script);
        report.absorb(script_report);
        took.push(format!(
            "{} beside seed-sync {:.0} s",
            BESIDE_SEED_SYNC.join(", "),
            group_started.elapsed().as_secs_f64()
        ));
    }
    report.note(format!(
        "machine: {}; whole run {:.0} s ({})",
        machine(),
        started.elapsed().as_secs_f64(),
        took.join(", ")
    ));
    println!("{}", report.render());
    write_json(&settings, &report)?;
    if report.missed() > 0 {
        eprintln!("bench: {} target(s) missed", report.missed());
        if !settings.report_only {
            std::process::exit(1);
        }
    }
    Ok(())
}

/// Run one group of figures (one of [`GROUPS`]).
async fn run_group(group: &str, settings: &Settings, report: &mut Report) {
    match group {
        "ingest" => {
            match &settings.postgres {
                Some(url) => ingest::run(settings, &Backend::Postgres(url.clone()), report).await,
                None => report.push(report::Row::skipped(
                    "signed Notion webhook ingest, sustained",
                    "Postgres",
                    "TEST_POSTGRES_URL not set (run through scripts/bench.sh)",
                )),
            }
            ingest::run(settings, &Backend::Sqlite, report).await;
        }
        "propagation" => propagation::run(settings, report).await,
        "calls" => calls::run(settings, report).await,
        "sync" => sync::run(settings, report).await,
        "bulk" => bulk::run(settings, report).await,
        "quiet" => quiet::run(settings, report).await,
        "burst" => burst::run(settings, report).await,
        "seed-sync" => seed_sync::run(settings, report).await,
        other => unreachable!("not a group: {other}"),
    }
}

/// The raw numbers of the run beside the table, with when, where and how.
fn write_json(settings: &Settings, report: &Report) -> anyhow::Result<()> {
    let mut doc = report.to_json();
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    doc["date"] = now.into();
    doc["machine"] = machine().into();
    doc["quick"] = settings.quick.into();
    doc["args"] = std::env::args().skip(1).collect::<Vec<_>>().into();
    doc["missed"] = report.missed().into();
    if let Some(dir) = settings.json.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&settings.json, serde_json::to_string_pretty(&doc)?)?;
    eprintln!("bench: raw numbers written to {}", settings.json.display());
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

/// `--sync-n 5000,20000`: the sizes of the large initial syncs (to profile
/// one size without the hours of the full run).
fn parse_sizes(list: &str) -> anyhow::Result<Vec<usize>> {
    list.split(',')
        .map(|n| n.trim().replace('_', "").parse::<usize>())
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow::anyhow!("{list}: {e}"))
}
