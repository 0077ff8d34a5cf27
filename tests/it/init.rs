//! `init` end to end: the binary reads both sandboxes' live schemas and
//! writes a `sync.toml`; `check` accepts it and `reconcile` syncs with it.

use std::{path::PathBuf, process::Output};

use notion_airtable_sandbox::{
    airtable::{AirtableSandbox, AirtableSandboxConfig},
    notion::{NotionSandbox, NotionSandboxConfig},
    team,
};

use notion_airtable_sync::{airtable::AirtableClient, secret::Secret};
use serde_json::json;

use crate::common::{
    TestDb,
    sandboxes::{plain_text, select_name},
    serve::BIN,
};

struct Workspace {
    notion: NotionSandbox,
    airtable: AirtableSandbox,
    database_id: String,
    data_source_id: String,
    base_id: String,
    page_ids: Vec<String>,
    /// `(name, user id)` of the workspace's people.
    people: Vec<(String, String)>,
    dir: PathBuf,
    /// The service's database (default: a SQLite file in `dir`).
    database_url: Option<String>,
}

impl Drop for Workspace {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The team's workspace: "Product Specs" in Notion, "Delivery Tracker" in
/// Airtable, whose names differ for the title ("Name" / "Spec Name").
async fn team_workspace() -> Workspace {
    let notion = NotionSandbox::start_local(NotionSandboxConfig::default())
        .await
        .unwrap();
    let airtable = AirtableSandbox::start_local(AirtableSandboxConfig::default())
        .await
        .unwrap();
    let team_n = notion.seed_team();
    let team_a = airtable.seed_team();
    let dir = std::env::temp_dir().join(format!("nas-init-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    Workspace {
        notion,
        airtable,
        database_id: team_n.database_id,
        data_source_id: team_n.data_source_id,
        base_id: team_a.base_id,
        page_ids: team_n.page_ids,
        people: team_n.people,
        dir,
        database_url: None,
    }
}

impl Workspace {
    fn mapping(&self) -> PathBuf {
        self.dir.join("sync.toml")
    }

    fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.dir.join("db.sqlite").display()))
    }

    /// Run the binary with this workspace's tokens and API URLs.
    async fn run(&self, args: &[&str]) -> Output {
        tokio::process::Command::new(BIN)
            .args(args)
            .current_dir(&self.dir)
            .env("NOTION_TOKEN", self.notion.token())
            .env("AIRTABLE_TOKEN", self.airtable.token())
            .env("NOTION_API_URL", self.notion.base_url())
            .env("AIRTABLE_API_URL", self.airtable.base_url())
            .env("SYNC_CONFIG", self.mapping())
            .env("DATABASE_URL", self.database_url())
            .env("RUST_LOG", "warn")
            .env_remove("PUBLIC_URL")
            .output()
            .await
            .unwrap()
    }

    async fn init(&self, extra: &[&str]) -> Output {
        let mut args = vec![
            "init",
            "--notion-database",
            &self.database_id,
            "--airtable-base",
            &self.base_id,
        ];
        args.extend_from_slice(extra);
        self.run(&args).await
    }

    /// The table's fields, as the Meta API answers them.
    async fn field_names(&self) -> Vec<String> {
        let client = AirtableClient::new(
            &self.airtable.base_url(),
            Secret::new(self.airtable.token().to_owned()),
        )
        .unwrap();
        let tables = client.base_schema(&self.base_id).await.unwrap();
        let table = tables
            .iter()
            .find(|t| t.name == team::AIRTABLE_TABLE_NAME)
            .unwrap();
        table.fields.iter().map(|f| f.name.clone()).collect()
    }

    fn table_rows(&self) -> Vec<serde_json::Value> {
        self.airtable
            .records(&self.base_id, team::AIRTABLE_TABLE_NAME)
    }

    /// The row linked to a page.
    fn row_of(&self, page_id: &str) -> serde_json::Value {
        self.table_rows()
            .into_iter()
            .find(|r| r["fields"]["Notion Page ID"] == json!(page_id))
            .unwrap_or_else(|| panic!("no row for page {page_id}"))
    }

    /// A Notion property of a page, as the API answers it.
    fn property(&self, page_id: &str, name: &str) -> serde_json::Value {
        self.notion.page(page_id).expect("the page")["properties"][name].clone()
    }

    async fn reconcile_full(&self) {
        let output = self.run(&["reconcile", "--full"]).await;
        assert!(output.status.success(), "{}", text(&output));
    }
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_writes_a_mapping_that_check_accepts_and_reconcile_syncs() {
    let ws = team_workspace().await;
    let output = ws.init(&[]).await;
    assert!(output.status.success(), "{}", text(&output));
    let written = std::fs::read_to_string(ws.mapping()).unwrap();
    // The title pairs with the primary field though their names differ;
    // the other fields pair by name; the service's fields are found.
    for line in [
        "notion = \"Name\"\nairtable = \"Spec Name\"",
        "notion = \"Ship Date\"\nairtable = \"Ship Date\"",
        "notion = \"Status\"\nairtable = \"Status\"",
        "page_id_field = \"Notion Page ID\"",
        "last_synced_field = \"Last Synced\"",
        "notion_url_field = \"Notion URL\"",
        "record_id_property = \"Airtable Record ID\"",
        "match_key = { notion = \"Name\", airtable = \"Spec Name\" }",
    ] {
        assert!(written.contains(line), "{line:?} in:\n{written}");
    }
    let mapped = written.matches("[[pair.field]]").count();
    assert_eq!(mapped, 8, "the team's eight fields:\n{written}");

    let checked = ws.run(&["check"]).await;
    assert!(checked.status.success(), "{}", text(&checked));
    assert!(!text(&checked).contains("problem: "), "{}", text(&checked));

    let reconciled = ws.run(&["reconcile", "--full"]).await;
    assert!(reconciled.status.success(), "{}", text(&reconciled));
    let rows = ws.table_rows();
    let linked = rows
        .iter()
        .filter(|r| r["fields"]["Notion Page ID"].as_str().is_some())
        .count();
    assert_eq!(linked, ws.page_ids.len(), "every spec linked: {rows:#?}");
}

