//! `check` end to end: the binary reads `sync.toml` (the shipped example)
//! and compares it with the live schemas of the sandbox servers. Each test
//! builds a workspace whose schema differs from the mapping in one way (a
//! renamed field, a wrong type, a missing status option, a missing link
//! field, a bad token) and expects one problem line naming it, with a fix,
//! and a failing exit status; the team's own workspace passes.

use std::{path::PathBuf, process::Output};

use notion_airtable_sandbox::{
    airtable::{AirtableSandbox, AirtableSandboxConfig, FieldSchema, FieldType},
    notion::{NotionSandbox, NotionSandboxConfig, PropertyKind, PropertySchema},
    team,
};

use crate::common::{mapping::Mapping, serve::BIN};

struct Workspace {
    notion: NotionSandbox,
    airtable: AirtableSandbox,
    dir: PathBuf,
}

impl Drop for Workspace {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn sandboxes() -> (NotionSandbox, AirtableSandbox) {
    let notion = NotionSandbox::start_local(NotionSandboxConfig::default())
        .await
        .unwrap();
    let airtable = AirtableSandbox::start_local(AirtableSandboxConfig::default())
        .await
        .unwrap();
    (notion, airtable)
}

/// The "Product Specs" schema of the design brief.
fn team_properties() -> Vec<PropertySchema> {
    vec![
        PropertySchema::title("Name"),
        PropertySchema::select("Status", &team::STATUSES),
        PropertySchema::select("Priority", &team::PRIORITIES),
        PropertySchema::people("Owner"),
        PropertySchema::select("Target Quarter", &team::QUARTERS),
        PropertySchema::rich_text("Sprint"),
        PropertySchema::date("Ship Date"),
        PropertySchema::rich_text("Blockers"),
        PropertySchema::rich_text("Airtable Record ID"),
    ]
}

/// The "Delivery Tracker" fields of the design brief.
fn team_fields() -> Vec<FieldSchema> {
    let mut statuses = team::STATUSES.to_vec();
    statuses.push("Archived");
    let text = |n: &str| FieldSchema::new(n, FieldType::SingleLineText);
    vec![
        text("Spec Name"),
        FieldSchema::single_select("Status", &statuses),
        FieldSchema::single_select("Priority", &team::PRIORITIES),
        text("Owner"),
        FieldSchema::single_select("Target Quarter", &team::QUARTERS),
        FieldSchema::new("Notion URL", FieldType::Url),
        text("Sprint"),
        FieldSchema::new("Ship Date", FieldType::Date),
        FieldSchema::new("Blockers", FieldType::MultilineText),
        FieldSchema::new("Last Synced", FieldType::DateTime),
        text("Notion Page ID"),
    ]
}

/// A workspace with the given schemas, and the shipped example mapping
/// pointed at it.
async fn workspace(properties: Vec<PropertySchema>, fields: Vec<FieldSchema>) -> Workspace {
    let (notion, airtable) = sandboxes().await;
    let (database_id, _) = notion.create_database(team::NOTION_DATABASE_TITLE, properties);
    let base_id = airtable.create_base(team::AIRTABLE_BASE_NAME);
    airtable.create_table(&base_id, team::AIRTABLE_TABLE_NAME, fields);
    with_config(notion, airtable, database_id, base_id)
}

fn with_config(
    notion: NotionSandbox,
    airtable: AirtableSandbox,
    database_id: String,
    base_id: String,
) -> Workspace {
    let dir = std::env::temp_dir().join(format!("nas-check-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    Mapping::example(&database_id, &base_id).write_to(&dir);
    Workspace {
        notion,
        airtable,
        dir,
    }
}

/// Run `check` with the workspace's tokens, or the ones given.
async fn check(ws: &Workspace, tokens: Option<(&str, &str)>) -> (Output, Vec<String>) {
    let (notion_token, airtable_token) = tokens.unwrap_or((ws.notion.token(), ws.airtable.token()));
    let output = tokio::process::Command::new(BIN)
        .arg("check")
        .current_dir(&ws.dir)
        .env("NOTION_TOKEN", notion_token)
        .env("AIRTABLE_TOKEN", airtable_token)
        .env("NOTION_API_URL", ws.notion.base_url())
        .env("AIRTABLE_API_URL", ws.airtable.base_url())
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", ws.dir.join("db.sqlite").display()),
        )
        .env("RUST_LOG", "warn")
        .env_remove("PUBLIC_URL")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let problems = stdout
        .lines()
        .filter(|l| l.starts_with("problem: "))
        .map(str::to_owned)
        .collect();
    (output, problems)
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_team_workspace_passes_and_names_the_options_it_will_create() {
    let (notion, airtable) = sandboxes().await;
    let team_n = notion.seed_team();
    let team_a = airtable.seed_team();
    let ws = with_config(notion, airtable, team_n.database_id, team_a.base_id);
    let (output, problems) = check(&ws, None).await;
    let out = stdout(&output);
    assert!(output.status.success(), "{out}");
    assert!(problems.is_empty(), "{out}");
    assert!(out.contains("8 mapped fields exist on both sides"), "{out}");
    assert!(out.contains("can read the Notion database"), "{out}");
    assert!(out.contains("can read table \"Delivery Tracker\""), "{out}");
    // Airtable's extra status option flows into a Notion select: created there.
    assert!(
        out.lines().any(|l| l.starts_with("note: ")
            && l.contains("\"Archived\"")
            && l.contains("created in Notion")),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renamed_airtable_field_is_reported_with_its_new_name() {
    let mut fields = team_fields();
    fields[0] = FieldSchema::new("Spec Title", FieldType::SingleLineText);
    let ws = workspace(team_properties(), fields).await;
    let (output, problems) = check(&ws, None).await;
    assert!(!output.status.success());
    let renamed = problems
        .iter()
        .find(|p| p.contains("Airtable field \"Spec Name\" does not exist"))
        .unwrap_or_else(|| panic!("{problems:?}"));
    assert!(
        renamed.contains("renamed to \"Spec Title\", set airtable = \"Spec Title\""),
        "{renamed}"
    );
    // The match key names the same field, and says so on a line of its own.
    assert!(
        problems
            .iter()
            .any(|p| p.contains("match_key.airtable \"Spec Name\"")),
        "{problems:?}"
    );
    assert_eq!(problems.len(), 2, "{problems:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_field_of_the_wrong_type_is_reported_with_the_types_that_work() {
    let fields: Vec<FieldSchema> = team_fields()
        .into_iter()
        .map(|f| match f.name.as_str() {
            "Ship Date" => FieldSchema::new("Ship Date", FieldType::Checkbox),
            _ => f,
        })
        .collect();
    let ws = workspace(team_properties(), fields).await;
    let (output, problems) = check(&ws, None).await;
    assert!(!output.status.success());
    assert_eq!(problems.len(), 1, "{problems:#?}");
    let p = &problems[0];
    assert!(
        p.contains("\"Ship Date\" ↔ \"Ship Date\"")
            && p.contains("`date` property cannot sync with an Airtable `checkbox`"),
        "{p}"
    );
    assert!(
        p.contains("Fix: change the type of \"Ship Date\" in Airtable to one of date, dateTime"),
        "{p}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_option_notion_cannot_create_is_reported() {
    // A Notion status property (options cannot be created through the API)
    // without "In Review", which Airtable's Status offers.
    let properties: Vec<PropertySchema> = team_properties()
        .into_iter()
        .map(|p| match p.name.as_str() {
            "Status" => PropertySchema::with_options(
                "Status",
                PropertyKind::Status,
                &["Draft", "Ready", "In Progress", "Shipped", "Archived"],
            ),
            _ => p,
        })
        .collect();
    let ws = workspace(properties, team_fields()).await;
    let (output, problems) = check(&ws, None).await;
    assert!(!output.status.success());
    assert_eq!(problems.len(), 1, "{problems:#?}");
    let p = &problems[0];
    assert!(
        p.contains("Airtable options \"In Review\" do not exist in the Notion status property"),
        "{p}"
    );
    assert!(p.contains("Fix: add them to \"Status\" in Notion"), "{p}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_non_text_link_field_is_reported() {
    let without_link: Vec<FieldSchema> = team_fields()
        .into_iter()
        .filter(|f| f.name != "Notion Page ID")
        .collect();
    let ws = workspace(team_properties(), without_link).await;
    let (output, problems) = check(&ws, None).await;
    assert!(!output.status.success());
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(
        problems[0].contains("\"Notion Page ID\" (page_id_field) does not exist")
            && problems[0].contains("Fix: add a singleLineText field \"Notion Page ID\""),
        "{}",
        problems[0]
    );

    let numeric_link: Vec<FieldSchema> = team_fields()
        .into_iter()
        .map(|f| match f.name.as_str() {
            "Notion Page ID" => FieldSchema::new("Notion Page ID", FieldType::Number),
            _ => f,
        })
        .collect();
    let ws = workspace(team_properties(), numeric_link).await;
    let (_, problems) = check(&ws, None).await;
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(
        problems[0].contains("(page_id_field) is a `number` field")
            && problems[0].contains("Fix: change its type in Airtable to singleLineText"),
        "{}",
        problems[0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tokens_are_reported_without_printing_them() {
    let ws = workspace(team_properties(), team_fields()).await;
    let (bad_notion, bad_airtable) = ("secret_wrongWRONGwrong", "patWrongWRONGwrong.0000");
    let (output, problems) = check(&ws, Some((bad_notion, bad_airtable))).await;
    assert!(!output.status.success());
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(
        problems[0].starts_with("problem: Notion token")
            && problems[0].contains("401")
            && problems[0].contains("Fix: set NOTION_TOKEN"),
        "{}",
        problems[0]
    );
    assert!(
        problems[1].starts_with("problem: Airtable token")
            && problems[1].contains("Fix: set AIRTABLE_TOKEN"),
        "{}",
        problems[1]
    );
    let all = format!(
        "{}{}",
        stdout(&output),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        !all.contains(bad_notion) && !all.contains(bad_airtable),
        "{all}"
    );
    // The workspace itself is fine: with the right tokens it passes.
    let (output, problems) = check(&ws, None).await;
    assert!(output.status.success(), "{problems:?}\n{}", stdout(&output));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renamed_notion_property_is_reported_with_its_new_name() {
    let properties: Vec<PropertySchema> = team_properties()
        .into_iter()
        .map(|p| match p.name.as_str() {
            "Priority" => PropertySchema::select("Importance", &team::PRIORITIES),
            _ => p,
        })
        .collect();
    let ws = workspace(properties, team_fields()).await;
    let (output, problems) = check(&ws, None).await;
    assert!(!output.status.success());
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(
        problems[0].contains("Notion property \"Priority\" does not exist")
            && problems[0].contains("renamed to \"Importance\", set notion = \"Importance\""),
        "{}",
        problems[0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_that_cannot_list_users_is_a_note_not_a_failure() {
    let (notion, airtable) = sandboxes().await;
    let team_n = notion.seed_team();
    let team_a = airtable.seed_team();
    notion.set_user_information(notion_airtable_sandbox::notion::UserInformation::None);
    let ws = with_config(notion, airtable, team_n.database_id, team_a.base_id);
    let (output, problems) = check(&ws, None).await;
    let out = stdout(&output);
    assert!(output.status.success(), "{out}");
    assert!(problems.is_empty(), "{out}");
    let notes: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("note: ") && l.contains("cannot list the workspace's users"))
        .collect();
    assert_eq!(notes.len(), 1, "{out}");
    assert!(notes[0].contains("Read user information"), "{out}");
}

/// A people ↔ collaborators mapping whose Notion integration sees no email
/// is refused with the capability to add; with emails it passes and says
/// how people are matched and what is reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn collaborators_without_the_email_capability_are_a_problem_with_its_fix() {
    use notion_airtable_sandbox::notion::UserInformation;
    for (info, passes) in [
        (UserInformation::WithoutEmail, false),
        (UserInformation::WithEmail, true),
    ] {
        let mut properties = team_properties();
        properties.push(PropertySchema::people("Engineers"));
        let mut fields = team_fields();
        fields.push(FieldSchema::new(
            "Engineers",
            FieldType::MultipleCollaborators,
        ));
        let (notion, airtable) = sandboxes().await;
        let (database_id, _) = notion.create_database(team::NOTION_DATABASE_TITLE, properties);
        let base_id = airtable.create_base(team::AIRTABLE_BASE_NAME);
        airtable.create_table(&base_id, team::AIRTABLE_TABLE_NAME, fields);
        notion.set_user_information(info);
        let ws = with_config(notion, airtable, database_id.clone(), base_id.clone());
        Mapping::example(&database_id, &base_id)
            .edit(
                "# Operational data:",
                "[[pair.field]]\nnotion = \"Engineers\"\nairtable = \"Engineers\"\n\n# Operational data:",
            )
            .write_to(&ws.dir);
        let (output, problems) = check(&ws, None).await;
        let out = stdout(&output);
        assert_eq!(output.status.success(), passes, "{out}");
        if passes {
            assert!(problems.is_empty(), "{out}");
            assert!(out.contains("match people by email"), "{out}");
        } else {
            assert_eq!(problems.len(), 1, "{out}");
            assert!(problems[0].contains("sees no user's email"), "{out}");
            assert!(out.contains("including email addresses"), "{out}");
        }
    }
}
