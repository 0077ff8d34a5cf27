//! `check`: the mapping file against both live schemas and what the tokens
//! may do, before anything is written. One line per finding: `ok:`,
//! `note:` (works, but worth knowing, e.g. options that will be created), or
//! `problem: ... Fix: ...`. The command fails when there is any problem.
//!
//! The schema checks mirror [`pair::resolve`] (which `serve` and `reconcile`
//! run) with a fix for each problem; as a guard against the two drifting
//! apart, a pair that passes here is also resolved, and anything it refuses
//! is reported too. So a clean `check` means `serve` will accept the mapping.

use std::{collections::BTreeSet, io::Write};

use crate::{
    airtable::{AirtableClient, FieldSchema, ListParams, TableSchema},
    clients::api_error::ApiError,
    config::{Direction, Env, NotionTrashAction, PairConfig},
    notion::{DataSource, NotionClient, PropertySchema, Query, ResolveError, User},
    sync::{
        convert::{Kind, computed},
        pair,
    },
};

use super::clients;

#[path = "check_people.rs"]
mod people;
#[path = "check_relations.rs"]
mod relations;
#[path = "check_scope.rs"]
mod scope;

#[path = "check_body.rs"]
mod body;

/// Airtable scopes every deployment needs.
const AIRTABLE_SCOPES: [&str; 3] = [
    "data.records:read",
    "data.records:write",
    "schema.bases:read",
];
/// Needed to register webhooks (`serve` with `PUBLIC_URL`, `webhooks ensure`).
const WEBHOOK_SCOPE: &str = "webhook:manage";

/// Airtable field types, for suggesting a type a Notion property can sync with.
const AIRTABLE_TYPES: [&str; 16] = [
    "singleLineText",
    "multilineText",
    "richText",
    "url",
    "email",
    "phoneNumber",
    "singleSelect",
    "multipleSelects",
    "date",
    "dateTime",
    "number",
    "currency",
    "percent",
    "rating",
    "duration",
    "checkbox",
];
const LINK_TYPES: [&str; 2] = ["singleLineText", "multilineText"];

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    Ok(String),
    Note(String),
    Problem { what: String, fix: String },
}

/// Everything `check` found, in order.
#[derive(Debug, Default)]
pub struct Report {
    pub findings: Vec<Finding>,
}

impl Report {
    fn ok(&mut self, line: impl Into<String>) {
        self.findings.push(Finding::Ok(line.into()));
    }

    fn note(&mut self, line: impl Into<String>) {
        self.findings.push(Finding::Note(line.into()));
    }

    fn problem(&mut self, what: impl Into<String>, fix: impl Into<String>) {
        self.findings.push(Finding::Problem {
            what: what.into(),
            fix: fix.into(),
        });
    }

    pub fn problems(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| matches!(f, Finding::Problem { .. }))
            .count()
    }

    fn write(&self, out: &mut impl Write) -> std::io::Result<()> {
        for finding in &self.findings {
            match finding {
                Finding::Ok(line) => writeln!(out, "ok: {line}")?,
                Finding::Note(line) => writeln!(out, "note: {line}")?,
                Finding::Problem { what, fix } => writeln!(out, "problem: {what}. Fix: {fix}")?,
            }
        }
        Ok(())
    }
}

/// `check`: prints one line per finding; returns how many problems.
pub async fn check(env: &Env) -> anyhow::Result<usize> {
    let config = env.load_sync_config()?;
    let (notion, airtable) = clients(env)?;
    let mut report = Report::default();
    let notion_works = check_notion_token(&notion, &mut report).await;
    let airtable_works = check_airtable_token(&airtable, env, &mut report).await;
    for pair in &config.pairs {
        if notion_works && airtable_works {
            check_pair(pair, &notion, &airtable, &mut report).await;
        } else {
            report.note(format!(
                "pair \"{}\": schemas not checked until both tokens work",
                pair.name
            ));
        }
    }
    if notion_works && airtable_works {
        relations::check_relations(&config, &notion, &airtable, &mut report).await;
    }
    report.write(&mut std::io::stdout().lock())?;
    Ok(report.problems())
}

