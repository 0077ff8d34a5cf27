//! A pair resolved against both live schemas: every mapped field with its
//! types on both sides and the [`Kind`] its values are compared as, plus the
//! ids the engine needs (data source, table) and the workspace users.
//!
//! Resolution is where a mapping that cannot work is refused, with one line
//! per problem: a missing property or field, types that cannot sync, a link
//! field that is not text.
//!
//! The mapping's names are resolved once, at start, to ids: Airtable field ids
//! and Notion property ids, which survive renames. Everything sent to or read
//! from the APIs is keyed by those ids ([`Wire`]); inside the service the
//! mapping's own names stay the keys (snapshots, plans, the log). While the
//! service runs, [`ResolvedPair::refresh`] re-reads both schemas by id: a
//! renamed field is followed, and a mapped field that was deleted or retyped
//! beyond what its kind can sync is *stopped* (nothing is read from or written
//! to it, its snapshot is kept) until the schema is fixed.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use crate::{
    airtable::{FieldSchema, Fields, Record, TableSchema},
    config::{ConflictRule, Direction, NotionTrashAction, PairConfig},
    notion::{DataSource, Page, PropertySchema, User},
};

use super::convert::{Kind, Person, computed};

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
    /// The Airtable field's options as the live schema has them (a
    /// rating's `max`, a duration's format): values are checked against
    /// them before they are written.
    pub airtable_options: Option<serde_json::Value>,
    /// A relation field's target pair (by name), set once every pair of the
    /// mapping is resolved ([`super::relation_target::link_targets`]).
    pub relation_target: Option<String>,
}

/// Why a mapped field stopped syncing: which side and what happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stopped {
    /// `"notion"` or `"airtable"`: the side whose schema changed.
    pub side: &'static str,
    pub message: String,
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
    /// The ids behind the mapping's names, and the fields stopped by drift.
    pub wire: Wire,
    /// `[pair.scope]` resolved (`None`: every record syncs).
    pub scope: Option<super::scope::ResolvedScope>,
}

/// How the mapping's names meet the APIs: ids both ways, the live Airtable
/// names (formulas can only name fields), the stopped fields and the people
/// seen on pages. A default `Wire` knows no id and passes names through.
#[derive(Debug, Clone, Default)]
pub struct Wire {
    /// Airtable: the mapping's field name → field id, for every field the
    /// service reads or writes (mapped, page id, last synced, URL, archive
    /// values, match key, last-modified time).
    airtable_ids: BTreeMap<String, String>,
    /// Airtable: the mapping's field name → the field's current name.
    airtable_live: BTreeMap<String, String>,
    /// Notion: the mapping's property name → property id (mapped fields,
    /// record id property, match key).
    notion_ids: BTreeMap<String, String>,
    /// Notion: the mapping's property name → the property's current name.
    notion_live: BTreeMap<String, String>,
    /// Mapped fields stopped by schema drift, by the mapping's Notion name.
    pub stopped: BTreeMap<String, Stopped>,
    /// People seen on pages and listed users: shared by every refresh of
    /// the pair, so names learnt from pages are never forgotten.
    pub people: Arc<PeopleSeen>,
    /// `GET /v1/users` answered (false: the token lacks the capability, or
    /// no people field is mapped, so people are matched from pages).
    pub users_listed: bool,
    /// What people call the two sides: the data source's title and the
    /// table's name, as last read (the status page names pairs by them).
    pub names: SideNames,
}

/// The live names of a pair's data source and table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SideNames {
    pub notion: String,
    pub airtable: String,
}

impl SideNames {
    fn of(data_source: &DataSource, table: &TableSchema) -> Self {
        SideNames {
            notion: data_source.title_text(),
            airtable: table.name.clone(),
        }
    }
}

/// People met on pages (id, and name or email when the page carries them),
/// plus whether a name read from Airtable matched nobody.
#[derive(Debug, Default)]
pub struct PeopleSeen {
    inner: Mutex<PeopleState>,
}

