//! `init`: a commented `sync.toml` proposed from both live schemas, for
//! `check` to accept and a person to review before the first sync.
//!
//! Fields are matched by name (case, spaces, `_` and `-` ignored) when their
//! types can sync ([`Kind::for_types`]); every other field is listed as a
//! comment with the reason. The service's own fields (the link, the
//! last-synced time, the page URL, the record id in Notion) are taken when
//! present under their usual names. With `--create-missing` the Airtable
//! fields the mapping needs are shown, then created through the Meta API
//! after a confirmation (`schema.bases:write`). An existing file is never
//! overwritten without `--force`.

use std::{
    fmt::Write as _,
    io::{BufRead, Write as _},
    path::PathBuf,
};

use anyhow::Context as _;
use serde_json::json;

use super::clients;
use crate::{
    airtable::{AirtableClient, FieldSchema, TableSchema},
    config::Env,
    notion::{DataSource, PropertySchema, plain_text},
    sync::convert::{Kind, computed},
};

/// What `init` was asked for.
#[derive(Debug, Clone)]
pub struct InitArgs {
    pub notion_database: String,
    pub airtable_base: String,
    /// The table's name or id; needed when the base has several tables.
    pub airtable_table: Option<String>,
    pub output: PathBuf,
    pub force: bool,
    pub create_missing: bool,
    /// Create without asking (`--create-missing` only).
    pub yes: bool,
}

/// The Airtable field that holds each record's Notion page id, created by
/// `--create-missing` when the table has none.
const PAGE_ID_FIELD: &str = "Notion Page ID";

/// A Notion property and an Airtable field that can sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    pub notion: String,
    pub airtable: String,
    pub notion_type: String,
    pub airtable_type: String,
}

/// A field left out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unmatched {
    pub side: &'static str,
    pub name: String,
    pub reason: String,
}

/// The mapping `init` proposes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Proposal {
    pub title: Option<Matched>,
    pub fields: Vec<Matched>,
    pub unmatched: Vec<Unmatched>,
    pub page_id_field: Option<String>,
    pub last_synced_field: Option<String>,
    pub notion_url_field: Option<String>,
    pub record_id_property: Option<String>,
    /// Whether the table has a `Status` field for the default trash action.
    pub has_status: bool,
}

/// `notion-airtable-sync init`.
pub async fn init(env: &Env, args: &InitArgs) -> anyhow::Result<()> {
    if args.output.exists() && !args.force {
        anyhow::bail!(
            "{} exists: pass --force to overwrite it",
            args.output.display()
        );
    }
    let (notion, airtable) = clients(env)?;
    let data_source = notion
        .resolve_data_source(&args.notion_database)
        .await
        .map_err(|e| anyhow::anyhow!("Notion database {}: {e}", args.notion_database))?;
    let mut table = read_table(&airtable, args).await?;
    let mut proposal = propose(&data_source, &table);
    if args.create_missing && proposal.page_id_field.is_none() {
        create_page_id_field(&airtable, args, &table).await?;
        table = read_table(&airtable, args).await?;
        proposal = propose(&data_source, &table);
    }
    let text = render(args, &data_source, &table, &proposal);
    std::fs::write(&args.output, text)
        .with_context(|| format!("writing {}", args.output.display()))?;
    print_summary(args, &proposal);
    Ok(())
}

/// The table named by `--airtable-table`, or the base's only table.
async fn read_table(airtable: &AirtableClient, args: &InitArgs) -> anyhow::Result<TableSchema> {
    let tables = airtable
        .base_schema(&args.airtable_base)
        .await
        .with_context(|| format!("reading the schema of Airtable base {}", args.airtable_base))?;
    pick_table(tables, args.airtable_table.as_deref())
}

fn pick_table(tables: Vec<TableSchema>, wanted: Option<&str>) -> anyhow::Result<TableSchema> {
    let names: Vec<String> = tables.iter().map(|t| format!("\"{}\"", t.name)).collect();
    match wanted {
        Some(w) => tables
            .into_iter()
            .find(|t| t.id == w || t.name == w)
            .ok_or_else(|| {
                anyhow::anyhow!("no table \"{w}\" in the base; it has {}", names.join(", "))
            }),
        None if tables.len() == 1 => Ok(tables.into_iter().next().expect("one table")),
        None => anyhow::bail!(
            "the base has {} tables ({}): name one with --airtable-table",
            tables.len(),
            names.join(", ")
        ),
    }
}