async fn check_notion_token(notion: &NotionClient, report: &mut Report) -> bool {
    match notion.me().await {
        Ok(me) => {
            report.ok(format!(
                "Notion token works (integration \"{}\")",
                me.name.as_deref().unwrap_or(&me.id)
            ));
            // Notion's API does not report an integration's capabilities;
            // reading is probed per pair below, writing cannot be without a write.
            report.note(
                "Notion does not report an integration's capabilities: it needs Read content, \
                 Update content (and Insert content with create_notion_pages) and Read user \
                 information; a missing one shows as 403 restricted_resource in the job errors",
            );
            true
        }
        Err(e) => {
            let fix = if e.status() == Some(401) {
                "set NOTION_TOKEN to the internal integration secret shown under Notion → \
                 Settings → Connections → Develop or manage integrations → your integration"
            } else {
                "check NOTION_API_URL and the network, then run `check` again"
            };
            report.problem(format!("Notion token: {e}"), fix);
            false
        }
    }
}

async fn check_airtable_token(airtable: &AirtableClient, env: &Env, report: &mut Report) -> bool {
    let me = match airtable.whoami().await {
        Ok(me) => me,
        Err(e) => {
            let fix = if e.status() == Some(401) {
                "set AIRTABLE_TOKEN to a personal access token (airtable.com/create/tokens)"
            } else {
                "check AIRTABLE_API_URL and the network, then run `check` again"
            };
            report.problem(format!("Airtable token: {e}"), fix);
            return false;
        }
    };
    report.ok(format!(
        "Airtable token works (user {})",
        me.email.as_deref().unwrap_or(&me.id)
    ));
    let Some(scopes) = me.scopes else {
        report.note(format!(
            "Airtable did not report the token's scopes: make sure it has {} and {WEBHOOK_SCOPE}",
            AIRTABLE_SCOPES.join(", ")
        ));
        return true;
    };
    let has = |scope: &str| scopes.iter().any(|s| s == scope);
    let mut missing: Vec<&str> = AIRTABLE_SCOPES.into_iter().filter(|s| !has(s)).collect();
    if !has(WEBHOOK_SCOPE) {
        if env.public_url.is_some() {
            missing.push(WEBHOOK_SCOPE);
        } else {
            report.note(format!(
                "the Airtable token lacks {WEBHOOK_SCOPE}: fine without PUBLIC_URL (no webhooks, \
                 changes arrive with the sweeps), required to register webhooks"
            ));
        }
    }
    for scope in missing {
        report.problem(
            format!("the Airtable token lacks the {scope} scope"),
            "edit the token at airtable.com/create/tokens and add the scope (the token keeps its value)",
        );
    }
    if scopes.iter().any(|s| s == "data.records:write") {
        report.ok("the Airtable token may write records (data.records:write)");
    }
    true
}

/// Both schemas of one pair, the users, and a one-record read on each side.
async fn check_pair(
    config: &PairConfig,
    notion: &NotionClient,
    airtable: &AirtableClient,
    report: &mut Report,
) {
    let problems_before = report.problems();
    let data_source = match notion.resolve_data_source(&config.notion_database_id).await {
        Ok(ds) => Some(ds),
        Err(e) => {
            report_data_source_error(config, &e, report);
            None
        }
    };
    let table = read_table(config, airtable, report).await;
    let (Some(ds), Some(table)) = (data_source, table) else {
        return;
    };
    let Some(users) = read_users(config, &ds, notion, report).await else {
        return;
    };
    check_schemas(config, &ds, &table, report);
    people::check_collaborators(config, &ds, &table, &users, report);
    probe_reads(config, &ds, &table, notion, airtable, report).await;
    scope::check_scope(config, &ds, &table, notion, airtable, report).await;
    body::check_body(config, &ds, &table, notion, report).await;
    if report.problems() == problems_before {
        guard_resolution(config, &ds, &table, &users, report);
    }
}

