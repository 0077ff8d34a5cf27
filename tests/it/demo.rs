//! `notion-airtable-sync demo`: the real binary plays the scripted week
//! against its in-process sandboxes (specs linked to epics, page content
//! written in both tools) and exits 0 only when both pairs agree; and the
//! verdict it relies on does detect a disagreement, relations included.

use std::{
    io::Read as _,
    process::{Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use notion_airtable_sandbox::{
    airtable::{AirtableSandbox, AirtableSandboxConfig},
    notion::{NotionSandbox, NotionSandboxConfig},
};
use notion_airtable_sync::{
    airtable::{AirtableClient, ListParams, Record},
    app::demo::{
        compare::{Link, compare},
        stage::sync_toml,
    },
    clients::ratelimit::{Budget, NOTION_RATE_PER_SEC},
    config::SyncConfig,
    notion::{NotionClient, Page},
    secret::Secret,
    sync::{
        convert::{from_notion, to_airtable},
        pair::ResolvedPair,
        value::Value,
    },
};
use serde_json::{Map, Value as Json, json};

use crate::common::serve::BIN;

/// The README promises "well under two minutes"; this leaves room for a
/// loaded machine (and one Airtable 30 s lockout) without hiding a hang.
const DEMO_DEADLINE: Duration = Duration::from_secs(150);

#[test]
fn the_demo_plays_the_week_and_ends_with_both_sides_agreeing() {
    let started = Instant::now();
    let mut child = Command::new(BIN)
        .arg("demo")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > DEMO_DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the demo did not finish within {DEMO_DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    eprintln!("{out}");
    assert!(status.success(), "the demo failed ({status}):\n{out}");
    for step in [
        "initial sync: 47 specs and 3 epics copied",
        "(engineering) set sprint, ship date and blockers on 3 specs",
        "(PM) raised",
        "at once",
        "conflict logged: Notion won by the rule conflict = \"notion\" for Status",
        "trashed → row archived (Status \"Archived\")",
        "restored → row back to Status",
        "to the epic \"Checkout revamp\" → rows' Epic cells link its row",
        "in Airtable → the page's Epic relation",
        "in the page → Airtable's Spec field",
        "added a rollout section in Airtable → the Notion page's content",
        "wrote a new spec",
        "specs: 48 records × 10 fields (480 values): Notion and Airtable agree.",
        "epics: 3 records × 1 fields (3 values): Notion and Airtable agree.",
        "Demo passed",
    ] {
        assert!(out.contains(step), "the output lacks `{step}`:\n{out}");
    }
    assert!(!out.contains("MISSED"), "{out}");
    // Every timeline line names a direction and a time.
    let steps = out.lines().filter(|l| l.contains(" s  ")).count();
    assert!(steps >= 11, "expected a line per step:\n{out}");
}

/// Two sandboxes, the demo's pair resolved through the API clients, and two
/// specs copied into Airtable by hand (as a person would type them).
struct Fixture {
    _notion: NotionSandbox,
    airtable: AirtableSandbox,
    base_id: String,
    table_id: String,
    pair: ResolvedPair,
    pages: Vec<Page>,
    airtable_client: AirtableClient,
}

impl Fixture {
    async fn new() -> Fixture {
        let notion = NotionSandbox::start_local(NotionSandboxConfig::default())
            .await
            .unwrap();
        let airtable = AirtableSandbox::start_local(AirtableSandboxConfig::default())
            .await
            .unwrap();
        let team_n = notion.seed_team();
        let team_a = airtable.seed_team();
        let config =
            SyncConfig::parse(&sync_toml(&team_n.database_id, &team_a.base_id).unwrap()).unwrap();
        let budget = Arc::new(Budget::new("notion", NOTION_RATE_PER_SEC, 3));
        let notion_client =
            NotionClient::new(&notion.base_url(), Secret::new(notion.token()), budget).unwrap();
        let airtable_client =
            AirtableClient::new(&airtable.base_url(), Secret::new(airtable.token())).unwrap();
        let pair = notion_airtable_sync::engine::load_pair(
            &config.pairs[0],
            &notion_client,
            &airtable_client,
        )
        .await
        .unwrap();
        let pages: Vec<Page> = team_n.page_ids[..2]
            .iter()
            .map(|id| serde_json::from_value(notion.page(id).unwrap()).unwrap())
            .collect();
        let fixture = Fixture {
            _notion: notion,
            airtable,
            base_id: team_a.base_id,
            table_id: team_a.table_id,
            pair,
            pages,
            airtable_client,
        };
        for page in &fixture.pages {
            fixture
                .airtable
                .insert_record_as_person(&fixture.base_id, &fixture.table_id, fixture.row_for(page))
                .unwrap();
        }
        fixture
    }

    /// The row a careful person would type for `page`: every mapped value,
    /// and the page id in the link field.
    fn row_for(&self, page: &Page) -> Json {
        let mut cells = Map::new();
        for f in &self.pair.fields {
            let value = from_notion(&page.property(&f.notion).unwrap().raw, f.kind).unwrap();
            if value != Value::Empty {
                cells.insert(f.airtable.clone(), to_airtable(&value, f.kind));
            }
        }
        cells.insert(self.pair.page_id_field().to_owned(), json!(page.id));
        Json::Object(cells)
    }

    async fn rows(&self) -> Vec<Record> {
        self.airtable_client
            .list_all(&self.base_id, &self.table_id, &ListParams::default())
            .await
            .unwrap()
    }

    fn links(&self, rows: &[Record]) -> Vec<Link> {
        rows.iter()
            .map(|r| Link {
                page_id: r.fields[self.pair.page_id_field()]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                record_id: Some(r.id.clone()),
                state: "active".to_owned(),
            })
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_verdict_finds_a_field_that_differs_and_a_missing_row() {
    let fx = Fixture::new().await;
    let rows = fx.rows().await;
    let links = fx.links(&rows);

    // Copied faithfully: both records agree on every mapped field.
    let same = compare(&fx.pair, &fx.pages, &rows, &links, &Default::default());
    assert_eq!(same.records, 2);
    assert_eq!(same.fields, 2 * fx.pair.fields.len());
    assert!(same.agree(), "{:?}", same.differences);

    // Someone changes one priority in Airtable only.
    let page = &fx.pages[1];
    let row = rows
        .iter()
        .find(|r| r.fields[fx.pair.page_id_field()] == json!(page.id))
        .unwrap();
    let before = row.fields["Priority"].as_str().unwrap().to_owned();
    let after = if before == "P0" { "P3" } else { "P0" };
    fx.airtable
        .update_record_as_person(
            &fx.base_id,
            &fx.table_id,
            &row.id,
            json!({ "Priority": after }),
        )
        .unwrap();
    let rows = fx.rows().await;
    let diverged = compare(&fx.pair, &fx.pages, &rows, &links, &Default::default());
    assert!(!diverged.agree());
    assert_eq!(diverged.differences.len(), 1, "{:?}", diverged.differences);
    let d = &diverged.differences[0];
    assert_eq!(d.field.as_deref(), Some("Priority"));
    assert_eq!(d.record, page.title());
    assert_eq!(d.notion, format!("\"{before}\""));
    assert_eq!(d.airtable, format!("\"{after}\""));

    // The row is deleted: the link points at nothing, which is reported too
    // (an empty comparison must never pass as agreement).
    fx.airtable
        .delete_record_as_person(&fx.base_id, &fx.table_id, &row.id)
        .unwrap();
    let rows = fx.rows().await;
    let missing = compare(&fx.pair, &fx.pages, &rows, &links, &Default::default());
    assert_eq!(missing.records, 1);
    assert!(
        missing
            .differences
            .iter()
            .any(|d| d.field.is_none() && d.airtable == "row missing"),
        "{:?}",
        missing.differences
    );
    assert!(
        !compare(&fx.pair, &[], &[], &[], &Default::default()).agree(),
        "nothing compared is not agreement"
    );
}