#[derive(Debug, Default)]
struct PeopleState {
    seen: BTreeMap<String, Person>,
    unmatched: bool,
}

impl ResolvedPair {
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// The mapping's name of the field that holds the page's title, if the
    /// title is mapped: its snapshot value names the record for people.
    pub fn title_field(&self) -> Option<&str> {
        self.fields
            .iter()
            .find(|f| f.notion_type == "title")
            .map(|f| f.notion.as_str())
    }

    pub fn page_id_field(&self) -> &str {
        &self.config.airtable_page_id_field
    }

    /// The page-id field's current Airtable name, for formulas (which can
    /// only name fields; a rename while serving is followed).
    pub fn page_id_field_live(&self) -> &str {
        self.wire.live_name(self.page_id_field())
    }

    /// The mapped fields that sync now (not stopped by schema drift).
    pub fn live_fields(&self) -> impl Iterator<Item = &ResolvedField> {
        self.fields
            .iter()
            .filter(|f| !self.wire.stopped.contains_key(&f.notion))
    }

    /// Whether a people property is mapped (only then are users listed).
    pub fn maps_people(&self) -> bool {
        self.fields.iter().any(|f| f.kind.is_people())
    }
}

impl Wire {
    /// The current name of an Airtable field named in the mapping (for
    /// formulas, which name fields).
    pub fn live_name<'a>(&'a self, name: &'a str) -> &'a str {
        self.airtable_live.get(name).map_or(name, String::as_str)
    }

    /// The id of an Airtable field named in the mapping (the name itself
    /// when unknown: Airtable accepts names too).
    pub fn airtable_key<'a>(&'a self, name: &'a str) -> &'a str {
        self.airtable_ids.get(name).map_or(name, String::as_str)
    }

    /// The id of a Notion property named in the mapping.
    pub fn notion_key<'a>(&'a self, name: &'a str) -> &'a str {
        self.notion_ids.get(name).map_or(name, String::as_str)
    }

    /// Every Airtable field id the service reads, for `fields[]`: a read
    /// naming a field that was deleted fails (`UNKNOWN_FIELD_NAME`) instead of
    /// returning it as empty.
    pub fn airtable_read_ids(&self, fields: &[ResolvedField]) -> Vec<String> {
        let stopped = self.stopped_airtable_names(fields);
        self.airtable_ids
            .iter()
            .filter(|(name, _)| !stopped.contains(name.as_str()))
            .map(|(_, id)| id.clone())
            .collect()
    }