/// The workspace's users, read only when a people property is mapped. A
/// token without the user-information capability (403) is a note, not a
/// problem: `serve` starts and matches people by what pages carry.
async fn read_users(
    config: &PairConfig,
    ds: &DataSource,
    notion: &NotionClient,
    report: &mut Report,
) -> Option<Vec<User>> {
    let name = &config.name;
    let people_mapped = config.fields.iter().any(|m| {
        ds.properties
            .get(&m.notion)
            .is_some_and(|p| p.kind == "people")
    });
    if !people_mapped {
        return Some(Vec::new());
    }
    match notion.list_users().await {
        Ok(users) => Some(users),
        Err(e) if e.status() == Some(403) => {
            report.note(format!(
                "pair \"{name}\": {}; to match every member, give the integration the \
                 \"Read user information including email addresses\" capability",
                pair::NO_USER_CAPABILITY
            ));
            Some(Vec::new())
        }
        Err(e) => {
            report.problem(
                format!("pair \"{name}\": the Notion workspace's users cannot be listed: {e}"),
                "check the Notion token and retry",
            );
            None
        }
    }
}

fn report_data_source_error(config: &PairConfig, e: &ResolveError, report: &mut Report) {
    let fix = match e {
        ResolveError::Api(api) if api.is_not_found() || api.status() == Some(403) => {
            "share the database with the integration (in Notion: the database's ••• menu → \
             Connections → add the integration), or correct notion.database_id in sync.toml"
        }
        ResolveError::Ambiguous { .. } => {
            "set notion.database_id in sync.toml to one of the data source ids listed"
        }
        _ => "correct notion.database_id in sync.toml",
    };
    report.problem(
        format!(
            "pair \"{}\": Notion database {}: {e}",
            config.name, config.notion_database_id
        ),
        fix,
    );
}

async fn read_table(
    config: &PairConfig,
    airtable: &AirtableClient,
    report: &mut Report,
) -> Option<TableSchema> {
    let name = &config.name;
    let base = &config.airtable_base_id;
    let tables = match airtable.base_schema(base).await {
        Ok(tables) => tables,
        Err(e) => {
            report.problem(
                format!("pair \"{name}\": Airtable base {base}: {e}"),
                "add the base to the token's access list (airtable.com/create/tokens → the \
                 token → Access), or correct airtable.base_id in sync.toml",
            );
            return None;
        }
    };
    let found = tables
        .iter()
        .find(|t| t.id == config.airtable_table || t.name == config.airtable_table);
    if found.is_none() {
        let names: Vec<String> = tables.iter().map(|t| format!("\"{}\"", t.name)).collect();
        report.problem(
            format!(
                "pair \"{name}\": Airtable base {base} has no table \"{}\"",
                config.airtable_table
            ),
            format!(
                "set airtable.table in sync.toml to one of: {}",
                names.join(", ")
            ),
        );
    }
    found.cloned()
}