/// Show what `--create-missing` would create, ask, then create it.
async fn create_page_id_field(
    airtable: &AirtableClient,
    args: &InitArgs,
    table: &TableSchema,
) -> anyhow::Result<()> {
    println!(
        "The mapping needs an Airtable field for each record's Notion page id. To create in \
         table \"{}\":\n  \"{PAGE_ID_FIELD}\" (singleLineText)",
        table.name
    );
    if !args.yes && !confirmed()? {
        anyhow::bail!("nothing created; run again with --yes, or create the field yourself");
    }
    let field = json!({
        "name": PAGE_ID_FIELD,
        "type": "singleLineText",
        "description": "The Notion page this row syncs with (written by notion-airtable-sync)",
    });
    airtable
        .create_field(&args.airtable_base, &table.id, &field)
        .await
        .context("creating the field (the token needs schema.bases:write)")?;
    println!("created \"{PAGE_ID_FIELD}\"");
    Ok(())
}

fn confirmed() -> anyhow::Result<bool> {
    print!("Create it? [y/N] ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

/// A name as people mean it: case, spaces, `_` and `-` ignored.
fn normalized(name: &str) -> String {
    name.chars()
        .filter(|c| !c.is_whitespace() && *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

/// The mapping both schemas allow.
pub fn propose(data_source: &DataSource, table: &TableSchema) -> Proposal {
    let mut proposal = Proposal {
        page_id_field: service_field(table, &["notionpageid", "notionid"], &TEXT),
        last_synced_field: service_field(table, &["lastsynced", "lastsync"], &["dateTime", "date"]),
        notion_url_field: service_field(table, &["notionurl", "notionlink"], &["url"]),
        record_id_property: data_source
            .properties
            .values()
            .find(|p| p.kind == "rich_text" && normalized(&p.name) == "airtablerecordid")
            .map(|p| p.name.clone()),
        has_status: table.field("Status").is_some(),
        ..Proposal::default()
    };
    let taken: Vec<&str> = [
        &proposal.page_id_field,
        &proposal.last_synced_field,
        &proposal.notion_url_field,
    ]
    .into_iter()
    .flatten()
    .map(String::as_str)
    .collect();
    let record_id = proposal.record_id_property.clone();
    let fields: Vec<&FieldSchema> = table
        .fields
        .iter()
        .filter(|f| !taken.contains(&f.name.as_str()))
        .collect();
    let mut used: Vec<String> = Vec::new();
    // The title first: it may take the primary field, which no other
    // property then claims.
    let mut properties: Vec<&PropertySchema> = data_source.properties.values().collect();
    properties.sort_by_key(|p| p.kind != "title");
    for property in properties {
        let fields: Vec<&FieldSchema> = fields
            .iter()
            .copied()
            .filter(|f| !used.contains(&f.name))
            .collect();
        if record_id.as_deref() == Some(property.name.as_str()) {
            continue;
        }
        let matched = match_property(property, &fields)
            .or_else(|why| title_to_primary(property, table, &fields).ok_or(why));
        match matched {
            Ok(m) => {
                used.push(m.airtable.clone());
                if property.kind == "title" {
                    proposal.title = Some(m);
                } else {
                    proposal.fields.push(m);
                }
            }
            Err(reason) => proposal.unmatched.push(Unmatched {
                side: "Notion",
                name: property.name.clone(),
                reason,
            }),
        }
    }
    // A field whose name a Notion property carries was reported with it.
    let named: Vec<String> = data_source
        .properties
        .values()
        .map(|p| normalized(&p.name))
        .collect();
    let left = |f: &&&FieldSchema| !used.contains(&f.name) && !named.contains(&normalized(&f.name));
    for field in fields.iter().filter(left) {
        proposal.unmatched.push(Unmatched {
            side: "Airtable",
            name: field.name.clone(),
            reason: "no Notion property of that name".into(),
        });
    }
    proposal
}

const TEXT: [&str; 2] = ["singleLineText", "multilineText"];

fn service_field(table: &TableSchema, names: &[&str], types: &[&str]) -> Option<String> {
    table
        .fields
        .iter()
        .find(|f| names.contains(&normalized(&f.name).as_str()) && types.contains(&f.kind.as_str()))
        .map(|f| f.name.clone())
}

/// The Airtable field of the same name, if the two types can sync.
fn match_property(property: &PropertySchema, fields: &[&FieldSchema]) -> Result<Matched, String> {
    let key = normalized(&property.name);
    let Some(field) = fields.iter().find(|f| normalized(&f.name) == key) else {
        return Err("no Airtable field of that name".into());
    };
    Kind::for_types(&property.kind, &field.kind)
        .map(|_| Matched {
            notion: property.name.clone(),
            airtable: field.name.clone(),
            notion_type: property.kind.clone(),
            airtable_type: field.kind.clone(),
        })
        .map_err(|why| format!("the Airtable field of that name cannot pair: {why}"))
}

/// Notion's title and Airtable's primary field name the record on each side:
/// paired when no field carries the title's name and their types can sync.
fn title_to_primary(
    property: &PropertySchema,
    table: &TableSchema,
    fields: &[&FieldSchema],
) -> Option<Matched> {
    if property.kind != "title" {
        return None;
    }
    let primary = fields.iter().find(|f| f.id == table.primary_field_id)?;
    Kind::for_types(&property.kind, &primary.kind)
        .ok()
        .map(|_| Matched {
            notion: property.name.clone(),
            airtable: primary.name.clone(),
            notion_type: property.kind.clone(),
            airtable_type: primary.kind.clone(),
        })
}

/// The file: every choice commented, the unmatched fields listed.
pub fn render(
    args: &InitArgs,
    data_source: &DataSource,
    table: &TableSchema,
    proposal: &Proposal,
) -> String {
    let mut out = String::new();
    let database = plain_text(&data_source.title);
    let _ = writeln!(
        out,
        "# sync.toml written by `notion-airtable-sync init` from the live schemas of\n\
         # Notion database \"{database}\" and Airtable table \"{}\". Review it, then run\n\
         # `notion-airtable-sync check` and `notion-airtable-sync reconcile --dry-run`.\n",
        table.name
    );
    out.push_str("[[pair]]\nname = \"main\"\n\n[pair.notion]\n");
    let _ = writeln!(out, "database_id = {}", quote(&args.notion_database));
    match &proposal.record_id_property {
        Some(p) => {
            let _ = writeln!(
                out,
                "record_id_property = {}   # lets Airtable rows create Notion pages safely",
                quote(p)
            );
        }
        None => out.push_str(
            "# record_id_property = \"Airtable Record ID\"   # add a text property to let rows create pages\n",
        ),
    }
    out.push_str("\n[pair.airtable]\n");
    let _ = writeln!(out, "base_id = {}", quote(&args.airtable_base));
    let _ = writeln!(out, "table = {}", quote(&table.name));
    render_service_fields(&mut out, proposal);
    render_options(&mut out, proposal);
    render_fields(&mut out, proposal);
    out
}

fn render_service_fields(out: &mut String, proposal: &Proposal) {
    match &proposal.page_id_field {
        Some(f) => {
            let _ = writeln!(
                out,
                "page_id_field = {}   # the link to the page; hide it in Airtable",
                quote(f)
            );
        }
        None => {
            let _ = writeln!(
                out,
                "page_id_field = {}   # MISSING: add a single line text field of this name (or run init --create-missing)",
                quote(PAGE_ID_FIELD)
            );
        }
    }
    let optional = [
        (
            "last_synced_field",
            &proposal.last_synced_field,
            "\"Last Synced\"   # a date-time field the service stamps",
        ),
        (
            "notion_url_field",
            &proposal.notion_url_field,
            "\"Notion URL\"   # a URL field that receives the page's URL",
        ),
    ];
    for (key, found, hint) in optional {
        match found {
            Some(f) => {
                let _ = writeln!(out, "{key} = {}", quote(f));
            }
            None => {
                let _ = writeln!(out, "# {key} = {hint}");
            }
        }
    }
}

fn render_options(out: &mut String, proposal: &Proposal) {
    out.push_str("\n[pair.options]\ncreate_notion_pages = false   # Airtable rows without a page create one (needs record_id_property)\n");
    if proposal.has_status {
        out.push_str("on_notion_trash = { set = { Status = \"Archived\" } }   # or \"delete\" or \"ignore\"\n");
    } else {
        out.push_str("on_notion_trash = \"ignore\"   # the table has no Status field to mark archived rows\n");
    }
    out.push_str("on_airtable_delete = \"ignore\"   # or \"trash\" or \"recreate\"\n");
    out.push_str("debounce_ms = 2000\n");
    if let Some(title) = &proposal.title {
        let _ = writeln!(
            out,
            "match_key = {{ notion = {}, airtable = {} }}   # first contact: records with equal names are linked",
            quote(&title.notion),
            quote(&title.airtable)
        );
    }
}

fn render_fields(out: &mut String, proposal: &Proposal) {
    let all = proposal.title.iter().chain(&proposal.fields);
    for m in all {
        let _ = write!(
            out,
            "\n[[pair.field]]   # Notion `{}` <-> Airtable `{}`\nnotion = {}\nairtable = {}\n",
            m.notion_type,
            m.airtable_type,
            quote(&m.notion),
            quote(&m.airtable)
        );
        // A computed side cannot be written: its one direction is the only valid one.
        let _ = match computed::one_way_direction(&m.notion_type, &m.airtable_type) {
            Some(direction) => writeln!(
                out,
                "direction = \"{direction}\"   # computed by one tool: it syncs one way only"
            ),
            None => writeln!(
                out,
                "direction = \"both\"   # or \"notion_to_airtable\" / \"airtable_to_notion\" for a field one tool owns\n\
                 conflict = \"latest\"  # or \"notion\" / \"airtable\": who wins when both changed"
            ),
        };
    }
    if proposal.unmatched.is_empty() {
        return;
    }
    out.push_str("\n# Not mapped:\n");
    for u in &proposal.unmatched {
        let _ = writeln!(out, "#   {} \"{}\": {}", u.side, u.name, u.reason);
    }
}

/// A TOML basic string.
fn quote(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

fn print_summary(args: &InitArgs, proposal: &Proposal) {
    let mapped = proposal.fields.len() + usize::from(proposal.title.is_some());
    println!(
        "wrote {}: {mapped} field(s) mapped, {} left out (listed in the file)",
        args.output.display(),
        proposal.unmatched.len()
    );
    if proposal.page_id_field.is_none() {
        println!(
            "the table has no field for the Notion page id: add \"{PAGE_ID_FIELD}\" (single line text) or run init --create-missing"
        );
    }
    println!("next: notion-airtable-sync check");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_whatever_their_case_and_spacing() {
        assert_eq!(normalized("Ship Date"), normalized("ship_date"));
        assert_eq!(normalized("Notion Page-ID"), "notionpageid");
        assert_ne!(normalized("Ship Date"), normalized("Ship Dates"));
    }

    fn schemas() -> (DataSource, TableSchema) {
        let data_source = serde_json::from_value(json!({
            "id": "ds1",
            "properties": {
                "Name": {"id": "title", "name": "Name", "type": "title", "title": {}},
                "Ship Date": {"id": "a", "name": "Ship Date", "type": "date", "date": {}},
                "Mockup": {"id": "b", "name": "Mockup", "type": "rich_text", "rich_text": {}},
                "Budget": {"id": "c", "name": "Budget", "type": "number", "number": {}},
            }
        }))
        .unwrap();
        let table = serde_json::from_value(json!({
            "id": "tbl1",
            "name": "Tracker",
            "primaryFieldId": "f1",
            "fields": [
                {"id": "f1", "name": "Title", "type": "singleLineText"},
                {"id": "f2", "name": "ship_date", "type": "date"},
                {"id": "f3", "name": "Mockup", "type": "multipleAttachments"},
                {"id": "f4", "name": "Notes", "type": "multilineText"},
                {"id": "f5", "name": "Notion page-id", "type": "singleLineText"},
            ]
        }))
        .unwrap();
        (data_source, table)
    }

    #[test]
    fn fields_pair_by_name_and_type_and_the_rest_say_why_not() {
        let (data_source, table) = schemas();
        let proposal = propose(&data_source, &table);
        let title = proposal.title.as_ref().unwrap();
        assert_eq!(
            (title.notion.as_str(), title.airtable.as_str()),
            ("Name", "Title")
        );
        let pairs: Vec<_> = proposal
            .fields
            .iter()
            .map(|m| (m.notion.as_str(), m.airtable.as_str()))
            .collect();
        assert_eq!(pairs, [("Ship Date", "ship_date")]);
        assert_eq!(proposal.page_id_field.as_deref(), Some("Notion page-id"));
        assert!(!proposal.has_status);
        let why = |name: &str| {
            proposal
                .unmatched
                .iter()
                .find(|u| u.name == name)
                .map(|u| u.reason.clone())
                .unwrap_or_default()
        };
        assert!(
            why("Mockup").contains("`multipleAttachments`"),
            "{proposal:#?}"
        );
        assert_eq!(why("Budget"), "no Airtable field of that name");
        assert_eq!(why("Notes"), "no Notion property of that name");
        assert_eq!(proposal.unmatched.len(), 3, "{proposal:#?}");
    }

    #[test]
    fn the_new_plain_types_are_proposed_and_bad_pairs_say_why() {
        let data_source: DataSource = serde_json::from_value(json!({
            "id": "ds1",
            "properties": {
                "Name": {"id": "title", "name": "Name", "type": "title", "title": {}},
                "Tags": {"id": "a", "name": "Tags", "type": "multi_select", "multi_select": {}},
                "Stars": {"id": "b", "name": "Stars", "type": "number", "number": {}},
                "Time": {"id": "c", "name": "Time", "type": "number", "number": {}},
                "Done": {"id": "d", "name": "Done", "type": "checkbox", "checkbox": {}},
            }
        }))
        .unwrap();
        let table: TableSchema = serde_json::from_value(json!({
            "id": "tbl1", "name": "Tracker", "primaryFieldId": "f1",
            "fields": [
                {"id": "f1", "name": "Title", "type": "singleLineText"},
                {"id": "f2", "name": "Tags", "type": "multilineText"},
                {"id": "f3", "name": "Stars", "type": "rating", "options": {"max": 5}},
                {"id": "f4", "name": "Time", "type": "duration"},
                {"id": "f5", "name": "Done", "type": "rating"},
            ]
        }))
        .unwrap();
        let proposal = propose(&data_source, &table);
        let pairs: Vec<_> = proposal.fields.iter().map(|m| m.notion.as_str()).collect();
        assert_eq!(pairs, ["Stars", "Tags", "Time"], "{proposal:#?}");
        let done = proposal
            .unmatched
            .iter()
            .find(|u| u.name == "Done")
            .unwrap();
        assert!(done.reason.contains("Notion `number`"), "{proposal:#?}");
    }

    #[test]
    fn the_file_is_a_mapping_the_service_reads() {
        let (data_source, table) = schemas();
        let proposal = propose(&data_source, &table);
        let args = InitArgs {
            notion_database: "ds1".into(),
            airtable_base: "appX".into(),
            airtable_table: None,
            output: PathBuf::from("sync.toml"),
            force: false,
            create_missing: false,
            yes: false,
        };
        let text = render(&args, &data_source, &table, &proposal);
        let config =
            crate::config::SyncConfig::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let pair = &config.pairs[0];
        assert_eq!(pair.fields.len(), 2, "{text}");
        assert_eq!(pair.airtable_page_id_field, "Notion page-id");
        assert!(
            text.contains("#   Airtable \"Notes\": no Notion property of that name"),
            "{text}"
        );
    }

    #[test]
    fn any_name_reads_back_as_itself() {
        for name in [
            "Spec \"A\"",
            "It's",
            "back\\slash",
            "two\nlines",
            "Ship Date",
        ] {
            let line = format!("k = {}", quote(name));
            let read: toml::Table = toml::from_str(&line).unwrap();
            assert_eq!(read["k"].as_str(), Some(name), "{line}");
        }
    }
}

#[cfg(test)]
#[path = "init_computed_tests.rs"]
mod computed_tests;
