//! Mutations shared by the REST API (authored by the bot) and the control /
//! Rust API (authored by a person): each validates, changes the workspace
//! under the lock, then hands its change events to the webhooks.
//!
//! Decision on no-op writes (not documented by Notion): a PATCH that sends
//! `properties` bumps `last_edited_time` / `last_edited_by` and produces
//! `page.properties_updated` for the sent properties even when the values
//! are unchanged, as Notion records the write itself. This is the harsher
//! choice for a sync service (its own echo arrives even for no-ops), so a
//! service that copes with it copes with the alternative too. A PATCH that
//! sends nothing (no properties, no trash change) changes nothing.
//!
//! Title edits: Notion's docs say "let's say a user updates the title of a
//! page. You'll receive a `page.content_updated` webhook event"
//! (webhooks-events-delivery; the webhooks overview walks through the same
//! example). Whether a title edit *also* sends `page.properties_updated` is
//! not documented, so the sandbox sends only what is documented: a write
//! to the title property yields `page.content_updated` (`updated_blocks`:
//! the page itself), and `page.properties_updated` lists the other written
//! properties only (none: no such event). A client that ignores
//! `page.content_updated` therefore misses title edits here, as it may
//! against Notion.

use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use super::Shared;
use super::errors::{NotionError, NotionResult};
use super::properties::{Validated, initial_values, validate_writes};
use super::schema::{PropertyKind, PropertySchema, build_defs};
use super::schema_update::{self, Editor, SchemaPlan};
use super::state::{Actor, DataSource, Database, Page, User, World, dashed};
use super::webhooks::{
    ChangeEvent, DATA_SOURCE_SCHEMA_UPDATED, PAGE_CONTENT_UPDATED, PAGE_CREATED, PAGE_DELETED,
    PAGE_PROPERTIES_UPDATED, PAGE_UNDELETED,
};
use crate::common::lock;

/// Where a new page goes (`parent` of `POST /v1/pages`).
#[derive(Clone, Copy, Debug)]
pub enum ParentRef {
    DataSource(Uuid),
    Database(Uuid),
}

/// The changeable parts of a page (`PATCH /v1/pages/{id}`).
#[derive(Clone, Debug, Default)]
pub struct PagePatch {
    pub properties: Option<Value>,
    pub in_trash: Option<bool>,
    pub icon: Option<Value>,
    pub cover: Option<Value>,
    pub is_locked: Option<bool>,
}

impl PagePatch {
    fn is_empty(&self) -> bool {
        self.properties.is_none()
            && self.in_trash.is_none()
            && self.icon.is_none()
            && self.cover.is_none()
            && self.is_locked.is_none()
    }
}

pub fn create_database(shared: &Shared, title: &str, schema: &[PropertySchema]) -> (Uuid, Uuid) {
    let now = shared.clock.now();
    let mut world = lock(&shared.world);
    let creator = world.users.first().map(|u| u.id).unwrap_or(world.bot_id);
    let (database_id, data_source_id) = (Uuid::new_v4(), Uuid::new_v4());
    world.databases.insert(
        database_id,
        Database {
            id: database_id,
            title: title.to_string(),
            data_source_ids: vec![data_source_id],
            created_time: now,
            last_edited_time: now,
            created_by: creator,
            parent_page: None,
        },
    );
    world.data_sources.insert(
        data_source_id,
        DataSource {
            id: data_source_id,
            database_id,
            name: title.to_string(),
            properties: build_defs(schema),
            created_time: now,
            last_edited_time: now,
            created_by: creator,
            last_edited_by: creator,
            retired_property_ids: Vec::new(),
        },
    );
    (database_id, data_source_id)
}

fn resolve_parent(world: &World, parent: ParentRef) -> NotionResult<Uuid> {
    match parent {
        ParentRef::DataSource(id) => world.data_source(id).map(|ds| ds.id),
        ParentRef::Database(id) => {
            let db = world.database(id)?;
            match db.data_source_ids.as_slice() {
                [only] => Ok(*only),
                _ => Err(NotionError::validation(format!(
                    "Database {} has multiple data sources; use a data_source_id parent.",
                    dashed(id)
                ))),
            }
        }
    }
}

pub(super) fn page_parent(ds: &DataSource) -> Value {
    json!({"id": dashed(ds.database_id), "type": "database", "data_source_id": dashed(ds.id)})
}