/// Every schema check of a pair; pure, so the findings depend only on the
/// schemas read.
pub fn check_schemas(
    config: &PairConfig,
    ds: &DataSource,
    table: &TableSchema,
    report: &mut Report,
) {
    let before = report.problems();
    for mapping in &config.fields {
        let notion = ds.properties.get(&mapping.notion);
        let airtable = table.field(&mapping.airtable);
        if notion.is_none() {
            missing_notion_property(config, ds, &mapping.notion, airtable, report);
        }
        if airtable.is_none() {
            missing_airtable_field(config, table, &mapping.airtable, notion, report);
        }
        let (Some(n), Some(a)) = (notion, airtable) else {
            continue;
        };
        if mapping.status_group {
            // The groups are the values, not the status's options.
            if let Err(why) = crate::sync::status_group::resolve(mapping, n, a) {
                report.problem(
                    format!(
                        "pair \"{}\": field \"{}\" ↔ \"{}\": {why}",
                        config.name,
                        mapping.key(),
                        mapping.airtable
                    ),
                    "map a Notion `status` property's group to an Airtable single select or \
                     text field, with direction = \"notion_to_airtable\"",
                );
            }
            continue;
        }
        match Kind::for_types(&n.kind, &a.kind) {
            // A status or select mapped to a rich-text long text holds free text too.
            Ok(Kind::Select | Kind::MultiSelect | Kind::MarkdownText) => {
                check_options(config, mapping.direction, n, a, report);
            }
            Ok(kind) => {
                if let Some(why) =
                    computed::direction_problem(kind, &n.kind, &a.kind, mapping.direction)
                {
                    report.problem(
                        format!(
                            "pair \"{}\": field \"{}\" ↔ \"{}\": {why}",
                            config.name, mapping.notion, mapping.airtable
                        ),
                        "a computed value flows one way only: set that direction on this \
                         [[pair.field]] in sync.toml",
                    );
                }
            }
            Err(e) => report.problem(
                format!(
                    "pair \"{}\": field \"{}\" ↔ \"{}\": {e}",
                    config.name, mapping.notion, mapping.airtable
                ),
                compatible_types_fix(&n.kind, &a.name),
            ),
        }
    }
    check_service_fields(config, ds, table, report);
    if report.problems() == before {
        report.ok(format!(
            "pair \"{}\": {} mapped fields exist on both sides with convertible types",
            config.name,
            config.fields.len()
        ));
    }
}

fn missing_notion_property(
    config: &PairConfig,
    ds: &DataSource,
    property: &str,
    airtable: Option<&FieldSchema>,
    report: &mut Report,
) {
    let mapped: BTreeSet<&str> = config.fields.iter().map(|f| f.notion.as_str()).collect();
    let own = config.notion_record_id_property.as_deref();
    let candidates: Vec<&str> = ds
        .properties
        .values()
        .filter(|p| !mapped.contains(p.name.as_str()) && Some(p.name.as_str()) != own)
        .filter(|p| airtable.is_none_or(|a| Kind::for_types(&p.kind, &a.kind).is_ok()))
        .map(|p| p.name.as_str())
        .collect();
    report.problem(
        format!(
            "pair \"{}\": Notion property \"{property}\" does not exist in the database",
            config.name
        ),
        rename_fix("notion", property, &candidates, "the Notion database"),
    );
}

fn missing_airtable_field(
    config: &PairConfig,
    table: &TableSchema,
    field: &str,
    notion: Option<&PropertySchema>,
    report: &mut Report,
) {
    let candidates: Vec<&str> = table
        .fields
        .iter()
        .filter(|f| !service_field(config, &f.name) && !mapped_airtable(config, &f.name))
        .filter(|f| notion.is_none_or(|n| Kind::for_types(&n.kind, &f.kind).is_ok()))
        .map(|f| f.name.as_str())
        .collect();
    report.problem(
        format!(
            "pair \"{}\": Airtable field \"{field}\" does not exist in table \"{}\"",
            config.name, table.name
        ),
        rename_fix("airtable", field, &candidates, "the Airtable table"),
    );
}

fn mapped_airtable(config: &PairConfig, name: &str) -> bool {
    config.fields.iter().any(|f| f.airtable == name)
}

fn service_field(config: &PairConfig, name: &str) -> bool {
    config.airtable_page_id_field == name
        || config.airtable_last_synced_field.as_deref() == Some(name)
        || config.airtable_notion_url_field.as_deref() == Some(name)
}