    fn stopped_airtable_names<'a>(&self, fields: &'a [ResolvedField]) -> BTreeSet<&'a str> {
        fields
            .iter()
            .filter(|f| self.stopped.contains_key(&f.notion))
            .map(|f| f.airtable.as_str())
            .collect()
    }

    /// A row read by field id → its cells by the mapping's names. Cells of
    /// fields the service does not know, or that are stopped, are dropped.
    pub fn airtable_in(&self, fields: &[ResolvedField], mut record: Record) -> Record {
        if self.airtable_ids.is_empty() {
            return record;
        }
        let stopped = self.stopped_airtable_names(fields);
        let by_id: BTreeMap<&str, &str> = self
            .airtable_ids
            .iter()
            .filter(|(name, _)| !stopped.contains(name.as_str()))
            .map(|(name, id)| (id.as_str(), name.as_str()))
            .collect();
        record.fields = std::mem::take(&mut record.fields)
            .into_iter()
            .filter_map(|(id, v)| Some(((*by_id.get(id.as_str())?).to_owned(), v)))
            .collect();
        record
    }

    /// Cells by the mapping's names → cells by field id. A stopped field is
    /// never written (not even an empty value).
    pub fn airtable_out(&self, fields: &[ResolvedField], cells: &Fields) -> Fields {
        let stopped = self.stopped_airtable_names(fields);
        cells
            .iter()
            .filter(|(name, _)| !stopped.contains(name.as_str()))
            .map(|(name, v)| (self.airtable_key(name).to_owned(), v.clone()))
            .collect()
    }

    /// A page as read → its properties by the mapping's names, found by
    /// property id (so a renamed property is still found). A stopped field's
    /// property is dropped, so the plan leaves it alone; a property the
    /// mapping does not know keeps its name unless that name is now one the
    /// mapping uses for another property.
    pub fn notion_in(&self, fields: &[ResolvedField], mut page: Page) -> Page {
        if fields.iter().any(|f| f.kind.is_people()) {
            self.people.learn(&page);
        }
        if !self.notion_ids.is_empty() {
            self.translate(&mut page);
        }
        // After the names are the mapping's, so that the group's pseudo
        // property (which carries the status's id) is not renamed too.
        let live = fields
            .iter()
            .filter(|f| !self.stopped.contains_key(&f.notion));
        super::status_group::derive(&mut page, live);
        page
    }

    /// The page's properties under the mapping's names (found by id).
    fn translate(&self, page: &mut Page) {
        let by_id: BTreeMap<&str, &str> = self
            .notion_ids
            .iter()
            .filter(|(name, _)| !self.stopped.contains_key(name.as_str()))
            .map(|(name, id)| (id.as_str(), name.as_str()))
            .collect();
        page.properties = std::mem::take(&mut page.properties)
            .into_iter()
            .filter_map(|(name, p)| match by_id.get(p.id.as_str()) {
                Some(mapped) => Some(((*mapped).to_owned(), p)),
                None if self.notion_ids.contains_key(&name) => None,
                None => Some((name, p)),
            })
            .collect();
    }

    /// The mapping name among `keys` whose property a Notion error message
    /// names, by id (the key it was sent under) or by its current name.
    pub fn notion_named_in<'a>(
        &self,
        message: &str,
        keys: impl Iterator<Item = &'a String>,
    ) -> Option<String> {
        let names = |a: &str| {
            [
                format!("properties.{a}."),
                format!("'{a}'"),
                format!("\"{a}\""),
                format!("`{a}`"),
                format!("{a} is "),
            ]
            .iter()
            .any(|form| message.contains(form.as_str()))
        };
        keys.filter(|k| {
            let live = self.notion_live.get(k.as_str()).map(String::as_str);
            [Some(self.notion_key(k)), live]
                .into_iter()
                .flatten()
                .any(names)
        })
        .max_by_key(|k| k.len())
        .cloned()
    }

    /// Properties by the mapping's names → by property id; a stopped
    /// field's property is never written.
    pub fn notion_out(&self, props: &Fields) -> Fields {
        props
            .iter()
            .filter(|(name, _)| !self.stopped.contains_key(name.as_str()))
            .map(|(name, v)| (self.notion_key(name).to_owned(), v.clone()))
            .collect()
    }
}

impl PeopleSeen {
    fn state(&self) -> std::sync::MutexGuard<'_, PeopleState> {
        // Only plain inserts happen under this lock: a panic cannot leave
        // the map half-written.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Remember the people a page's people properties carry.
    fn learn(&self, page: &Page) {
        let people = page
            .properties
            .values()
            .filter(|p| p.kind() == "people")
            .flat_map(|p| p.raw["people"].as_array().cloned().unwrap_or_default());
        let mut state = self.state();
        for user in people {
            let Ok(user) = serde_json::from_value::<User>(user) else {
                continue;
            };
            if user.is_bot() {
                continue;
            }
            let known = state.seen.get(&user.id);
            // A later sighting with a name or email adds to what is known.
            if known.is_none_or(|k| k.name.is_none() && user.name.is_some()) {
                state.seen.insert(user.id.clone(), person(&user));
            }
        }
    }

    /// Everyone seen so far.
    pub fn seen(&self) -> Vec<Person> {
        self.state().seen.values().cloned().collect()
    }

