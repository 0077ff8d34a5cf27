//! The admin API (Bearer `ADMIN_TOKEN`): queue a sweep, inspect and retry
//! jobs, read the sync log, the conflicts and the open sync issues. JSON in
//! and out.

use axum::{
    Json, Router,
    body::Bytes,
    extract::{
        Path, Query, State,
        rejection::{PathRejection, QueryRejection},
    },
    http::{HeaderValue, StatusCode, header::LINK},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde::Deserialize;
use serde_json::json;

use super::{HttpError, Shared, auth::Admin};
use crate::{
    jobs::spec::JobSpec,
    store::{Issue, Job, JobId, JobState, LogEntry, LogQuery, Store, now_ms},
};

const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;

pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route("/reconcile", post(reconcile))
        .route("/api/jobs", get(list_jobs))
        .route("/api/jobs/{id}/retry", post(retry_job))
        .route("/api/log", get(sync_log))
        .route("/api/conflicts", get(conflicts))
        .route("/api/issues", get(issues))
}

/// `POST /reconcile` body; both fields optional, and so is the body.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ReconcileRequest {
    pair: Option<String>,
    #[serde(default)]
    full: bool,
}

/// Enqueue a sweep per pair (or of the named pair) and answer 202 at once.
/// A sweep already pending for the pair absorbs the request (same key).
async fn reconcile(
    _: Admin,
    State(state): State<Shared>,
    body: Bytes,
) -> Result<Response, HttpError> {
    let request = parse_reconcile(&body)?;
    let pairs: Vec<String> = match request.pair {
        Some(pair) if state.pairs.contains(&pair) => vec![pair],
        Some(pair) => {
            return Err(HttpError::NotFound(format!(
                "no pair named `{pair}`; configured pairs: {}",
                state.pairs.names().join(", ")
            )));
        }
        None => state.pairs.names().to_vec(),
    };
    let now = now_ms();
    let jobs: Vec<_> = pairs
        .iter()
        .map(|pair| {
            let spec = JobSpec::Sweep {
                pair: pair.clone(),
                full: request.full,
            };
            spec.to_new_job(now)
        })
        .collect();
    let mut tx = state.store.begin().await?;
    let outcomes = tx.enqueue_many(&jobs, now).await?;
    tx.commit().await?;
    let queued: Vec<_> = pairs
        .iter()
        .zip(&outcomes)
        .map(|(pair, outcome)| {
            json!({
                "pair": pair,
                "full": request.full,
                "job_id": outcome.id(),
                "coalesced": matches!(outcome, crate::store::EnqueueOutcome::Coalesced(_)),
            })
        })
        .collect();
    tracing::info!(
        ?pairs,
        full = request.full,
        "sweep requested through /reconcile"
    );
    Ok((StatusCode::ACCEPTED, Json(json!({"jobs": queued}))).into_response())
}

fn parse_reconcile(body: &[u8]) -> Result<ReconcileRequest, HttpError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(ReconcileRequest::default());
    }
    serde_json::from_slice(body).map_err(|e| {
        HttpError::bad_request(format!(
            "expected an empty body or {{\"pair\": \"NAME\", \"full\": true}}: {e}"
        ))
    })
}

#[derive(Deserialize)]
struct JobsQuery {
    state: Option<String>,
    limit: Option<i64>,
}

/// `GET /api/jobs?state=dead&limit=N`: newest first.
async fn list_jobs(
    _: Admin,
    State(state): State<Shared>,
    query: Result<Query<JobsQuery>, QueryRejection>,
) -> Result<Json<Vec<Job>>, HttpError> {
    let Query(query) = query.map_err(bad_query)?;
    let job_state = query
        .state
        .map(|s| {
            s.parse::<JobState>().map_err(|_| {
                HttpError::bad_request(format!(
                    "unknown job state `{s}`: use pending, running, done or dead"
                ))
            })
        })
        .transpose()?;
    let jobs = state
        .store
        .list_jobs(job_state, limit(query.limit)?)
        .await?;
    Ok(Json(jobs))
}

/// `POST /api/jobs/{id}/retry`: a dead job goes back to pending, due now.
async fn retry_job(
    _: Admin,
    State(state): State<Shared>,
    id: Result<Path<JobId>, PathRejection>,
) -> Result<Response, HttpError> {
    let Path(id) = id.map_err(|e| HttpError::bad_request(e.body_text()))?;
    if let Some(pending) = retry_dead(&state.store, id).await? {
        tracing::info!(
            job_id = id,
            pending_job_id = pending,
            "dead job retried by an operator"
        );
        let body = Json(json!({"retried": id, "job_id": pending}));
        return Ok((StatusCode::ACCEPTED, body).into_response());
    }
    match state.store.get_job(id).await? {
        None => Err(HttpError::NotFound(format!("no job {id}"))),
        Some(job) => Err(HttpError::Conflict(format!(
            "job {id} is {}: only dead jobs can be retried",
            job.state
        ))),
    }
}