/// If the field was renamed, the new name is among the unmapped ones of a
/// compatible type: name them.
fn rename_fix(key: &str, name: &str, candidates: &[&str], side: &str) -> String {
    let quoted: Vec<String> = candidates.iter().map(|c| format!("\"{c}\"")).collect();
    match quoted.as_slice() {
        [] => format!("add \"{name}\" to {side}, or remove this mapping from sync.toml"),
        [one] => format!(
            "if it was renamed to {one}, set {key} = {one} in sync.toml; otherwise add \"{name}\" to {side}"
        ),
        many => format!(
            "if it was renamed, set {key} in sync.toml to the new name (unmapped and compatible: {}); \
             otherwise add \"{name}\" to {side}",
            many.join(", ")
        ),
    }
}

fn compatible_types_fix(notion_type: &str, airtable_field: &str) -> String {
    let types: Vec<&str> = AIRTABLE_TYPES
        .into_iter()
        .filter(|t| Kind::for_types(notion_type, t).is_ok())
        .collect();
    if types.is_empty() {
        return format!(
            "a Notion `{notion_type}` property cannot be synced: remove this mapping from sync.toml"
        );
    }
    format!(
        "change the type of \"{airtable_field}\" in Airtable to one of {}, or map the property to a field of such a type",
        types.join(", ")
    )
}

fn notion_options(p: &PropertySchema) -> BTreeSet<String> {
    p.options.iter().map(|o| o.name.clone()).collect()
}

/// The choices of an Airtable select field; `None` for a text field (free text).
fn airtable_choices(f: &FieldSchema) -> Option<BTreeSet<String>> {
    if !matches!(f.kind.as_str(), "singleSelect" | "multipleSelects") {
        return None;
    }
    let choices = f.options.as_ref().and_then(|o| o["choices"].as_array());
    Some(
        choices
            .into_iter()
            .flatten()
            .filter_map(|c| c["name"].as_str().map(str::to_owned))
            .collect(),
    )
}

fn quoted(names: &BTreeSet<String>) -> String {
    let names: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    names.join(", ")
}

/// Options on one side and not the other: created on first use where the
/// API allows it (a note), a problem where it does not (a Notion status, or a
/// name with a comma).
fn check_options(
    config: &PairConfig,
    direction: Direction,
    n: &PropertySchema,
    a: &FieldSchema,
    report: &mut Report,
) {
    let label = format!(
        "pair \"{}\": field \"{}\" ↔ \"{}\"",
        config.name, n.name, a.name
    );
    let in_notion = notion_options(n);
    let to_airtable = direction != Direction::AirtableToNotion;
    let to_notion = direction != Direction::NotionToAirtable;
    let Some(in_airtable) = airtable_choices(a) else {
        if to_notion && n.kind == "status" {
            report.note(format!(
                "{label}: Airtable holds free text; a value that is not a status option ({}) is refused by Notion and logged",
                quoted(&in_notion)
            ));
        }
        return;
    };
    let missing_in_airtable: BTreeSet<String> =
        in_notion.difference(&in_airtable).cloned().collect();
    if to_airtable && !missing_in_airtable.is_empty() {
        report.note(format!(
            "{label}: options {} will be created in Airtable when first synced (typecast)",
            quoted(&missing_in_airtable)
        ));
    }
    let missing_in_notion: BTreeSet<String> = in_airtable.difference(&in_notion).cloned().collect();
    if !to_notion || missing_in_notion.is_empty() {
        return;
    }
    let (with_comma, creatable): (BTreeSet<String>, BTreeSet<String>) =
        missing_in_notion.into_iter().partition(|o| o.contains(','));
    if n.kind == "status" {
        let all: BTreeSet<String> = with_comma.union(&creatable).cloned().collect();
        report.problem(
            format!(
                "{label}: Airtable options {} do not exist in the Notion status property, and Notion cannot create status options through its API",
                quoted(&all)
            ),
            format!(
                "add them to \"{}\" in Notion (property → Edit property → Add an option), or rename them in Airtable to one of {}",
                n.name,
                quoted(&in_notion)
            ),
        );
        return;
    }
    if !with_comma.is_empty() {
        report.problem(
            format!(
                "{label}: Airtable options {} cannot exist in Notion (option names may not contain commas)",
                quoted(&with_comma)
            ),
            "rename them in Airtable without the comma",
        );
    }
    if !creatable.is_empty() {
        report.note(format!(
            "{label}: options {} will be created in Notion when first synced",
            quoted(&creatable)
        ));
    }
}