both_backends!(the_mapping_init_writes_syncs_a_week_of_edits);

/// The mapping `init` proposes carries the team's week: edits in Notion
/// reach Airtable, Airtable's operational fields reach Notion, a trashed
/// spec archives its row, a new spec gets a row. On both backends.
async fn the_mapping_init_writes_syncs_a_week_of_edits(db: TestDb) {
    let mut ws = team_workspace().await;
    ws.database_url = Some(db.url.clone());
    // The quick start's path: init, check, a dry run that writes nothing,
    // then the first sync.
    assert!(ws.init(&[]).await.status.success());
    let checked = ws.run(&["check"]).await;
    assert!(checked.status.success(), "{}", text(&checked));
    let dry = ws.run(&["reconcile", "--full", "--dry-run"]).await;
    assert!(dry.status.success(), "{}", text(&dry));
    assert!(
        ws.table_rows()
            .iter()
            .all(|r| r["fields"]["Notion Page ID"].is_null()),
        "a dry run links nothing"
    );
    ws.reconcile_full().await;
    let person = ws.people[0].1.clone();
    let (raised, planned, dropped) = (&ws.page_ids[0], &ws.page_ids[1], &ws.page_ids[2]);
    let priority = ws.row_of(raised)["fields"]["Priority"].clone();
    let new_priority = if priority == json!("P0") { "P1" } else { "P0" };
    ws.notion
        .update_page_as_person(
            raised,
            &person,
            json!({"Priority": {"select": {"name": new_priority}}}),
        )
        .unwrap();
    let record = ws.row_of(planned)["id"].as_str().unwrap().to_owned();
    ws.airtable
        .update_record_as_person(
            &ws.base_id,
            team::AIRTABLE_TABLE_NAME,
            &record,
            json!({"Sprint": "Sprint 31", "Blockers": "Waiting on legal review"}),
        )
        .unwrap();
    ws.notion
        .set_trashed_as_person(dropped, &person, true)
        .unwrap();
    let new_page = ws
        .notion
        .insert_page_as_person(
            &ws.data_source_id,
            &person,
            json!({"Name": {"title": [{"text": {"content": "Bulk Edit v1"}}]}}),
        )
        .unwrap();

    ws.reconcile_full().await;
    assert_eq!(ws.row_of(raised)["fields"]["Priority"], json!(new_priority));
    assert_eq!(plain_text(&ws.property(planned, "Sprint")), "Sprint 31");
    assert_eq!(
        plain_text(&ws.property(planned, "Blockers")),
        "Waiting on legal review"
    );
    assert_eq!(ws.row_of(dropped)["fields"]["Status"], json!("Archived"));
    assert_eq!(
        ws.row_of(&new_page)["fields"]["Spec Name"],
        json!("Bulk Edit v1")
    );
    // Nothing else moved: the other specs keep the status they had.
    assert_eq!(
        select_name(&ws.property(&ws.page_ids[3], "Status")),
        ws.row_of(&ws.page_ids[3])["fields"]["Status"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_file_is_kept_without_force() {
    let ws = team_workspace().await;
    std::fs::write(ws.mapping(), "# a person's own mapping\n").unwrap();
    let output = ws.init(&[]).await;
    assert!(!output.status.success());
    assert!(text(&output).contains("--force"), "{}", text(&output));
    assert_eq!(
        std::fs::read_to_string(ws.mapping()).unwrap(),
        "# a person's own mapping\n"
    );
    let forced = ws.init(&["--force"]).await;
    assert!(forced.status.success(), "{}", text(&forced));
    assert!(
        std::fs::read_to_string(ws.mapping())
            .unwrap()
            .contains("[[pair]]")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_link_field_is_named_then_created_on_request() {
    let ws = team_workspace().await;
    let table = team::AIRTABLE_TABLE_NAME;
    ws.airtable
        .delete_field_as_person(&ws.base_id, table, "Notion Page ID")
        .unwrap();
    // Without --create-missing: the file says what is missing, and check
    // refuses it until the field exists.
    let output = ws.init(&[]).await;
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        text(&output).contains("--create-missing"),
        "{}",
        text(&output)
    );
    let checked = ws.run(&["check"]).await;
    assert!(!checked.status.success(), "{}", text(&checked));
    assert!(
        text(&checked).contains("Notion Page ID"),
        "{}",
        text(&checked)
    );

    let created = ws.init(&["--force", "--create-missing", "--yes"]).await;
    assert!(ws.field_names().await.iter().any(|n| n == "Notion Page ID"));
    assert!(created.status.success(), "{}", text(&created));
    assert!(
        text(&created).contains("created \"Notion Page ID\""),
        "{}",
        text(&created)
    );
    let checked = ws.run(&["check"]).await;
    assert!(checked.status.success(), "{}", text(&checked));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_yes_nothing_is_created_unless_confirmed() {
    let ws = team_workspace().await;
    let table = team::AIRTABLE_TABLE_NAME;
    ws.airtable
        .delete_field_as_person(&ws.base_id, table, "Notion Page ID")
        .unwrap();
    // No terminal: stdin is empty, which is no confirmation.
    let output = ws.init(&["--create-missing"]).await;
    assert!(!output.status.success(), "{}", text(&output));
    assert!(
        text(&output).contains("nothing created"),
        "{}",
        text(&output)
    );
    assert!(!ws.mapping().exists());
    assert!(ws.field_names().await.iter().all(|n| n != "Notion Page ID"));
}
