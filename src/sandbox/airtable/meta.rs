//! Metadata endpoints: the base schema (api-facts §4.6) and `whoami`.

use std::sync::Arc;

use axum::{
    Json,
    extract::{Path, State},
};
use serde_json::{Value, json};

use super::errors::AtResult;
use super::state::Shared;
use super::table::Table;

/// The scopes the sandbox token holds (everything the service needs).
const SCOPES: [&str; 5] = [
    "data.records:read",
    "data.records:write",
    "schema.bases:read",
    "webhook:manage",
    "user.email:read",
];

/// `GET /v0/meta/bases/{base}/tables`.
pub(crate) async fn base_schema(
    State(s): State<Arc<Shared>>,
    Path(base): Path<String>,
) -> AtResult<Json<Value>> {
    let store = s.store();
    let base = store.base(&base)?;
    let tables: Vec<Value> = base.tables.iter().map(Table::to_schema_json).collect();
    Ok(Json(json!({ "tables": tables })))
}

/// `GET /v0/meta/whoami` → `{id, scopes, email}` (email because the token has
/// `user.email:read`).
pub(crate) async fn whoami(State(s): State<Arc<Shared>>) -> Json<Value> {
    Json(json!({
        "id": s.api_actor.id,
        "scopes": SCOPES,
        "email": s.api_actor.email,
    }))
}