/// The fields the service writes itself, the match key and the trash action.
fn check_service_fields(
    config: &PairConfig,
    ds: &DataSource,
    table: &TableSchema,
    report: &mut Report,
) {
    let pair = &config.name;
    let mut expect = |name: &str, allowed: &[&str], role: &str, what_for: &str| {
        let add = format!(
            "add a {} field \"{name}\" to table \"{}\" ({what_for}), or set {role} in sync.toml to an existing one",
            allowed[0], table.name
        );
        match table.field(name) {
            None => report.problem(
                format!(
                    "pair \"{pair}\": Airtable field \"{name}\" ({role}) does not exist in table \"{}\"",
                    table.name
                ),
                add,
            ),
            Some(f) if !allowed.contains(&f.kind.as_str()) => report.problem(
                format!(
                    "pair \"{pair}\": Airtable field \"{name}\" ({role}) is a `{}` field; it must be one of {}",
                    f.kind,
                    allowed.join(", ")
                ),
                format!("change its type in Airtable to {}", allowed.join(" or ")),
            ),
            Some(_) => {}
        }
    };
    expect(
        &config.airtable_page_id_field,
        &LINK_TYPES,
        "page_id_field",
        "it holds each row's Notion page id, the link",
    );
    if let Some(name) = &config.airtable_last_synced_field {
        expect(
            name,
            &["dateTime", "date"],
            "last_synced_field",
            "the service writes the sync time",
        );
    }
    if let Some(name) = &config.airtable_notion_url_field {
        expect(
            name,
            &["url", "singleLineText", "multilineText"],
            "notion_url_field",
            "the service writes the page's URL",
        );
    }
    if let Some(name) = &config.notion_record_id_property {
        match ds.properties.get(name) {
            Some(p) if p.kind == "rich_text" => {}
            Some(p) => report.problem(
                format!(
                    "pair \"{pair}\": Notion property \"{name}\" (record_id_property) is `{}`; it must be rich_text",
                    p.kind
                ),
                "change its type in Notion to Text, or point record_id_property at a Text property",
            ),
            None => report.problem(
                format!(
                    "pair \"{pair}\": Notion property \"{name}\" (record_id_property) does not exist in the database"
                ),
                format!("add a Text property \"{name}\" in Notion, or remove record_id_property from sync.toml"),
            ),
        }
    }
    if let Some(key) = &config.options.match_key {
        if !ds.properties.contains_key(&key.notion) {
            report.problem(
                format!("pair \"{pair}\": match_key.notion \"{}\" does not exist in the Notion database", key.notion),
                "set match_key.notion in sync.toml to an existing property (usually the title)",
            );
        }
        if table.field(&key.airtable).is_none() {
            report.problem(
                format!("pair \"{pair}\": match_key.airtable \"{}\" does not exist in table \"{}\"", key.airtable, table.name),
                "set match_key.airtable in sync.toml to an existing field (usually the primary field)",
            );
        }
    }
    check_trash_action(config, table, report);
}

fn check_trash_action(config: &PairConfig, table: &TableSchema, report: &mut Report) {
    let NotionTrashAction::Set(set) = &config.options.on_notion_trash else {
        return;
    };
    for (name, value) in set {
        let Some(field) = table.field(name) else {
            report.problem(
                format!(
                    "pair \"{}\": on_notion_trash sets Airtable field \"{name}\", which does not exist in table \"{}\"",
                    config.name, table.name
                ),
                "change on_notion_trash in sync.toml, or add the field in Airtable",
            );
            continue;
        };
        if airtable_choices(field).is_some_and(|choices| !choices.contains(value)) {
            report.note(format!(
                "pair \"{}\": option \"{value}\" of \"{name}\" (on_notion_trash) will be created in Airtable the first time a page is trashed (typecast)",
                config.name
            ));
        }
    }
}

