//! Selective sync through the binary: a scope changed in sync.toml, shown
//! by `reconcile --dry-run` and applied by `reconcile`; `check` on scopes.

use crate::common;

use common::{TestDb, world::world_unthrottled};
use serde_json::{Value, json};

use super::helpers::{
    link_count, pages_with_status, reset_calls, run_check, run_cli, scope, writes,
};

/// The scope changes after go-live, run as an operator would: `reconcile
/// --full --dry-run` on the edited sync.toml lists who enters and who leaves
/// and writes nothing (sandbox call counts, links, rows); `reconcile --full`
/// then does it; back to the first scope, the rows that left relink by the
/// page id they still carry, no row is created twice.
async fn a_changed_scope_is_listed_by_a_dry_run_then_applied(db: TestDb) {
    let url = db.url.clone();
    let mut w = world_unthrottled(db).await;
    scope(&mut w, r#"notion = ["Status = Ready"]"#, &[]).await;
    w.sweep(true).await;
    let ready = pages_with_status(&w, "Ready");
    let shipped = pages_with_status(&w, "Shipped");
    assert_eq!(link_count(&w).await, ready.len() as i64);

    let shipped_scope = r#"notion = ["Status = Shipped"]"#;
    reset_calls(&w);
    let (ok, out) = run_cli(
        &w,
        shipped_scope,
        &url,
        &["reconcile", "--full", "--dry-run"],
    )
    .await;
    assert!(ok, "{out}");
    let enters: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("would enter: page"))
        .collect();
    let leaves: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("would leave (unlinked, both sides left as they are): page"))
        .collect();
    assert_eq!(enters.len(), shipped.len(), "{out}");
    assert_eq!(leaves.len(), ready.len(), "{out}");
    for page in &shipped {
        assert!(
            enters.iter().any(|l| l.contains(page.as_str())),
            "{page}: {out}"
        );
    }
    for page in &ready {
        assert!(
            leaves.iter().any(|l| l.contains(page.as_str())),
            "{page}: {out}"
        );
    }
    let line = format!(
        "{} entered the scope, {} left it",
        shipped.len(),
        ready.len()
    );
    assert!(
        out.contains(&line) && out.contains("dry run: nothing written"),
        "{out}"
    );
    assert_eq!(writes(&w), 0, "{:?}", w.airtable.calls().snapshot());
    assert_eq!(link_count(&w).await, ready.len() as i64);
    assert_eq!(w.rows().len(), ready.len());

    let rows_before: Vec<Value> = ready.iter().map(|p| w.row_for(p)).collect();
    let (ok, out) = run_cli(&w, shipped_scope, &url, &["reconcile", "--full"]).await;
    assert!(ok, "{out}");
    assert!(out.contains(&line), "{out}");
    assert_eq!(link_count(&w).await, shipped.len() as i64);
    for page in &shipped {
        assert_eq!(w.row_for(page)["fields"]["Status"], json!("Shipped"));
    }
    let after: Vec<Value> = ready.iter().map(|p| w.row_for(p)).collect();
    assert_eq!(after, rows_before, "rows that left are untouched");

    // Back again: the Ready rows still carry their page ids and relink.
    scope(&mut w, r#"notion = ["Status = Ready"]"#, &[]).await;
    let summary = w.sweep(true).await;
    assert_eq!(summary.entered_scope, ready.len(), "{summary:?}");
    assert_eq!(summary.created_in_airtable, 0, "{summary:?}");
    assert_eq!(w.rows().len(), ready.len() + shipped.len());
}

/// `check` names each scope problem with its pair and a fix, probes the
/// formula with Airtable (which refuses one it cannot parse), and passes a
/// good scope, saying what it is.
async fn check_validates_the_scope_against_the_live_schemas(db: TestDb) {
    let w = world_unthrottled(db).await;
    let bad = "notion = [\"Status = Ready\", \"Nope = 1\"]\nnotion_filter = \
               '{\"property\": \"Priority\", \"select\": {\"contains\": \"P0\"}}'\n\
               airtable_gate = \"Owner\"";
    let (ok, out) = run_check(&w, bad).await;
    assert!(!ok, "{out}");
    let problems: Vec<&str> = out.lines().filter(|l| l.starts_with("problem: ")).collect();
    assert_eq!(problems.len(), 3, "{out}");
    assert!(
        problems
            .iter()
            .all(|p| p.contains("pair \"specs\": [pair.scope]") && p.contains("Fix:")),
        "{out}"
    );
    assert!(out.contains("\"Nope\" is not a property"), "{out}");
    assert!(
        out.contains("operator \"contains\" is not supported on a select"),
        "{out}"
    );
    assert!(
        out.contains("airtable_gate \"Owner\" is a singleLineText field"),
        "{out}"
    );

    let (ok, out) = run_check(&w, "airtable_formula = \"{Status = \"").await;
    assert!(!ok, "{out}");
    assert!(out.contains("Airtable refused the scope"), "{out}");

    let good = "notion = [\"Status = Ready\"]\nairtable_formula = \"{Status} = 'Ready'\"";
    let (ok, out) = run_check(&w, good).await;
    assert!(ok, "{out}");
    assert!(
        out.contains("pair \"specs\": scope: Notion pages matching"),
        "{out}"
    );
    assert!(
        out.contains("or Airtable rows where {Status} = 'Ready'"),
        "{out}"
    );
}

both_backends! {
    a_changed_scope_is_listed_by_a_dry_run_then_applied,
    check_validates_the_scope_against_the_live_schemas,
}
