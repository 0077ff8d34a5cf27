//! The mapping file, `sync.toml`: one or more pairs of a Notion database and an
//! Airtable table, with the fields they share.
//!
//! Parsing happens in two steps: `toml` + serde read the raw shape (rejecting
//! unknown keys, reporting line and column), then [`validate`] turns it into
//! typed values and checks what serde cannot (duplicates, enum spellings with
//! the pair and field named, cross-field rules).

use std::{collections::BTreeMap, collections::HashSet, path::Path};

use serde::Deserialize;

use super::{
    ConfigError,
    budgets::{ApiBudgets, RawAirtableSection, validate_budgets},
    scope::{RawScope, ScopeConfig, validate_scope},
};

#[path = "mapping_review.rs"]
mod review;

/// Who may write a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Both,
    NotionToAirtable,
    AirtableToNotion,
}

/// Which side wins when both changed a field since the last sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConflictRule {
    Notion,
    Airtable,
    Latest,
}

/// What to do with the Airtable row when its Notion page is trashed or moved
/// out of the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotionTrashAction {
    /// Set these Airtable fields (default: `Status = "Archived"`).
    Set(BTreeMap<String, String>),
    Delete,
    Ignore,
}

/// What to do when an Airtable row is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AirtableDeleteAction {
    Ignore,
    Trash,
    Recreate,
}

/// The key used to match existing records on first contact (e.g. title ↔ Spec Name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchKey {
    pub notion: String,
    pub airtable: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FieldMapping {
    pub notion: String,
    pub airtable: String,
    pub direction: Direction,
    pub conflict: ConflictRule,
    /// `value = "group"`: a Notion `status` property's group ("To-do",
    /// "In progress", "Complete") rather than its option, one way into
    /// Airtable.
    pub status_group: bool,
}

/// What a `value = "group"` field goes by in plans, snapshots and the log:
/// parenthesised, like [`BODY_FIELD`], so that it is never taken for a
/// property and the status itself can be mapped beside it.
pub fn status_group_name(property: &str) -> String {
    format!("{property} (group)")
}

impl FieldMapping {
    /// The field's name in plans, snapshots and the sync log.
    pub fn key(&self) -> String {
        if self.status_group {
            status_group_name(&self.notion)
        } else {
            self.notion.clone()
        }
    }
}

/// The name the page's content goes by in plans, snapshots and the sync log
/// (parenthesised so that no property is taken for it; a property of that
/// very name cannot be mapped while `[pair.body]` is).
pub const BODY_FIELD: &str = "(page content)";

/// `[pair.body]`: the Notion page's content ↔ an Airtable long text field,
/// as Markdown.
#[derive(Debug, Clone, PartialEq)]
pub struct BodyMapping {
    pub airtable: String,
    pub direction: Direction,
    pub conflict: ConflictRule,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PairOptions {
    pub create_notion_pages: bool,
    pub on_notion_trash: NotionTrashAction,
    pub on_airtable_delete: AirtableDeleteAction,
    pub debounce_ms: u64,
    pub match_key: Option<MatchKey>,
    /// `review_deletes`: a delete or trash the policies above would make
    /// waits in the delete review queue for an operator instead.
    pub review_deletes: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PairConfig {
    pub name: String,
    /// A database id or a data source id; resolved at run time.
    pub notion_database_id: String,
    pub notion_record_id_property: Option<String>,
    pub airtable_base_id: String,
    /// A table name or a `tbl...` id.
    pub airtable_table: String,
    pub airtable_page_id_field: String,
    pub airtable_last_synced_field: Option<String>,
    /// Optional Airtable url field that receives the Notion page's URL.
    pub airtable_notion_url_field: Option<String>,
    pub options: PairOptions,
    pub fields: Vec<FieldMapping>,
    /// `[pair.scope]`: the records this pair syncs (all when absent).
    pub scope: Option<ScopeConfig>,
    /// `[pair.body]`: the page's content ↔ a long text field (none when absent).
    pub body: Option<BodyMapping>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SyncConfig {
    pub pairs: Vec<PairConfig>,
    /// Sync log entries older than this many days are pruned.
    pub log_retention_days: u32,
    /// How long finished jobs and webhook event ids are kept.
    pub retention: Retention,
    /// `[airtable.budgets]`: monthly API call budgets per base.
    pub api_budgets: ApiBudgets,
}

/// What `serve` prunes besides the sync log, in days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// `[jobs] retention_days`: done jobs, kept as history (dead jobs stay
    /// until an operator retries them).
    pub job_days: u32,
    /// `[webhook_inbox] retention_days`: received event ids, which make a
    /// redelivery a no-op.
    pub inbox_days: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            job_days: DEFAULT_JOB_RETENTION_DAYS,
            inbox_days: DEFAULT_INBOX_RETENTION_DAYS,
        }
    }
}