/// Read one page and one row: proves the token can read what it must.
async fn probe_reads(
    config: &PairConfig,
    ds: &DataSource,
    table: &TableSchema,
    notion: &NotionClient,
    airtable: &AirtableClient,
    report: &mut Report,
) {
    let pair = &config.name;
    let query = Query {
        page_size: 1,
        ..Query::default()
    };
    match notion.query_data_source(&ds.id, &query).await {
        Ok(_) => report.ok(format!(
            "pair \"{pair}\": the integration can read the Notion database"
        )),
        Err(e) => report.problem(
            format!("pair \"{pair}\": querying the Notion database failed: {e}"),
            read_fix(
                &e,
                "give the integration the Read content capability and share the database with it",
            ),
        ),
    }
    let params = ListParams {
        page_size: Some(1),
        ..ListParams::default()
    };
    match airtable
        .list_records(&config.airtable_base_id, &table.id, &params)
        .await
    {
        Ok(_) => report.ok(format!(
            "pair \"{pair}\": the token can read table \"{}\"",
            table.name
        )),
        Err(e) => report.problem(
            format!(
                "pair \"{pair}\": listing table \"{}\" failed: {e}",
                table.name
            ),
            read_fix(
                &e,
                "give the token data.records:read and access to the base",
            ),
        ),
    }
}

fn read_fix(e: &ApiError, permission_fix: &str) -> String {
    match e.status() {
        Some(401 | 403 | 404) => permission_fix.to_owned(),
        _ => "a temporary failure: run `check` again".to_owned(),
    }
}

/// What `serve` would refuse and the checks above missed (they should not).
fn guard_resolution(
    config: &PairConfig,
    ds: &DataSource,
    table: &TableSchema,
    users: &[User],
    report: &mut Report,
) {
    if let Err(problems) = pair::resolve(config, ds, table, users) {
        for p in problems {
            report.problem(
                format!("pair \"{}\": {p}", config.name),
                "correct sync.toml or the schema as the message says",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_number_pairing_names_every_type_it_can_sync_with() {
        let fix = compatible_types_fix("number", "Stars");
        for t in ["number", "currency", "percent", "rating", "duration"] {
            assert!(fix.contains(t), "{fix}");
        }
        let fix = compatible_types_fix("multi_select", "Tags");
        assert!(
            fix.contains("singleLineText") && fix.contains("multilineText"),
            "{fix}"
        );
        assert!(!fix.contains("richText"), "{fix}");
    }
}

/// The problems `check_schemas` finds for a pair with `fields` (the
/// `[[pair.field]]` tables) against these schemas: (what, fix) each.
#[cfg(test)]
fn schema_problems(ds: &DataSource, table: &TableSchema, fields: &str) -> Vec<(String, String)> {
    let text = format!(
        "[[pair]]\nname = \"p\"\n[pair.notion]\ndatabase_id = \"db1\"\n[pair.airtable]\n\
         base_id = \"app1\"\ntable = \"T\"\npage_id_field = \"Notion Page ID\"\n\
         [pair.options]\non_notion_trash = \"ignore\"\n{fields}"
    );
    let config = crate::config::SyncConfig::parse(&text)
        .unwrap()
        .pairs
        .remove(0);
    let mut report = Report::default();
    check_schemas(&config, ds, table, &mut report);
    report
        .findings
        .into_iter()
        .filter_map(|f| match f {
            Finding::Problem { what, fix } => Some((what, fix)),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
#[path = "check_computed_tests.rs"]
mod computed_tests;

#[cfg(test)]
#[path = "check_files_tests.rs"]
mod files_tests;

#[cfg(test)]
#[path = "check_status_group_tests.rs"]
mod status_group_tests;
