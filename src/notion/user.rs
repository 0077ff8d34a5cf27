//! Notion users: people and bots, as pages and `GET /v1/users` show them.

use serde::{Deserialize, Serialize};

/// A user (person or bot). Partial user objects carry only `id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    /// `person` or `bot`; missing on partial user objects.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub avatar_url: Option<String>,
    #[serde(default)]
    pub person: Option<PersonDetails>,
}

/// A person's details; `email` needs the "read user email" capability.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonDetails {
    #[serde(default)]
    pub email: Option<String>,
}

impl User {
    pub fn email(&self) -> Option<&str> {
        self.person.as_ref()?.email.as_deref()
    }

    pub fn is_bot(&self) -> bool {
        self.kind.as_deref() == Some("bot")
    }
}
