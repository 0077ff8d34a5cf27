//! The delete review queue in the admin API (Bearer `ADMIN_TOKEN`):
//! `GET /api/deletes?state=&pair=&limit=` lists entries newest first
//! (every state unless `state` names one), `POST /api/deletes/{id}/approve`
//! and `/reject` decide a pending entry and enqueue the record's reconcile
//! (202); an unknown entry is 404, one already decided 409, and neither
//! changes anything.

use axum::{
    Json, Router,
    extract::{
        Path, Query, State,
        rejection::{PathRejection, QueryRejection},
    },
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::Deserialize;
use serde_json::json;

use super::{HttpError, Shared, auth::Admin};
use crate::{
    jobs::review::{decide, refusal},
    store::{Decided, DeleteReview, ReviewState, Store, Verdict},
};

const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;

pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/deletes", get(list))
        .route("/api/deletes/{id}/approve", post(approve))
        .route("/api/deletes/{id}/reject", post(reject))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListParams {
    state: Option<String>,
    pair: Option<String>,
    limit: Option<i64>,
}

/// `GET /api/deletes`: the queue, newest first.
async fn list(
    _: Admin,
    State(state): State<Shared>,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<Vec<DeleteReview>>, HttpError> {
    let Query(params) = params.map_err(|e| HttpError::bad_request(e.body_text()))?;
    let review_state = params
        .state
        .map(|s| {
            s.parse::<ReviewState>().map_err(|_| {
                HttpError::bad_request(format!(
                    "unknown state `{s}`: use pending, approved, rejected, cleared or done"
                ))
            })
        })
        .transpose()?;
    let limit = match params.limit {
        None => DEFAULT_LIMIT,
        Some(n) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(n) => {
            return Err(HttpError::bad_request(format!(
                "limit {n} is out of range: use 1 to {MAX_LIMIT}"
            )));
        }
    };
    let entries = state
        .store
        .list_delete_reviews(params.pair.as_deref(), review_state, limit)
        .await?;
    Ok(Json(entries))
}

async fn approve(
    _: Admin,
    State(state): State<Shared>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Response, HttpError> {
    decide_by_api(&state.store, id, Verdict::Approve).await
}

async fn reject(
    _: Admin,
    State(state): State<Shared>,
    id: Result<Path<i64>, PathRejection>,
) -> Result<Response, HttpError> {
    decide_by_api(&state.store, id, Verdict::Reject).await
}

async fn decide_by_api(
    store: &Store,
    id: Result<Path<i64>, PathRejection>,
    verdict: Verdict,
) -> Result<Response, HttpError> {
    let Path(id) = id.map_err(|e| HttpError::bad_request(e.body_text()))?;
    match decide_sent(store, id, verdict, "api").await? {
        Decided::Done { entry, job_id } => {
            let body = Json(json!({"entry": entry, "job_id": job_id}));
            Ok((StatusCode::ACCEPTED, body).into_response())
        }
        other @ Decided::NotFound => {
            Err(HttpError::NotFound(refusal(id, &other).unwrap_or_default()))
        }
        other => Err(HttpError::Conflict(refusal(id, &other).unwrap_or_default())),
    }
}

/// [`decide`], driven on a blocking thread, as `admin::retry_dead` drives
/// its transaction: a handler's future must be `Send`, and one holding a
/// store transaction across awaits cannot be proven so.
pub(super) async fn decide_sent(
    store: &Store,
    id: i64,
    verdict: Verdict,
    by: &'static str,
) -> Result<Decided, HttpError> {
    let store = store.clone();
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        runtime.block_on(async move { decide(&store, id, verdict, by).await })
    })
    .await
    .map_err(|e| HttpError::Internal(format!("deciding delete review {id} panicked: {e}")))?
    .map_err(HttpError::from)
}
