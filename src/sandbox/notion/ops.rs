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

use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use super::Shared;
use super::errors::{NotionError, NotionResult};
use super::properties::{Validated, initial_values, validate_writes};
use super::schema::{PropertySchema, build_defs};
use super::state::{Actor, DataSource, Database, Page, World, dashed};
use super::webhooks::{
    ChangeEvent, DATA_SOURCE_SCHEMA_UPDATED, PAGE_CREATED, PAGE_DELETED, PAGE_PROPERTIES_UPDATED,
    PAGE_UNDELETED,
};
use crate::sandbox::common::lock;

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

fn page_parent(ds: &DataSource) -> Value {
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
    Some(ChangeEvent {
        kind: DATA_SOURCE_SCHEMA_UPDATED,
        entity_id: ds.id,
        entity_type: "data_source",
        parent: json!({"id": dashed(ds.database_id), "type": "database"}),
        updated_properties: updated,
        authors: vec![actor],
        at: now,
    })
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

fn page_event(
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
        updated_properties: props,
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
        let ids: Vec<Value> = v.values.iter().map(|(id, _)| json!(id)).collect();
        page.values.extend(v.values);
        if !ids.is_empty() {
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