/// Default retention of the sync log.
pub const DEFAULT_LOG_RETENTION_DAYS: u32 = 90;
/// Default retention of done jobs: a week of history for operators.
pub const DEFAULT_JOB_RETENTION_DAYS: u32 = 7;
/// Default retention of the webhook inbox: longer than any vendor
/// redelivers (Notion retries an event for about 24 hours; Airtable keeps a
/// webhook's payloads for 7 days).
pub const DEFAULT_INBOX_RETENTION_DAYS: u32 = 8;
/// The shortest inbox retention accepted: Notion's retries span about a
/// day, and an event id forgotten before its last redelivery would run it
/// again.
pub const MIN_INBOX_RETENTION_DAYS: u32 = 2;

impl SyncConfig {
    /// Read and validate a mapping file; errors name the file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let file_error = |problem: String| ConfigError::File {
            path: path.display().to_string(),
            problem,
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            file_error(format!(
                "cannot read the mapping file ({e}); set SYNC_CONFIG or copy sync.example.toml"
            ))
        })?;
        Self::parse(&text).map_err(file_error)
    }

    /// Parse and validate mapping text. The error is the problem alone; the
    /// caller adds the file name.
    pub fn parse(text: &str) -> Result<Self, String> {
        let raw: RawFile = toml::from_str(text).map_err(|e| e.to_string().trim().to_owned())?;
        validate(raw)
    }

    pub fn pair(&self, name: &str) -> Option<&PairConfig> {
        self.pairs.iter().find(|p| p.name == name)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    pair: Vec<RawPair>,
    sync_log: Option<RawRetention>,
    jobs: Option<RawRetention>,
    webhook_inbox: Option<RawRetention>,
    airtable: Option<RawAirtableSection>,
}

