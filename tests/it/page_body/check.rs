//! `check` for `[pair.body]`, running the binary against the team's
//! workspace: a long text field passes (with the content read probed), a
//! missing field, a field that is no long text and an integration without
//! the "Read content" capability are each one problem line with a fix.

use std::path::PathBuf;

use notion_airtable_sandbox::{
    airtable::{AirtableSandbox, AirtableSandboxConfig, FieldSchema, FieldType},
    notion::{NotionSandbox, NotionSandboxConfig},
};

use super::{ANCHOR, body_mapping};
use crate::common::{mapping::Mapping, serve::BIN};

struct Run {
    ok: bool,
    out: String,
    problems: Vec<String>,
}

/// The team's workspace with `spec` as the "Spec" field (none: no such
/// field), the example mapping plus `[pair.body]`, and `check` run on it.
async fn check_with(spec: Option<FieldType>, read_content: bool) -> Run {
    let notion = NotionSandbox::start_local(NotionSandboxConfig::default())
        .await
        .unwrap();
    let airtable = AirtableSandbox::start_local(AirtableSandboxConfig::default())
        .await
        .unwrap();
    let (team_n, team_a) = (notion.seed_team(), airtable.seed_team());
    if let Some(kind) = spec {
        airtable
            .create_field_as_person(
                &team_a.base_id,
                &team_a.table_id,
                FieldSchema::new("Spec", kind),
            )
            .unwrap();
    }
    notion.set_read_content(read_content);
    let dir: PathBuf =
        std::env::temp_dir().join(format!("nas-body-check-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let mapping = body_mapping("notion");
    Mapping::example(&team_n.database_id, &team_a.base_id)
        .edit(ANCHOR, &mapping)
        .write_to(&dir);
    let output = tokio::process::Command::new(BIN)
        .arg("check")
        .current_dir(&dir)
        .env("NOTION_TOKEN", notion.token())
        .env("AIRTABLE_TOKEN", airtable.token())
        .env("NOTION_API_URL", notion.base_url())
        .env("AIRTABLE_API_URL", airtable.base_url())
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.join("db.sqlite").display()),
        )
        .env("RUST_LOG", "warn")
        .env_remove("PUBLIC_URL")
        .output()
        .await
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let out = String::from_utf8_lossy(&output.stdout).into_owned();
    let problems = out
        .lines()
        .filter(|l| l.starts_with("problem: "))
        .map(str::to_owned)
        .collect();
    Run {
        ok: output.status.success(),
        out,
        problems,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_text_body_passes_and_its_content_read_is_probed() {
    let run = check_with(Some(FieldType::RichText), true).await;
    assert!(run.ok && run.problems.is_empty(), "{}", run.out);
    assert!(
        run.out
            .contains("the page content syncs with \"Spec\" (`richText`)"),
        "{}",
        run.out
    );
    assert!(run.out.contains("can read page content"), "{}", run.out);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_wrong_body_field_and_a_missing_capability_are_explained() {
    let run = check_with(None, true).await;
    assert!(!run.ok, "{}", run.out);
    assert_eq!(run.problems.len(), 1, "{}", run.out);
    let p = &run.problems[0];
    assert!(
        p.contains("[pair.body] airtable = \"Spec\"") && p.contains("has no such field"),
        "{p}"
    );
    // The table's long text fields are offered.
    assert!(
        p.contains("Fix: name a long text field") && p.contains("\"Blockers\""),
        "{p}"
    );

    let run = check_with(Some(FieldType::SingleLineText), true).await;
    assert_eq!(run.problems.len(), 1, "{}", run.out);
    let p = &run.problems[0];
    assert!(
        p.contains("is a `singleLineText` field") && p.contains("needs a long text field"),
        "{p}"
    );

    let run = check_with(Some(FieldType::MultilineText), false).await;
    assert!(!run.ok, "{}", run.out);
    assert_eq!(run.problems.len(), 1, "{}", run.out);
    let p = &run.problems[0];
    assert!(
        p.contains("refused to read page content (403)")
            && p.contains("\"Read content\" capability"),
        "{p}"
    );
}
