//! The binary's command-line contract: every command exists, the ones whose
//! work comes later say so and exit non-zero, `migrate` creates the SQLite
//! database on first run, and `sandbox --seed team` prints its JSON line.

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_notion-airtable-sync"));
    // Keep the tests independent of the developer's environment.
    for var in ["DATABASE_URL", "SYNC_CONFIG", "LISTEN_ADDR", "LOG_FORMAT", "RUST_LOG"] {
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
    for command in ["serve", "migrate", "reconcile", "check", "webhooks", "log", "demo", "sandbox"] {
        assert!(help.contains(command), "`{command}` missing from --help:\n{help}");
    }
}

#[test]
fn commands_not_available_yet_say_so_and_fail() {
    for args in [
        &["serve"][..],
        &["reconcile", "--full", "--dry-run"],
        &["check"],
        &["webhooks", "list"],
        &["log", "--json"],
        &["demo"],
    ] {
        let out = bin().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(3), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("not available"), "{args:?}: {err}");
    }
}

#[test]
fn migrate_creates_the_default_sqlite_database_on_first_run() {
    let dir = temp_dir("migrate");
    let out = bin().arg("migrate").current_dir(&dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(dir.join("data/sync.db").is_file());
    // Idempotent: a second run applies nothing new and still succeeds.
    let again = bin().arg("migrate").current_dir(&dir).output().unwrap();
    assert!(again.status.success());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_bad_environment_value_is_named() {
    let out = bin().arg("migrate").env("LISTEN_ADDR", "nowhere").output().unwrap();
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

#[test]
fn sandbox_seed_team_prints_one_json_line_with_everything_a_client_needs() {
    let mut child = bin()
        .args(["sandbox", "--seed", "team", "--notion-port", "0", "--airtable-port", "0"])
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
    child.kill().ok();
    child.wait().ok();
    let info: serde_json::Value = serde_json::from_str(&line).expect("one JSON line");
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
    assert!(info["airtable_base_id"].as_str().unwrap().starts_with("app"));
    assert!(info["notion_url"].as_str().unwrap().starts_with("http://127.0.0.1:"));
}