    /// Note that a name matched no user (a refresh of the list is due).
    pub fn mark_unmatched(&self) {
        self.state().unmatched = true;
    }

    /// Whether a name matched nobody since the last call (and reset).
    pub fn take_unmatched(&self) -> bool {
        std::mem::take(&mut self.state().unmatched)
    }
}

/// What the Notion token lacks for `GET /v1/users` (shown once, in `check`,
/// the log and as a pair issue).
pub const NO_USER_CAPABILITY: &str = "the Notion integration cannot list the workspace's users \
(403: it lacks the \"Read user information\" capability): people are matched by what pages carry \
(id, and name or email when shown), so a name never seen on a page is not written to Notion";

/// Resolve a pair against schemas already read. Errors: every problem found.
pub fn resolve(
    config: &PairConfig,
    data_source: &DataSource,
    table: &TableSchema,
    users: &[User],
) -> Result<ResolvedPair, Vec<String>> {
    let mut problems = Vec::new();
    let mut fields = resolve_fields(config, data_source, table, &mut problems);
    if let Some(body) = &config.body {
        match super::body::resolve(body, table) {
            Ok(field) => fields.push(field),
            Err(problem) => problems.push(problem),
        }
    }
    check_service_fields(config, data_source, table, &mut problems);
    let scope = config.scope.as_ref().and_then(|s| {
        super::scope::resolve_scope(s, data_source, table)
            .map_err(|p| problems.extend(p))
            .ok()
    });
    if !problems.is_empty() {
        return Err(problems);
    }
    let modified = modified_field(table);
    let mut wire = Wire {
        users_listed: !users.is_empty(),
        names: SideNames::of(data_source, table),
        ..Wire::default()
    };
    for name in airtable_names(config, &fields, modified.map(|f| f.name.as_str())) {
        if let Some(f) = table.field(&name) {
            wire.airtable_live.insert(name.clone(), f.name.clone());
            wire.airtable_ids.insert(name, f.id.clone());
        }
    }
    for name in notion_names(config, &fields) {
        if let Some(p) = data_source.properties.get(&name) {
            wire.notion_live.insert(name.clone(), p.name.clone());
            wire.notion_ids.insert(name, p.id.clone());
        }
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
        airtable_modified_field: modified.map(|f| f.name.clone()),
        wire,
        scope,
    })
}

fn modified_field(table: &TableSchema) -> Option<&FieldSchema> {
    table
        .fields
        .iter()
        .find(|f| f.kind == "lastModifiedTime" && watches_all_fields(f.options.as_ref()))
}

/// Every Airtable field the service reads or writes, by the mapping's names.
fn airtable_names(
    config: &PairConfig,
    fields: &[ResolvedField],
    modified: Option<&str>,
) -> BTreeSet<String> {
    let mut names: BTreeSet<String> = fields.iter().map(|f| f.airtable.clone()).collect();
    names.insert(config.airtable_page_id_field.clone());
    names.extend(config.airtable_last_synced_field.clone());
    names.extend(config.airtable_notion_url_field.clone());
    if let NotionTrashAction::Set(set) = &config.options.on_notion_trash {
        names.extend(set.keys().cloned());
    }
    names.extend(
        config
            .options
            .match_key
            .as_ref()
            .map(|k| k.airtable.clone()),
    );
    names.extend(modified.map(str::to_owned));
    names
}

/// Every Notion property the service reads or writes, by the mapping's names.
fn notion_names(config: &PairConfig, fields: &[ResolvedField]) -> BTreeSet<String> {
    let mut names: BTreeSet<String> = fields.iter().map(|f| f.notion.clone()).collect();
    names.extend(config.notion_record_id_property.clone());
    names.extend(config.options.match_key.as_ref().map(|k| k.notion.clone()));
    names
}

/// A schema change that affects a mapped field, found by [`ResolvedPair::refresh`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drift {
    /// The field (by the mapping's Notion name) stopped syncing.
    Stopped { field: String, why: Stopped },
    /// The field syncs again (its schema was fixed).
    Resumed { field: String },
    /// A field or property was renamed; followed by id.
    Renamed {
        side: &'static str,
        from: String,
        to: String,
    },
}