/// Commit a validated write's new options; returns the schema event, if any.
fn commit_schema(
    ds: &mut DataSource,
    validated: &mut Validated,
    actor: Actor,
    now: OffsetDateTime,
) -> Option<ChangeEvent> {
    if validated.options_created.is_empty() {
        return None;
    }
    ds.properties = std::mem::take(&mut validated.schema);
    ds.last_edited_time = now;
    ds.last_edited_by = actor.id;
    let updated = validated
        .options_created
        .iter()
        .filter_map(|id| ds.properties.iter().find(|d| d.id == *id))
        .map(|d| json!({"id": d.id, "name": d.name, "action": "updated"}))
        .collect();
    Some(schema_event(ds, updated, actor, now))
}

/// `data_source.schema_updated`: entity the data source, parent its database.
fn schema_event(
    ds: &DataSource,
    changes: Vec<Value>,
    actor: Actor,
    at: OffsetDateTime,
) -> ChangeEvent {
    ChangeEvent {
        kind: DATA_SOURCE_SCHEMA_UPDATED,
        entity_id: ds.id,
        entity_type: "data_source",
        parent: json!({"id": dashed(ds.database_id), "type": "database"}),
        updates: changes,
        authors: vec![actor],
        at,
    }
}

/// Update a data source's schema (and title) as the bot or a person; emits
/// one `data_source.schema_updated` when a property changed.
pub fn update_data_source(
    shared: &Shared,
    ds_id: Uuid,
    body: &Value,
    actor: Actor,
    editor: Editor,
) -> NotionResult<()> {
    let now = shared.clock.now();
    let event = {
        let mut guard = lock(&shared.world);
        let world = &mut *guard;
        let mut plan = schema_update::plan(world.data_source(ds_id)?, body, editor)?;
        for target in plan.defs.iter_mut().filter_map(|d| d.relation.as_mut()) {
            super::relation::resolve(world, target)?;
        }
        super::computed::resolve(world, ds_id, &mut plan.defs)?;
        apply_schema_plan(world, ds_id, plan, actor, now)?
    };
    shared.webhooks.emit(event.into_iter().collect());
    Ok(())
}

fn apply_schema_plan(
    world: &mut World,
    ds_id: Uuid,
    mut plan: SchemaPlan,
    actor: Actor,
    now: OffsetDateTime,
) -> NotionResult<Option<ChangeEvent>> {
    let users = world.users.clone();
    for page in world
        .pages
        .values_mut()
        .filter(|p| p.data_source_id == ds_id)
    {
        convert_page(page, &mut plan, &users);
    }
    let ds = world
        .data_sources
        .get_mut(&ds_id)
        .ok_or_else(|| NotionError::not_found("data_source", &dashed(ds_id)))?;
    if let Some(title) = plan.title.take() {
        ds.name = title;
    }
    ds.retired_property_ids.extend(plan.removed.iter().cloned());
    ds.properties = plan.defs;
    ds.last_edited_time = now;
    ds.last_edited_by = actor.id;
    Ok((!plan.changes.is_empty()).then(|| schema_event(ds, plan.changes, actor, now)))
}

/// One page's stored values under the planned schema: deleted properties
/// go, retyped ones are converted, removed options are cleared, new
/// properties start empty.
fn convert_page(page: &mut Page, plan: &mut SchemaPlan, users: &[User]) {
    for id in &plan.removed {
        page.values.remove(id);
    }
    for old in &plan.retyped {
        let stored = page.values.remove(&old.id).unwrap_or(Value::Null);
        let pieces = schema_update::text_pieces(old, &stored, users);
        if let Some(def) = plan.defs.iter_mut().find(|d| d.id == old.id) {
            if let Some(value) = schema_update::from_pieces(def, &pieces, users) {
                page.values.insert(old.id.clone(), value);
            }
        }
    }
    for def in &plan.defs {
        if def.kind.is_read_only() {
            continue;
        }
        let value = match page.values.get(&def.id) {
            Some(stored) => schema_update::drop_removed_options(def, stored),
            None => super::properties::default_value(def.kind),
        };
        page.values.insert(def.id.clone(), value);
    }
}

