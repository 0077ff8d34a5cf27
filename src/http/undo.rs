//! Undo over HTTP: `POST /api/undo` (admin API) and the status page's Undo
//! buttons share one implementation, the engine's, reached through
//! [`UndoPort`]: the HTTP layer may not import the engine, so the
//! composition root (`app`) hands it one. The undo runs in a task of its
//! own, so that a request cut off by its timeout does not cut the undo off
//! halfway (its log lines still say what it did).

use std::{future::Future, pin::Pin};

use axum::{
    Json, Router,
    body::Bytes,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::post,
};
use serde::Deserialize;
use serde_json::json;

use super::{HttpError, Shared, auth::Admin};
use crate::{
    store::{LogSelection, now_ms},
    sync::undo::{SelectionError, UndoReport, parse_selection},
};

/// The engine's undo, as the HTTP layer sees it.
pub trait UndoPort: std::fmt::Debug + Send + Sync + 'static {
    fn undo(
        &self,
        selection: LogSelection,
        dry_run: bool,
    ) -> Pin<Box<dyn Future<Output = anyhow::Result<UndoReport>> + Send>>;
}

pub(crate) fn routes() -> Router<Shared> {
    Router::new().route("/api/undo", post(undo_api))
}

/// `POST /api/undo` body: one of `entry`, `run`, `since` (with `pair`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UndoRequest {
    entry: Option<i64>,
    run: Option<String>,
    since: Option<String>,
    pair: Option<String>,
    #[serde(default)]
    dry_run: bool,
}

/// Run the undo and answer its report (200), or why it was refused.
async fn undo_api(
    _: Admin,
    State(state): State<Shared>,
    body: Bytes,
) -> Result<Response, HttpError> {
    let request: UndoRequest = serde_json::from_slice(&body).map_err(|e| {
        HttpError::bad_request(format!(
            "expected {{\"entry\": N}}, {{\"run\": \"RUN_ID\"}} or {{\"since\": \"TIME\", \
             \"pair\": \"P\"}}, with an optional \"dry_run\": true: {e}"
        ))
    })?;
    let selection = parse_selection(
        request.entry,
        request.run.as_deref(),
        request.since.as_deref(),
        request.pair.as_deref(),
        now_ms(),
    )
    .map_err(HttpError::bad_request)?;
    if let Some(pair) = request.pair.as_ref().filter(|p| !state.pairs.contains(p)) {
        return Err(HttpError::NotFound(format!(
            "no pair named `{pair}`; configured pairs: {}",
            state.pairs.names().join(", ")
        )));
    }
    match run_undo(&state, selection, request.dry_run).await {
        Ok(report) => Ok(Json(report).into_response()),
        Err(failure) => failure.into_api(),
    }
}

/// Why an undo did not run to its end.
pub(crate) enum UndoFailure {
    /// The selection names nothing, or too much: nothing changed.
    Refused(SelectionError),
    /// This process has no engine (an API-only role without one).
    Unavailable,
    /// The undo failed part way (a vendor down, the database): what it
    /// committed is in the log under its run id.
    Failed(String),
}

impl UndoFailure {
    fn into_api(self) -> Result<Response, HttpError> {
        match self {
            UndoFailure::Refused(SelectionError::Unknown(m)) => Err(HttpError::NotFound(m)),
            UndoFailure::Refused(SelectionError::TooMany(m)) => Err(HttpError::BadRequest(m)),
            UndoFailure::Unavailable => Ok((
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"error": "undo is not available in this process"})),
            )
                .into_response()),
            UndoFailure::Failed(m) => {
                Ok((StatusCode::BAD_GATEWAY, Json(json!({"error": m}))).into_response())
            }
        }
    }

    pub(crate) fn message(&self) -> String {
        match self {
            UndoFailure::Refused(e) => e.to_string(),
            UndoFailure::Unavailable => "undo is not available in this process".into(),
            UndoFailure::Failed(m) => m.clone(),
        }
    }
}

/// Run the engine's undo in its own task and wait for it.
pub(crate) async fn run_undo(
    state: &Shared,
    selection: LogSelection,
    dry_run: bool,
) -> Result<UndoReport, UndoFailure> {
    let port = state.undo.clone().ok_or(UndoFailure::Unavailable)?;
    let task = tokio::spawn(port.undo(selection.clone(), dry_run));
    let result = task
        .await
        .map_err(|e| UndoFailure::Failed(format!("the undo stopped: {e}")))?;
    result.map_err(|e| match e.downcast::<SelectionError>() {
        Ok(refused) => UndoFailure::Refused(refused),
        Err(e) => {
            tracing::warn!(?selection, error = %format!("{e:#}"), "undo failed");
            UndoFailure::Failed(format!("{e:#}"))
        }
    })
}