/// `[sync_log]`, `[jobs]`, `[webhook_inbox]`: one key each.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRetention {
    retention_days: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPair {
    name: String,
    notion: RawNotion,
    airtable: RawAirtable,
    #[serde(default)]
    options: RawOptions,
    #[serde(default)]
    field: Vec<RawField>,
    scope: Option<RawScope>,
    body: Option<RawBody>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBody {
    airtable: String,
    direction: Option<String>,
    conflict: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNotion {
    database_id: String,
    record_id_property: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAirtable {
    base_id: String,
    table: String,
    page_id_field: String,
    last_synced_field: Option<String>,
    notion_url_field: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawOptions {
    #[serde(default)]
    create_notion_pages: bool,
    on_notion_trash: Option<RawTrashAction>,
    on_airtable_delete: Option<String>,
    debounce_ms: Option<u64>,
    match_key: Option<RawMatchKey>,
    /// Read as any TOML value, so that a wrong type is reported with the
    /// pair and key named (see `review::review_deletes`).
    review_deletes: Option<toml::Value>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawTrashAction {
    Word(String),
    Set { set: BTreeMap<String, String> },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMatchKey {
    notion: String,
    airtable: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawField {
    notion: String,
    airtable: String,
    direction: Option<String>,
    conflict: Option<String>,
    /// `"option"` (the default) or `"group"` for a status's group.
    value: Option<String>,
}

/// Default debounce: long enough to skip half-typed values, short enough to feel live.
const DEFAULT_DEBOUNCE_MS: u64 = 2000;

fn validate(raw: RawFile) -> Result<SyncConfig, String> {
    if raw.pair.is_empty() {
        return Err("no [[pair]] defined: at least one pair is needed".into());
    }
    let mut names = HashSet::new();
    let mut pairs = Vec::with_capacity(raw.pair.len());
    for (index, p) in raw.pair.into_iter().enumerate() {
        let pair = validate_pair(index, p)?;
        if !names.insert(pair.name.clone()) {
            return Err(format!("pair \"{}\" is defined twice", pair.name));
        }
        pairs.push(pair);
    }
    let shared = same_database_problems(&pairs);
    if !shared.is_empty() {
        return Err(shared.join("; "));
    }
    let days = |section: Option<RawRetention>, name: &str, default: u32, min: u32| {
        let days = section.map_or(default, |s| s.retention_days);
        if days < min {
            return Err(format!("[{name}] retention_days must be at least {min}"));
        }
        Ok(days)
    };
    let log_retention_days = days(raw.sync_log, "sync_log", DEFAULT_LOG_RETENTION_DAYS, 1)?;
    let retention = Retention {
        job_days: days(raw.jobs, "jobs", DEFAULT_JOB_RETENTION_DAYS, 1)?,
        inbox_days: days(
            raw.webhook_inbox,
            "webhook_inbox",
            DEFAULT_INBOX_RETENTION_DAYS,
            MIN_INBOX_RETENTION_DAYS,
        )
        .map_err(|e| {
            format!("{e} (Notion redelivers an event for about a day; a forgotten id runs again)")
        })?,
    };
    let bases: Vec<&str> = pairs.iter().map(|p| p.airtable_base_id.as_str()).collect();
    let api_budgets = validate_budgets(raw.airtable, &bases)?;
    Ok(SyncConfig {
        pairs,
        log_retention_days,
        retention,
        api_budgets,
    })
}

/// Pairs naming the same Notion database in the file (the same id, however
/// spelled) must be able to share its pages: see
/// [`shared_data_source_problems`]. Pairs that name it by different ids (a
/// database and its data source) are checked once resolved.
fn same_database_problems(pairs: &[PairConfig]) -> Vec<String> {
    let key = |p: &PairConfig| -> String {
        p.notion_database_id
            .chars()
            .filter(|c| *c != '-')
            .map(|c| c.to_ascii_lowercase())
            .collect()
    };
    let mut seen: Vec<String> = Vec::new();
    let mut problems = Vec::new();
    for pair in pairs {
        let id = key(pair);
        if seen.contains(&id) {
            continue;
        }
        seen.push(id.clone());
        let group: Vec<&PairConfig> = pairs.iter().filter(|p| key(p) == id).collect();
        problems.extend(shared_data_source_problems(&group));
    }
    problems
}

/// Several pairs may sync one Notion data source, each with its own Airtable
/// table: every event of the data source reaches each of them. They write the
/// same pages, so no two of them may write one Notion property (their tables
/// would overwrite each other's values on every change), nor share the
/// property that holds the Airtable row id. One line per problem; empty when
/// the pairs can share the data source (or there is one pair).
pub fn shared_data_source_problems(pairs: &[&PairConfig]) -> Vec<String> {
    let mut writers: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for pair in pairs {
        let written = pair
            .fields
            .iter()
            .filter(|f| f.direction != Direction::NotionToAirtable)
            .map(|f| f.notion.as_str())
            .chain(pair.notion_record_id_property.as_deref());
        for property in written {
            let names = writers.entry(property).or_default();
            if !names.contains(&pair.name.as_str()) {
                names.push(&pair.name);
            }
        }
    }
    writers
        .into_iter()
        .filter(|(_, names)| names.len() > 1)
        .map(|(property, names)| {
            format!(
                "pairs {} sync the same Notion database and all write its property \"{property}\" \
                 (as a mapped field or as record_id_property): each Airtable table would \
                 overwrite the others' values; let one pair write it and map it \
                 notion_to_airtable in the others, or use a property per pair",
                names
                    .iter()
                    .map(|n| format!("\"{n}\""))
                    .collect::<Vec<_>>()
                    .join(" and ")
            )
        })
        .collect()
}

fn validate_pair(index: usize, p: RawPair) -> Result<PairConfig, String> {
    let name = p.name.trim().to_owned();
    if !valid_pair_name(&name) {
        return Err(format!(
            "pair #{}: name \"{}\" must be non-empty and use only a-z, 0-9, '-' and '_'",
            index + 1,
            p.name
        ));
    }
    let at = |problem: String| format!("pair \"{name}\": {problem}");
    require(&p.notion.database_id, "[pair.notion] database_id").map_err(at)?;
    require(&p.airtable.table, "[pair.airtable] table").map_err(at)?;
    require(&p.airtable.page_id_field, "[pair.airtable] page_id_field").map_err(at)?;
    if !p.airtable.base_id.trim().starts_with("app") {
        return Err(at(format!(
            "[pair.airtable] base_id \"{}\" is not an Airtable base id (app...)",
            p.airtable.base_id
        )));
    }
    let fields = validate_fields(&p.field, &p.airtable).map_err(at)?;
    let options = validate_options(p.options).map_err(at)?;
    if options.create_notion_pages && p.notion.record_id_property.is_none() {
        return Err(at(
            "create_notion_pages needs [pair.notion] record_id_property: the Notion page keeps \
             the row's id there, which is what prevents duplicate pages on retry"
                .into(),
        ));
    }
    let body = p
        .body
        .map(|b| validate_body(&b, &fields, &p.airtable))
        .transpose()
        .map_err(&at)?;
    let scope = p.scope.map(validate_scope).transpose().map_err(&at)?;
    if scope
        .as_ref()
        .is_some_and(|s| s.on_leave == super::scope::OnLeave::Archive)
        && !matches!(options.on_notion_trash, NotionTrashAction::Set(_))
    {
        return Err(at(
            "[pair.scope] on_leave = \"archive\" sets the on_notion_trash values on the row: \
             give on_notion_trash = { set = { Field = \"value\" } }, or use on_leave = \"unlink\""
                .into(),
        ));
    }
    Ok(PairConfig {
        scope,
        name: name.clone(),
        notion_database_id: p.notion.database_id.trim().to_owned(),
        notion_record_id_property: p.notion.record_id_property,
        airtable_base_id: p.airtable.base_id.trim().to_owned(),
        airtable_table: p.airtable.table,
        airtable_page_id_field: p.airtable.page_id_field,
        airtable_last_synced_field: p.airtable.last_synced_field,
        airtable_notion_url_field: p.airtable.notion_url_field,
        options,
        fields,
        body,
    })
}

/// `[pair.body]`: a direction and conflict rule like a field's; its
/// Airtable field may be neither a mapped field nor one the service writes.
fn validate_body(
    b: &RawBody,
    fields: &[FieldMapping],
    airtable: &RawAirtable,
) -> Result<BodyMapping, String> {
    let as_field = RawField {
        notion: "page content".into(),
        airtable: b.airtable.clone(),
        direction: b.direction.clone(),
        conflict: b.conflict.clone(),
        value: None,
    };
    let f = validate_field(&as_field).map_err(|e| format!("[pair.body] {e}"))?;
    if fields.iter().any(|m| m.notion == BODY_FIELD) {
        return Err(format!(
            "the Notion property \"{BODY_FIELD}\" cannot be mapped while [pair.body] is: the \
             page content goes by that name in the sync log"
        ));
    }
    if fields.iter().any(|m| m.airtable == f.airtable) {
        return Err(format!(
            "[pair.body] airtable = \"{}\" is also mapped as a [[pair.field]]: one Airtable field \
             holds either a property or the page content",
            f.airtable
        ));
    }
    let reserved = [
        Some(airtable.page_id_field.as_str()),
        airtable.last_synced_field.as_deref(),
        airtable.notion_url_field.as_deref(),
    ];
    if reserved.contains(&Some(f.airtable.as_str())) {
        return Err(format!(
            "[pair.body] airtable = \"{}\" is written by the service itself \
             (page_id_field / last_synced_field / notion_url_field)",
            f.airtable
        ));
    }
    Ok(BodyMapping {
        airtable: f.airtable,
        direction: f.direction,
        conflict: f.conflict,
    })
}

fn valid_pair_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

fn require(value: &str, what: &str) -> Result<(), String> {
    if value.trim().is_empty() {
        Err(format!("{what} is missing or empty"))
    } else {
        Ok(())
    }
}

fn validate_fields(raw: &[RawField], airtable: &RawAirtable) -> Result<Vec<FieldMapping>, String> {
    if raw.is_empty() {
        return Err("no [[pair.field]] defined: map at least one field".into());
    }
    // Fields the service writes itself may not also be mapped.
    let reserved: Vec<&str> = [
        Some(airtable.page_id_field.as_str()),
        airtable.last_synced_field.as_deref(),
        airtable.notion_url_field.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect();
    let mut seen_notion = HashSet::new();
    let mut seen_airtable = HashSet::new();
    raw.iter()
        .map(|f| {
            let field = validate_field(f)?;
            if !seen_notion.insert(field.key()) {
                return Err(format!(
                    "Notion property \"{}\" is mapped twice",
                    field.key()
                ));
            }
            if !seen_airtable.insert(field.airtable.clone()) {
                return Err(format!(
                    "Airtable field \"{}\" is mapped twice",
                    field.airtable
                ));
            }
            if reserved.contains(&field.airtable.as_str()) {
                return Err(format!(
                    "Airtable field \"{}\" is written by the service itself \
                     (page_id_field / last_synced_field / notion_url_field) and cannot be mapped",
                    field.airtable
                ));
            }
            Ok(field)
        })
        .collect()
}

fn validate_field(f: &RawField) -> Result<FieldMapping, String> {
    let label = format!("field \"{}\" ↔ \"{}\"", f.notion, f.airtable);
    if f.notion.trim().is_empty() || f.airtable.trim().is_empty() {
        return Err(format!(
            "{label}: both `notion` and `airtable` names are required"
        ));
    }
    let status_group = match f.value.as_deref().unwrap_or("option") {
        "option" => false,
        "group" => true,
        other => {
            return Err(format!(
                "{label}: unknown value \"{other}\" (expected option, or group for a Notion status's group)"
            ));
        }
    };
    // A group follows from the status's option: it can only be read.
    let default_direction = if status_group {
        "notion_to_airtable"
    } else {
        "both"
    };
    let direction = match f.direction.as_deref().unwrap_or(default_direction) {
        "both" => Direction::Both,
        "notion_to_airtable" => Direction::NotionToAirtable,
        "airtable_to_notion" => Direction::AirtableToNotion,
        other => {
            return Err(format!(
                "{label}: unknown direction \"{other}\" (expected both, notion_to_airtable or airtable_to_notion)"
            ));
        }
    };
    let conflict = match f.conflict.as_deref().unwrap_or("notion") {
        "notion" => ConflictRule::Notion,
        "airtable" => ConflictRule::Airtable,
        "latest" => ConflictRule::Latest,
        other => {
            return Err(format!(
                "{label}: unknown conflict rule \"{other}\" (expected notion, airtable or latest)"
            ));
        }
    };
    if status_group && direction != Direction::NotionToAirtable {
        return Err(format!(
            "{label}: value = \"group\" maps a status's group, which follows from its option and \
             cannot be written to Notion: use direction = \"notion_to_airtable\""
        ));
    }
    Ok(FieldMapping {
        notion: f.notion.clone(),
        airtable: f.airtable.clone(),
        direction,
        conflict,
        status_group,
    })
}

fn validate_options(raw: RawOptions) -> Result<PairOptions, String> {
    let on_notion_trash = match raw.on_notion_trash {
        None => NotionTrashAction::Set(BTreeMap::from([("Status".into(), "Archived".into())])),
        Some(RawTrashAction::Set { set }) if set.is_empty() => {
            return Err("on_notion_trash: `set` needs at least one field".into());
        }
        Some(RawTrashAction::Set { set }) => NotionTrashAction::Set(set),
        Some(RawTrashAction::Word(w)) => match w.as_str() {
            "delete" => NotionTrashAction::Delete,
            "ignore" => NotionTrashAction::Ignore,
            other => {
                return Err(format!(
                    "on_notion_trash: unknown action \"{other}\" \
                     (expected \"delete\", \"ignore\" or {{ set = {{ Field = \"value\" }} }})"
                ));
            }
        },
    };
    let on_airtable_delete = match raw.on_airtable_delete.as_deref().unwrap_or("ignore") {
        "ignore" => AirtableDeleteAction::Ignore,
        "trash" => AirtableDeleteAction::Trash,
        "recreate" => AirtableDeleteAction::Recreate,
        other => {
            return Err(format!(
                "on_airtable_delete: unknown action \"{other}\" (expected ignore, trash or recreate)"
            ));
        }
    };
    let review_deletes =
        review::review_deletes(raw.review_deletes, &on_notion_trash, on_airtable_delete)?;
    Ok(PairOptions {
        review_deletes,
        create_notion_pages: raw.create_notion_pages,
        on_notion_trash,
        on_airtable_delete,
        debounce_ms: raw.debounce_ms.unwrap_or(DEFAULT_DEBOUNCE_MS),
        match_key: raw.match_key.map(|k| MatchKey {
            notion: k.notion,
            airtable: k.airtable,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pair on `database` with `fields` (`[[pair.field]]` bodies).
    fn pair(name: &str, database: &str, table: &str, extra: &str, fields: &[&str]) -> String {
        let fields: String = fields
            .iter()
            .map(|f| format!("[[pair.field]]\n{f}\n"))
            .collect();
        format!(
            "[[pair]]\nname = \"{name}\"\n[pair.notion]\ndatabase_id = \"{database}\"\n{extra}\n\
             [pair.airtable]\nbase_id = \"appX\"\ntable = \"{table}\"\npage_id_field = \"Page\"\n{fields}"
        )
    }

    #[test]
    fn two_pairs_may_share_a_database_when_only_one_writes_each_property() {
        let text = [
            pair(
                "specs",
                "db-1",
                "Specs",
                "",
                &["notion = \"Name\"\nairtable = \"Name\""],
            ),
            pair(
                "roadmap",
                "DB1",
                "Roadmap",
                "",
                &[
                    "notion = \"Name\"\nairtable = \"Title\"\ndirection = \"notion_to_airtable\"",
                    "notion = \"Quarter\"\nairtable = \"Quarter\"",
                ],
            ),
        ]
        .concat();
        let config = SyncConfig::parse(&text).unwrap();
        assert_eq!(config.pairs.len(), 2);
    }

    #[test]
    fn two_pairs_writing_one_property_of_a_shared_database_are_refused() {
        let text = [
            pair(
                "specs",
                "db-1",
                "Specs",
                "",
                &["notion = \"Name\"\nairtable = \"Name\""],
            ),
            pair(
                "roadmap",
                "db-1",
                "Roadmap",
                "",
                &["notion = \"Name\"\nairtable = \"Title\"\ndirection = \"airtable_to_notion\""],
            ),
        ]
        .concat();
        let err = SyncConfig::parse(&text).unwrap_err();
        assert!(
            err.contains("\"specs\" and \"roadmap\"") && err.contains("\"Name\""),
            "{err}"
        );
        // The same record id property is written by both.
        let record_id = "record_id_property = \"Row\"";
        let text = [
            pair(
                "a",
                "db-1",
                "A",
                record_id,
                &["notion = \"X\"\nairtable = \"X\""],
            ),
            pair(
                "b",
                "db-1",
                "B",
                record_id,
                &["notion = \"Y\"\nairtable = \"Y\""],
            ),
        ]
        .concat();
        let err = SyncConfig::parse(&text).unwrap_err();
        assert!(err.contains("\"Row\""), "{err}");
        // Different databases never conflict.
        let text = [
            pair(
                "a",
                "db-1",
                "A",
                record_id,
                &["notion = \"X\"\nairtable = \"X\""],
            ),
            pair(
                "b",
                "db-2",
                "B",
                record_id,
                &["notion = \"X\"\nairtable = \"X\""],
            ),
        ]
        .concat();
        assert!(SyncConfig::parse(&text).is_ok());
    }

    #[test]
    fn retentions_default_and_have_minimums() {
        let one = pair("a", "db-1", "A", "", &["notion = \"X\"\nairtable = \"X\""]);
        let config = SyncConfig::parse(&one).unwrap();
        assert_eq!(config.retention, Retention::default());
        assert_eq!(config.retention.inbox_days, 8);
        assert_eq!(config.retention.job_days, 7);
        let set =
            format!("[jobs]\nretention_days = 2\n[webhook_inbox]\nretention_days = 30\n{one}");
        let config = SyncConfig::parse(&set).unwrap();
        assert_eq!(
            config.retention,
            Retention {
                job_days: 2,
                inbox_days: 30
            }
        );
        let short = format!("[webhook_inbox]\nretention_days = 1\n{one}");
        let err = SyncConfig::parse(&short).unwrap_err();
        assert!(
            err.contains("[webhook_inbox] retention_days must be at least 2"),
            "{err}"
        );
        let zero = format!("[jobs]\nretention_days = 0\n{one}");
        assert!(SyncConfig::parse(&zero).unwrap_err().contains("[jobs]"));
    }
}
