//! `check` refuses a relation whose target is not a pair of the mapping,
//! naming both ends, and passes once the target pair is added.

use std::process::Output;

use crate::common::serve::BIN;

async fn check(dir: &std::path::Path, w: &super::Two) -> Output {
    tokio::process::Command::new(BIN)
        .arg("check")
        .current_dir(dir)
        .env("NOTION_TOKEN", w.notion.token())
        .env("AIRTABLE_TOKEN", w.airtable.token())
        .env("NOTION_API_URL", w.notion.base_url())
        .env("AIRTABLE_API_URL", w.airtable.base_url())
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.join("db.sqlite").display()),
        )
        .env("RUST_LOG", "warn")
        .env_remove("PUBLIC_URL")
        .output()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_refuses_a_relation_whose_target_is_not_a_pair() {
    let w = super::two_pairs(crate::common::TestDb::sqlite().await, &[]).await;
    let dir = std::env::temp_dir().join(format!("nas-rel-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let full = w.mapping_text.clone();
    // Without the epics pair: the relation has no target.
    let specs_only = full.split("\n[[pair]]\nname = \"epics\"").next().unwrap();
    std::fs::write(dir.join("sync.toml"), specs_only).unwrap();
    let out = check(&dir, &w).await;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(!out.status.success(), "{stdout}");
    let line = stdout
        .lines()
        .find(|l| l.starts_with("problem: ") && l.contains("\"Epic\""))
        .unwrap_or_else(|| panic!("no relation problem: {stdout}"));
    assert!(
        line.contains(&w.epics_ds) && line.contains(&w.epics_table),
        "{line}"
    );
    assert!(line.contains("pair of this mapping file"), "{line}");
    // With it, the same relation passes and names its target.
    std::fs::write(dir.join("sync.toml"), &full).unwrap();
    let out = check(&dir, &w).await;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        stdout.contains("translated through pair \"epics\""),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
