//! The binary's command-line contract: every command exists, the ones whose
//! work comes later say so and exit non-zero, `migrate` creates the SQLite
//! database on first run, and `sandbox --seed team` prints its JSON line.

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use crate::common::{mapping::Mapping, serve::BIN};

fn bin() -> Command {
    let mut cmd = Command::new(BIN);
    // Keep the tests independent of the developer's environment.
    for var in [
        "DATABASE_URL",
        "SYNC_CONFIG",
        "LISTEN_ADDR",
        "LOG_FORMAT",
        "RUST_LOG",
        "PUBLIC_URL",
        "NOTION_TOKEN",
        "AIRTABLE_TOKEN",
        "NOTION_API_URL",
        "AIRTABLE_API_URL",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nas-cli-{name}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn help_lists_every_command_of_the_contract() {
    let out = bin().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for command in [
        "serve",
        "migrate",
        "reconcile",
        "init",
        "check",
        "webhooks",
        "log",
        "undo",
        "demo",
        "sandbox",
    ] {
        assert!(
            help.contains(command),
            "`{command}` missing from --help:\n{help}"
        );
    }
}

#[test]
fn undo_help_names_the_contract_arguments() {
    let out = bin().args(["undo", "--help"]).output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for name in [
        "ENTRY_ID",
        "RUN_ID",
        "--run <RUN_ID>",
        "--since <TIME>",
        "--pair",
        "--dry-run",
    ] {
        assert!(
            help.contains(name),
            "`{name}` missing from undo --help:\n{help}"
        );
    }
}

#[test]
fn migrate_creates_the_default_sqlite_database_on_first_run() {
    let dir = temp_dir("migrate");
    let out = bin().arg("migrate").current_dir(&dir).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.join("data/sync.db").is_file());
    // Idempotent: a second run applies nothing new and still succeeds.
    let again = bin().arg("migrate").current_dir(&dir).output().unwrap();
    assert!(again.status.success());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_bad_environment_value_is_named() {
    let out = bin()
        .arg("migrate")
        .env("LISTEN_ADDR", "nowhere")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("LISTEN_ADDR"));
}

#[test]
fn an_unknown_database_scheme_is_a_clear_error() {
    let out = bin()
        .arg("migrate")
        .env("DATABASE_URL", "mysql://user:hunter2@db/sync")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("mysql"), "{err}");
    assert!(!err.contains("hunter2"), "password leaked: {err}");
}

/// A running `sandbox --seed team` process and the JSON line it printed.
struct SandboxProcess {
    child: std::process::Child,
    info: serde_json::Value,
    line: String,
}

impl Drop for SandboxProcess {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

fn start_sandbox(extra: &[&str]) -> SandboxProcess {
    let mut child = bin()
        .args([
            "sandbox",
            "--seed",
            "team",
            "--notion-port",
            "0",
            "--airtable-port",
            "0",
        ])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let line = rx
        .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        .expect("the sandbox printed no line within 30 s");
    let info = serde_json::from_str(&line).expect("one JSON line");
    SandboxProcess { child, info, line }
}

#[test]
fn sandbox_seed_team_prints_one_json_line_with_everything_a_client_needs() {
    let sandbox = start_sandbox(&[]);
    let (info, line) = (&sandbox.info, &sandbox.line);
    for key in [
        "notion_url",
        "notion_token",
        "notion_database_id",
        "notion_data_source_id",
        "airtable_url",
        "airtable_token",
        "airtable_base_id",
        "airtable_table_id",
    ] {
        let value = info[key].as_str().unwrap_or_default();
        assert!(!value.is_empty(), "{key} missing in {line}");
    }
    assert!(
        info["airtable_base_id"]
            .as_str()
            .unwrap()
            .starts_with("app")
    );
    assert!(
        info["notion_url"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );
}

#[test]
fn reconcile_dry_run_then_real_then_log() {
    // Rate limits off: each command is a new process with a fresh budget, and
    // the vendors' limits are tested elsewhere.
    let sandbox = start_sandbox(&["--no-rate-limit"]);
    let info = &sandbox.info;
    let s = |k: &str| info[k].as_str().unwrap().to_owned();
    let dir = temp_dir("reconcile");
    Mapping::example(&s("notion_database_id"), &s("airtable_base_id")).write_to(&dir);
    let run = |args: &[&str]| {
        let out = bin()
            .args(args)
            .current_dir(&dir)
            .env("NOTION_TOKEN", s("notion_token"))
            .env("AIRTABLE_TOKEN", s("airtable_token"))
            .env("NOTION_API_URL", s("notion_url"))
            .env("AIRTABLE_API_URL", s("airtable_url"))
            .env("PUBLIC_URL", "https://sync.example.com")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{args:?}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    };
    let dry = run(&["reconcile", "--full", "--dry-run"]);
    assert!(
        dry.contains("47 created in Airtable") && dry.contains("dry run"),
        "{dry}"
    );
    assert_eq!(
        dry.matches("would write: Airtable: create row").count(),
        47,
        "{dry}"
    );
    let real = run(&["reconcile", "--full"]);
    assert!(real.contains("47 created in Airtable"), "{real}");
    // The command is one run: its creates are listed by `undo --run`, never
    // deleted (undo does not delete records).
    let run_id = real
        .lines()
        .find_map(|l| l.strip_prefix("run "))
        .expect("reconcile prints its run id")
        .to_owned();
    let undo = run(&["undo", "--run", &run_id, "--dry-run"]);
    assert!(undo.contains("undo (dry run: nothing written)"), "{undo}");
    assert!(undo.contains("0 reverted"), "{undo}");
    assert_eq!(
        undo.matches("undo never deletes a record").count(),
        47,
        "{undo}"
    );
    let again = run(&["reconcile"]);
    assert!(
        again.contains("0 created in Airtable") && again.contains("0 updated in Airtable"),
        "{again}"
    );
    let log = run(&["log", "--json", "--pair", "specs", "--limit", "1000"]);
    let creates = log
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["action"] == "create")
        .count();
    assert_eq!(creates, 47);
    let table = run(&["log", "--since", "2000-01-01T00:00:00Z"]);
    assert!(table.contains("notion_to_airtable"), "{table}");
    let bad = bin()
        .args(["log", "--since", "yesterday"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--since"));
    // Bad undo input: a clear error, nothing changed.
    for (args, says) in [
        (&["undo", "--since", "yesterday"][..], "--since"),
        (&["undo"][..], "say what to undo"),
        (&["undo", "3", "--run", "job-1"][..], "one of"),
    ] {
        let out = bin().args(args).current_dir(&dir).output().unwrap();
        assert!(!out.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    std::fs::remove_dir_all(&dir).ok();
}