#[derive(Deserialize)]
struct LogParams {
    pair: Option<String>,
    record: Option<String>,
    since: Option<String>,
    /// Only the lines of one engine run (`job-7`, `run-…`).
    run: Option<String>,
    before: Option<i64>,
    limit: Option<i64>,
}

/// `GET /api/log?pair=&record=&since=&run=&before=&limit=`: newest first, ordered
/// by `id` (stable: ids only grow). `since` takes what `log --since` takes.
/// A full page carries `Link: </api/log?...&before=ID>; rel="next"`, the same
/// filters with the smallest id of the page as `before`.
async fn sync_log(
    _: Admin,
    State(state): State<Shared>,
    params: Result<Query<LogParams>, QueryRejection>,
) -> Result<Response, HttpError> {
    let Query(params) = params.map_err(bad_query)?;
    let since = params
        .since
        .as_deref()
        .map(|s| {
            crate::store::parse_since(s, now_ms())
                .map_err(|e| HttpError::bad_request(format!("since {e}")))
        })
        .transpose()?;
    let query = LogQuery {
        pair: params.pair.clone(),
        record: params.record.clone(),
        since,
        before_id: params.before,
        conflicts_only: false,
        run: params.run.clone(),
        limit: limit(params.limit)?,
    };
    let entries = state.store.query_log(&query).await?;
    let next = match entries.last() {
        Some(last) if entries.len() as i64 == query.limit => Some(next_page_link(&params, last.id)),
        _ => None,
    };
    let mut response = Json(entries).into_response();
    if let Some(link) = next.and_then(|l| HeaderValue::from_str(&l).ok()) {
        response.headers_mut().insert(LINK, link);
    }
    Ok(response)
}

/// The `Link` header value of the page after the one ending at `last_id`.
fn next_page_link(params: &LogParams, last_id: i64) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    let text = [
        ("pair", &params.pair),
        ("record", &params.record),
        ("since", &params.since),
        ("run", &params.run),
    ];
    for (key, value) in text {
        if let Some(value) = value {
            query.append_pair(key, value);
        }
    }
    query.append_pair("before", &last_id.to_string());
    if let Some(limit) = params.limit {
        query.append_pair("limit", &limit.to_string());
    }
    format!("</api/log?{}>; rel=\"next\"", query.finish())
}

#[derive(Deserialize)]
struct ConflictParams {
    pair: Option<String>,
    limit: Option<i64>,
}

/// `GET /api/conflicts?pair=&limit=`: the newest conflicts with both values.
async fn conflicts(
    _: Admin,
    State(state): State<Shared>,
    params: Result<Query<ConflictParams>, QueryRejection>,
) -> Result<Json<Vec<LogEntry>>, HttpError> {
    let Query(params) = params.map_err(bad_query)?;
    let limit = limit(params.limit)?;
    let entries = state
        .store
        .list_conflicts(params.pair.as_deref(), limit)
        .await?;
    Ok(Json(entries))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IssueParams {
    pair: Option<String>,
}

/// `GET /api/issues?pair=`: every open sync issue (what the service cannot
/// sync until someone acts), oldest first.
async fn issues(
    _: Admin,
    State(state): State<Shared>,
    params: Result<Query<IssueParams>, QueryRejection>,
) -> Result<Json<Vec<Issue>>, HttpError> {
    let Query(params) = params.map_err(bad_query)?;
    let issues = state.store.open_issues(params.pair.as_deref()).await?;
    Ok(Json(issues))
}

/// `Store::retry_dead`, driven on a blocking thread. Its future (a
/// transaction written as an async closure) cannot be proven `Send`
/// ("implementation of `Send` is not general enough", rust-lang/rust#110338),
/// and a handler's future must be; built and awaited inside the closure, it
/// need not be.
pub(super) async fn retry_dead(store: &Store, id: JobId) -> Result<Option<JobId>, HttpError> {
    let store = store.clone();
    let runtime = tokio::runtime::Handle::current();
    let retried = tokio::task::spawn_blocking(move || {
        runtime.block_on(async move { store.retry_dead(id, now_ms()).await })
    })
    .await
    .map_err(|e| HttpError::Internal(format!("retrying job {id} panicked: {e}")))?;
    Ok(retried?)
}

fn bad_query(e: QueryRejection) -> HttpError {
    HttpError::bad_request(e.body_text())
}

fn limit(requested: Option<i64>) -> Result<i64, HttpError> {
    match requested {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(n) => Err(HttpError::bad_request(format!(
            "limit {n} is out of range: use 1 to {MAX_LIMIT}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconcile_body_is_optional_and_strict() {
        let empty = parse_reconcile(b"").unwrap();
        assert!(empty.pair.is_none() && !empty.full);
        let named = parse_reconcile(br#"{"pair":"specs","full":true}"#).unwrap();
        assert_eq!(named.pair.as_deref(), Some("specs"));
        assert!(named.full);
        assert!(parse_reconcile(br#"{"fulll":true}"#).is_err());
        assert!(parse_reconcile(b"nope").is_err());
    }
}
