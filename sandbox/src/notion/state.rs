//! The in-memory workspace: users, databases, data sources and pages.
//! Everything lives behind one mutex in [`super::Shared`]; these types are
//! plain data plus lookups.

use std::collections::HashMap;

use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use super::errors::{NotionError, NotionResult};
use super::schema::{PropertyDef, find_def};

/// The integration's user capability (developers.notion.com/reference/capabilities):
/// "No user information" (`GET /v1/users` and `GET /v1/users/{id}` answer
/// 403, user objects carry no name), "User information without email
/// addresses", "User information with email addresses" (the default).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum UserInformation {
    None,
    WithoutEmail,
    #[default]
    WithEmail,
}

#[derive(Clone, Debug)]
pub enum UserKind {
    Person { email: String },
    Bot,
}

#[derive(Clone, Debug)]
pub struct User {
    pub id: Uuid,
    pub name: String,
    pub kind: UserKind,
}

impl User {
    pub fn is_bot(&self) -> bool {
        matches!(self.kind, UserKind::Bot)
    }
}

/// Who made a change: the integration's bot (REST writes) or a person
/// (control API / Rust API edits "in the Notion UI").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Actor {
    pub id: Uuid,
    pub is_bot: bool,
}

#[derive(Clone, Debug)]
pub struct Database {
    pub id: Uuid,
    pub title: String,
    pub data_source_ids: Vec<Uuid>,
    pub created_time: OffsetDateTime,
    pub last_edited_time: OffsetDateTime,
    pub created_by: Uuid,
    /// The page it was created in (`POST /v1/databases`); `None`: at the workspace's top
    /// level (seeded).
    pub parent_page: Option<Uuid>,
}

#[derive(Clone, Debug)]
pub struct DataSource {
    pub id: Uuid,
    pub database_id: Uuid,
    pub name: String,
    pub properties: Vec<PropertyDef>,
    pub created_time: OffsetDateTime,
    pub last_edited_time: OffsetDateTime,
    pub created_by: Uuid,
    pub last_edited_by: Uuid,
    /// Ids of deleted properties: a new property never gets one again.
    pub retired_property_ids: Vec<String>,
}

impl DataSource {
    pub fn property(&self, key: &str) -> Option<&PropertyDef> {
        find_def(&self.properties, key)
    }

    pub fn title_def(&self) -> Option<&PropertyDef> {
        self.properties
            .iter()
            .find(|d| d.kind == super::schema::PropertyKind::Title)
    }
}

#[derive(Clone, Debug)]
pub struct Page {
    pub id: Uuid,
    /// Creation order; the tie-breaker of every sort.
    pub seq: u64,
    pub data_source_id: Uuid,
    /// Precise instants; rendered rounded down to the minute.
    pub created_time: OffsetDateTime,
    pub last_edited_time: OffsetDateTime,
    pub created_by: Uuid,
    pub last_edited_by: Uuid,
    pub in_trash: bool,
    pub is_locked: bool,
    pub icon: Value,
    pub cover: Value,
    /// Stored values by property id, in the read shape of the property's
    /// type (people as user-id strings). Computed properties are absent.
    pub values: HashMap<String, Value>,
    /// The page's content as enhanced markdown (`GET|PATCH
    /// /v1/pages/{id}/markdown`), already in the form Notion renders.
    pub content: String,
}

#[derive(Debug)]
pub struct World {
    pub workspace_id: Uuid,
    pub workspace_name: String,
    pub integration_id: Uuid,
    pub bot_id: Uuid,
    /// People first, then the bot.
    pub users: Vec<User>,
    pub databases: HashMap<Uuid, Database>,
    pub data_sources: HashMap<Uuid, DataSource>,
    pub pages: HashMap<Uuid, Page>,
    pub next_seq: u64,
    pub team: Option<super::TeamNotion>,
    /// What user objects in answers may carry.
    pub user_info: UserInformation,
    /// The integration's "read content" capability: without it the
    /// markdown endpoints answer 403.
    pub read_content: bool,
    /// Notion-hosted files and the file uploads (`notion::files`).
    pub files: super::files::Files,
}

impl World {
    pub fn new(bot_name: &str) -> Self {
        let bot_id = Uuid::new_v4();
        let mut users: Vec<User> = crate::team::PEOPLE
            .iter()
            .map(|p| User {
                id: Uuid::new_v4(),
                name: p.name.to_string(),
                kind: UserKind::Person {
                    email: p.email.to_string(),
                },
            })
            .collect();
        users.push(User {
            id: bot_id,
            name: bot_name.to_string(),
            kind: UserKind::Bot,
        });
        Self {
            workspace_id: Uuid::new_v4(),
            workspace_name: "Sandbox Workspace".to_string(),
            integration_id: Uuid::new_v4(),
            bot_id,
            users,
            databases: HashMap::new(),
            data_sources: HashMap::new(),
            pages: HashMap::new(),
            next_seq: 0,
            team: None,
            user_info: UserInformation::default(),
            read_content: true,
            files: super::files::Files::default(),
        }
    }

    pub fn user(&self, id: Uuid) -> Option<&User> {
        self.users.iter().find(|u| u.id == id)
    }

    pub fn bot_actor(&self) -> Actor {
        Actor {
            id: self.bot_id,
            is_bot: true,
        }
    }

    /// A person acting through the control API.
    pub fn person_actor(&self, id: Uuid) -> NotionResult<Actor> {
        match self.user(id) {
            Some(u) if !u.is_bot() => Ok(Actor { id, is_bot: false }),
            _ => Err(NotionError::validation(format!(
                "{id} is not a person user of this workspace."
            ))),
        }
    }

    pub fn page(&self, id: Uuid) -> NotionResult<&Page> {
        self.pages
            .get(&id)
            .ok_or_else(|| NotionError::not_found("page", &id.to_string()))
    }

    pub fn data_source(&self, id: Uuid) -> NotionResult<&DataSource> {
        self.data_sources
            .get(&id)
            .ok_or_else(|| NotionError::not_found("data_source", &id.to_string()))
    }

    pub fn database(&self, id: Uuid) -> NotionResult<&Database> {
        self.databases
            .get(&id)
            .ok_or_else(|| NotionError::not_found("database", &id.to_string()))
    }

    pub fn take_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }
}

/// Parse an id given with or without dashes (any case). `what` names the
/// path parameter for the error message.
pub fn parse_id(raw: &str, what: &str) -> NotionResult<Uuid> {
    let compact: String = raw.chars().filter(|c| *c != '-').collect();
    if compact.len() == 32 && compact.chars().all(|c| c.is_ascii_hexdigit()) {
        if let Ok(id) = Uuid::parse_str(&compact) {
            return Ok(id);
        }
    }
    Err(NotionError::validation(format!(
        "path failed validation: path.{what} should be a valid uuid, instead was `\"{raw}\"`."
    )))
}

/// The id as Notion writes it in bodies: dashed, lower case.
pub fn dashed(id: Uuid) -> String {
    id.hyphenated().to_string()
}

/// The id inside Notion URLs: 32 hex characters.
pub fn compact(id: Uuid) -> String {
    id.simple().to_string()
}
