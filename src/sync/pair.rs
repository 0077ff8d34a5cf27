//! A pair resolved against both live schemas: every mapped field with its
//! types on both sides and the [`Kind`] its values are compared as, plus the
//! ids the engine needs (data source, table) and the workspace users.
//!
//! Resolution is where a mapping that cannot work is refused, with one line
//! per problem: a missing property or field, types that cannot sync, a link
//! field that is not text.

use crate::{
    airtable::{AirtableClient, TableSchema},
    config::{ConflictRule, Direction, NotionTrashAction, PairConfig},
    notion::{DataSource, NotionClient, PropertySchema, User},
};

use super::convert::{Kind, Person};

/// One mapped field, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedField {
    /// Notion property name.
    pub notion: String,
    pub notion_type: String,
    /// Airtable field name.
    pub airtable: String,
    /// Airtable field id (webhook payloads key cells by id).
    pub airtable_id: String,
    pub airtable_type: String,
    pub kind: Kind,
    pub direction: Direction,
    pub conflict: ConflictRule,
    /// The Notion property as the live schema has it (options, ...): values
    /// are checked against it before they are written.
    pub notion_schema: PropertySchema,
}

/// A pair ready to sync.
#[derive(Debug, Clone)]
pub struct ResolvedPair {
    pub config: PairConfig,
    pub database_id: String,
    pub data_source_id: String,
    pub table_id: String,
    pub fields: Vec<ResolvedField>,
    /// Workspace users, for people ↔ text.
    pub users: Vec<Person>,
    /// An Airtable `lastModifiedTime` field watching every field, if the
    /// table has one: the best Airtable edit time for `latest` conflicts.
    pub airtable_modified_field: Option<String>,
}

impl ResolvedPair {
    pub fn name(&self) -> &str {
        &self.config.name
    }

    pub fn page_id_field(&self) -> &str {
        &self.config.airtable_page_id_field
    }
}

/// Read both schemas and the users, then resolve.
pub async fn load(
    config: &PairConfig,
    notion: &NotionClient,
    airtable: &AirtableClient,
) -> anyhow::Result<ResolvedPair> {
    let data_source = notion
        .resolve_data_source(&config.notion_database_id)
        .await
        .map_err(|e| anyhow::anyhow!("pair \"{}\": {e}", config.name))?;
    let tables = airtable.base_schema(&config.airtable_base_id).await?;
    let table = tables
        .iter()
        .find(|t| t.id == config.airtable_table || t.name == config.airtable_table)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "pair \"{}\": Airtable base {} has no table \"{}\"",
                config.name,
                config.airtable_base_id,
                config.airtable_table
            )
        })?;
    let users = notion.list_users().await?;
    resolve(config, &data_source, table, &users).map_err(|problems| {
        anyhow::anyhow!(
            "pair \"{}\" does not match the live schemas:\n  - {}",
            config.name,
            problems.join("\n  - ")
        )
    })
}

/// Resolve a pair against schemas already read. Errors: every problem found.
pub fn resolve(
    config: &PairConfig,
    data_source: &DataSource,
    table: &TableSchema,
    users: &[User],
) -> Result<ResolvedPair, Vec<String>> {
    let mut problems = Vec::new();
    let fields = resolve_fields(config, data_source, table, &mut problems);
    check_service_fields(config, data_source, table, &mut problems);
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(ResolvedPair {
        config: config.clone(),
        database_id: data_source
            .database_id()
            .unwrap_or(&config.notion_database_id)
            .to_owned(),
        data_source_id: data_source.id.clone(),
        table_id: table.id.clone(),
        fields,
        users: users.iter().filter(|u| !u.is_bot()).map(person).collect(),
        airtable_modified_field: table
            .fields
            .iter()
            .find(|f| f.kind == "lastModifiedTime" && watches_all_fields(f.options.as_ref()))
            .map(|f| f.name.clone()),
    })
}

fn person(u: &User) -> Person {
    Person {
        id: u.id.clone(),
        name: u.name.clone(),
        email: u.email().map(str::to_owned),
    }
}

fn watches_all_fields(options: Option<&serde_json::Value>) -> bool {
    options
        .and_then(|o| o["referencedFieldIds"].as_array())
        .is_none_or(|ids| ids.is_empty())
}

fn resolve_fields(
    config: &PairConfig,
    data_source: &DataSource,
    table: &TableSchema,
    problems: &mut Vec<String>,
) -> Vec<ResolvedField> {
    let mut fields = Vec::new();
    for m in &config.fields {
        let notion = data_source.properties.get(&m.notion);
        let airtable = table.field(&m.airtable);
        if notion.is_none() {
            problems.push(format!(
                "Notion property \"{}\" does not exist in the database (properties: {})",
                m.notion,
                data_source
                    .properties
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if airtable.is_none() {
            problems.push(format!(
                "Airtable field \"{}\" does not exist in table \"{}\"",
                m.airtable, table.name
            ));
        }
        let (Some(n), Some(a)) = (notion, airtable) else {
            continue;
        };
        match Kind::for_types(&n.kind, &a.kind) {
            Ok(kind) => fields.push(ResolvedField {
                notion: m.notion.clone(),
                notion_type: n.kind.clone(),
                airtable: m.airtable.clone(),
                airtable_id: a.id.clone(),
                airtable_type: a.kind.clone(),
                kind,
                direction: m.direction,
                conflict: m.conflict,
                notion_schema: n.clone(),
            }),
            Err(e) => problems.push(format!("field \"{}\" ↔ \"{}\": {e}", m.notion, m.airtable)),
        }
    }
    fields
}

/// The fields the service writes itself must exist with a usable type.
fn check_service_fields(
    config: &PairConfig,
    data_source: &DataSource,
    table: &TableSchema,
    problems: &mut Vec<String>,
) {
    let text = ["singleLineText", "multilineText"];
    let mut expect = |name: &str, allowed: &[&str], role: &str| match table.field(name) {
        None => problems.push(format!(
            "Airtable field \"{name}\" ({role}) does not exist in table \"{}\"",
            table.name
        )),
        Some(f) if !allowed.contains(&f.kind.as_str()) => problems.push(format!(
            "Airtable field \"{name}\" ({role}) is a `{}` field; it must be one of {}",
            f.kind,
            allowed.join(", ")
        )),
        Some(_) => {}
    };
    expect(&config.airtable_page_id_field, &text, "page_id_field");
    if let Some(name) = &config.airtable_last_synced_field {
        expect(name, &["dateTime", "date"], "last_synced_field");
    }
    if let Some(name) = &config.airtable_notion_url_field {
        expect(
            name,
            &["url", "singleLineText", "multilineText"],
            "notion_url_field",
        );
    }
    if let NotionTrashAction::Set(set) = &config.options.on_notion_trash {
        for name in set.keys() {
            if table.field(name).is_none() {
                problems.push(format!(
                    "on_notion_trash sets Airtable field \"{name}\", which does not exist"
                ));
            }
        }
    }
    if let Some(name) = &config.notion_record_id_property {
        match data_source.properties.get(name) {
            Some(p) if p.kind == "rich_text" => {}
            Some(p) => problems.push(format!(
                "Notion property \"{name}\" (record_id_property) is `{}`; it must be rich_text",
                p.kind
            )),
            None => problems.push(format!(
                "Notion property \"{name}\" (record_id_property) does not exist in the database"
            )),
        }
    }
}

#[cfg(test)]
#[path = "pair_tests.rs"]
mod tests;