impl ResolvedPair {
    /// Re-resolve against freshly read schemas, by id: renames are followed,
    /// a mapped field whose field or property is gone, or whose type can no
    /// longer sync as its kind, is stopped. Errors: a field the service
    /// itself needs (the page-id field, the record-id property, ...) is gone
    /// or unusable; the pair is then left as it was.
    pub fn refresh(
        &self,
        data_source: &DataSource,
        table: &TableSchema,
    ) -> Result<(ResolvedPair, Vec<Drift>), Vec<String>> {
        let mut next = self.clone();
        let mut drift = Vec::new();
        next.wire.names = SideNames::of(data_source, table);
        next.airtable_modified_field = self.refresh_modified(table);
        let mut problems = Vec::new();
        let mapped: BTreeSet<&str> = self.fields.iter().map(|f| f.airtable.as_str()).collect();
        for (name, id) in &self.wire.airtable_ids {
            match table.field_by_id(id) {
                Some(f) => {
                    let old = self.wire.live_name(name);
                    if old != f.name {
                        drift.push(Drift::Renamed {
                            side: "airtable",
                            from: old.to_owned(),
                            to: f.name.clone(),
                        });
                    }
                    next.wire.airtable_live.insert(name.clone(), f.name.clone());
                }
                None if mapped.contains(name.as_str()) => {}
                None => problems.push(format!(
                    "Airtable field \"{}\" ({id}), which the service writes, was deleted",
                    self.wire.live_name(name)
                )),
            }
        }
        for (name, id) in &self.wire.notion_ids {
            match property_by_id(data_source, id) {
                Some(p) => {
                    let old = self.wire.notion_live.get(name).unwrap_or(name);
                    if *old != p.name {
                        drift.push(Drift::Renamed {
                            side: "notion",
                            from: old.clone(),
                            to: p.name.clone(),
                        });
                    }
                    next.wire.notion_live.insert(name.clone(), p.name.clone());
                }
                None if self.config.notion_record_id_property.as_deref() == Some(name) => problems
                    .push(format!(
                        "Notion property \"{name}\" (record_id_property, {id}) was deleted"
                    )),
                None => {}
            }
        }
        // The scope is judged by the service itself: a property or field
        // it names that is gone or retyped stops the pair (kept as it was).
        if let Some(cfg) = &self.config.scope {
            match super::scope::resolve_scope(cfg, data_source, table) {
                Ok(scope) => next.scope = Some(scope),
                Err(p) => problems.extend(p),
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        next.fields = self
            .fields
            .iter()
            .map(|f| {
                // A status's group is read from the status property itself.
                let notion_id = match super::status_group::is_group(f) {
                    true => f.notion_schema.id.as_str(),
                    false => self.wire.notion_key(&f.notion),
                };
                let (field, state) = refresh_field(f, notion_id, data_source, table);
                let was = self.wire.stopped.get(&f.notion);
                match (state, was) {
                    (Some(why), _) => {
                        if was != Some(&why) {
                            drift.push(Drift::Stopped {
                                field: f.notion.clone(),
                                why: why.clone(),
                            });
                        }
                        next.wire.stopped.insert(f.notion.clone(), why);
                    }
                    (None, Some(_)) => {
                        drift.push(Drift::Resumed {
                            field: f.notion.clone(),
                        });
                        next.wire.stopped.remove(&f.notion);
                    }
                    (None, None) => {}
                }
                field
            })
            .collect();
        Ok((next, drift))
    }

    fn refresh_modified(&self, table: &TableSchema) -> Option<String> {
        let old = self.airtable_modified_field.as_ref()?;
        let id = self.wire.airtable_ids.get(old)?;
        let f = table.field_by_id(id)?;
        (f.kind == "lastModifiedTime" && watches_all_fields(f.options.as_ref()))
            .then(|| old.clone())
    }
}

fn property_by_id<'a>(data_source: &'a DataSource, id: &str) -> Option<&'a PropertySchema> {
    data_source.properties.values().find(|p| p.id == id)
}