pub fn create_page(
    shared: &Shared,
    parent: ParentRef,
    properties: &Value,
    actor: Actor,
    icon: Value,
    cover: Value,
) -> NotionResult<Uuid> {
    let now = shared.clock.now();
    let mut events = Vec::new();
    let page_id = {
        let mut guard = lock(&shared.world);
        let world = &mut *guard;
        let ds_id = resolve_parent(world, parent)?;
        let ds = world.data_source(ds_id)?;
        let mut validated = validate_writes(&ds.properties, world, properties)?;
        let ds = world
            .data_sources
            .get_mut(&ds_id)
            .ok_or_else(|| NotionError::not_found("data_source", &dashed(ds_id)))?;
        events.extend(commit_schema(ds, &mut validated, actor, now));
        let values = initial_values(&ds.properties, std::mem::take(&mut validated.values));
        let parent_json = page_parent(ds);
        let page = Page {
            id: Uuid::new_v4(),
            seq: world.take_seq(),
            data_source_id: ds_id,
            created_time: now,
            last_edited_time: now,
            created_by: actor.id,
            last_edited_by: actor.id,
            in_trash: false,
            is_locked: false,
            icon,
            cover,
            values,
            content: String::new(),
        };
        events.push(page_event(
            PAGE_CREATED,
            page.id,
            parent_json,
            Vec::new(),
            actor,
            now,
        ));
        let id = page.id;
        world.pages.insert(id, page);
        id
    };
    shared.webhooks.emit(events);
    Ok(page_id)
}

pub(super) fn page_event(
    kind: &'static str,
    id: Uuid,
    parent: Value,
    props: Vec<Value>,
    actor: Actor,
    at: OffsetDateTime,
) -> ChangeEvent {
    ChangeEvent {
        kind,
        entity_id: id,
        entity_type: "page",
        parent,
        updates: props,
        authors: vec![actor],
        at,
    }
}

pub fn update_page(
    shared: &Shared,
    page_id: Uuid,
    patch: PagePatch,
    actor: Actor,
) -> NotionResult<()> {
    let now = shared.clock.now();
    let events = {
        let mut guard = lock(&shared.world);
        apply_patch(&mut guard, page_id, patch, actor, now)?
    };
    shared.webhooks.emit(events);
    Ok(())
}

fn apply_patch(
    world: &mut World,
    page_id: Uuid,
    patch: PagePatch,
    actor: Actor,
    now: OffsetDateTime,
) -> NotionResult<Vec<ChangeEvent>> {
    let page = world.page(page_id)?;
    let ds_id = page.data_source_id;
    let was_trashed = page.in_trash;
    let stays_trashed = patch.in_trash.unwrap_or(was_trashed);
    if patch.is_empty() {
        return Ok(Vec::new());
    }
    if was_trashed
        && stays_trashed
        && (patch.properties.is_some() || patch.icon.is_some() || patch.cover.is_some())
    {
        return Err(NotionError::validation(
            "Can't edit block that is archived. You must unarchive the block before editing.",
        ));
    }
    let ds = world.data_source(ds_id)?;
    let parent = page_parent(ds);
    let title_id = ds
        .properties
        .iter()
        .find(|d| d.kind == PropertyKind::Title)
        .map(|d| d.id.clone());
    let mut validated = match &patch.properties {
        Some(props) => Some(validate_writes(&ds.properties, world, props)?),
        None => None,
    };
    let mut events = Vec::new();
    if let Some(v) = validated.as_mut() {
        let ds = world
            .data_sources
            .get_mut(&ds_id)
            .ok_or_else(|| NotionError::not_found("data_source", &dashed(ds_id)))?;
        events.extend(commit_schema(ds, v, actor, now));
    }
    let page = world
        .pages
        .get_mut(&page_id)
        .ok_or_else(|| NotionError::not_found("page", &dashed(page_id)))?;
    if let Some(v) = validated {
        let (titles, others): (Vec<String>, Vec<String>) = v
            .values
            .iter()
            .map(|(id, _)| id.clone())
            .partition(|id| title_id.as_deref() == Some(id.as_str()));
        page.values.extend(v.values);
        if !titles.is_empty() {
            // The title lives on the page block itself.
            let blocks = vec![json!({"id": dashed(page_id), "type": "page"})];
            events.push(page_event(
                PAGE_CONTENT_UPDATED,
                page_id,
                parent.clone(),
                blocks,
                actor,
                now,
            ));
        }
        if !others.is_empty() {
            let ids = others.into_iter().map(Value::String).collect();
            events.push(page_event(
                PAGE_PROPERTIES_UPDATED,
                page_id,
                parent.clone(),
                ids,
                actor,
                now,
            ));
        }
    }
    if let Some(trash) = patch.in_trash.filter(|t| *t != was_trashed) {
        page.in_trash = trash;
        let kind = if trash { PAGE_DELETED } else { PAGE_UNDELETED };
        events.push(page_event(kind, page_id, parent, Vec::new(), actor, now));
    }
    if let Some(icon) = patch.icon {
        page.icon = icon;
    }
    if let Some(cover) = patch.cover {
        page.cover = cover;
    }
    if let Some(locked) = patch.is_locked {
        page.is_locked = locked;
    }
    page.last_edited_time = now;
    page.last_edited_by = actor.id;
    Ok(events)
}
