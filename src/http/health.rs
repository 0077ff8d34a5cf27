//! Probes: `/healthz` says the process answers, `/readyz` that it can do its
//! job (database reachable, this build's migrations applied).

use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::json;

use super::Shared;

pub async fn healthz() -> &'static str {
    "ok"
}

/// 200 `ready`, or 503 with a reason an operator can act on (the store's
/// error goes to the log only: it may name the database host).
pub async fn readyz(State(state): State<Shared>) -> Response {
    match not_ready_reason(&state).await {
        None => (StatusCode::OK, "ready").into_response(),
        Some(reason) => {
            let body = Json(json!({"status": "not ready", "error": reason}));
            (StatusCode::SERVICE_UNAVAILABLE, body).into_response()
        }
    }
}

async fn not_ready_reason(state: &Shared) -> Option<&'static str> {
    if let Err(e) = state.store.ping().await {
        tracing::warn!(error = %e, "readiness: database unreachable");
        return Some("the database is unreachable");
    }
    match state.store.migrations_applied().await {
        Ok(true) => None,
        Ok(false) => Some("migrations are not applied: run `notion-airtable-sync migrate`"),
        Err(e) => {
            tracing::warn!(error = %e, "readiness: cannot read the migrations table");
            Some("cannot read the migrations table")
        }
    }
}