/// One mapped field against fresh schemas (looked up by id), and why it
/// must stop, if it must.
fn refresh_field(
    f: &ResolvedField,
    notion_id: &str,
    data_source: &DataSource,
    table: &TableSchema,
) -> (ResolvedField, Option<Stopped>) {
    let stop = |side, message| (f.clone(), Some(Stopped { side, message }));
    let Some(a) = table.field_by_id(&f.airtable_id) else {
        return stop(
            "airtable",
            format!(
                "Airtable field \"{}\" ({}) was deleted: nothing is read from or written to it until \
                 a field is mapped again; Notion keeps its values",
                f.airtable, f.airtable_id
            ),
        );
    };
    if f.kind == Kind::Body {
        // The page's content is no property: only its long text can drift.
        return match super::body::LONG_TEXT_TYPES.contains(&a.kind.as_str()) {
            true => {
                let mut field = f.clone();
                field.airtable_type = a.kind.clone();
                (field, None)
            }
            false => stop(
                "airtable",
                format!(
                    "Airtable field \"{}\" is now `{}` (was `{}`): the page content needs a long \
                     text; nothing is written to either side until its type is changed back",
                    a.name, a.kind, f.airtable_type
                ),
            ),
        };
    }
    let Some(n) = property_by_id(data_source, notion_id) else {
        return stop(
            "notion",
            format!(
                "Notion property \"{}\" ({}) was removed: nothing is read from or written to it \
                 until a property is mapped again; Airtable keeps its values",
                f.notion, notion_id
            ),
        );
    };
    let group = super::status_group::is_group(f);
    let live_kind = match group {
        // The group crosses as a select value: the status must stay a status.
        true if n.kind == "status" => Kind::for_types("select", &a.kind),
        true => Err(String::new()),
        false => Kind::for_types(&n.kind, &a.kind),
    };
    match live_kind {
        Ok(kind) if kind == f.kind => {
            let mut field = f.clone();
            if !group {
                field.notion_type = n.kind.clone();
            }
            field.airtable_type = a.kind.clone();
            // Options added or removed since are what values are checked against.
            field.notion_schema = n.clone();
            field.airtable_options = a.options.clone();
            (field, None)
        }
        _ => {
            let was = if group {
                "status"
            } else {
                f.notion_type.as_str()
            };
            let (side, what) = if n.kind != was {
                (
                    "notion",
                    format!(
                        "Notion property \"{}\" is now `{}` (was `{was}`)",
                        n.name, n.kind
                    ),
                )
            } else {
                (
                    "airtable",
                    format!(
                        "Airtable field \"{}\" is now `{}` (was `{}`)",
                        a.name, a.kind, f.airtable_type
                    ),
                )
            };
            stop(
                side,
                format!(
                    "{what}, which cannot sync as before: nothing is written to either side of this field until its type is changed back"
                ),
            )
        }
    }
}

/// A Notion user as the people mapping sees it.
pub fn person(u: &User) -> Person {
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
        if m.status_group {
            match super::status_group::resolve(m, n, a) {
                Ok(field) => fields.push(field),
                Err(e) => problems.push(format!("field \"{}\" ↔ \"{}\": {e}", m.key(), m.airtable)),
            }
            continue;
        }
        let kind = Kind::for_types(&n.kind, &a.kind).and_then(|kind| {
            match computed::direction_problem(kind, &n.kind, &a.kind, m.direction) {
                Some(why) => Err(why),
                None => Ok(kind),
            }
        });
        match kind {
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
                airtable_options: a.options.clone(),
                relation_target: None,
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

#[cfg(test)]
#[path = "pair_computed_tests.rs"]
mod computed_tests;
