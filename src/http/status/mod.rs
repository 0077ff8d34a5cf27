//! The status page at `GET /`: server-rendered HTML for operators, behind
//! the admin token (a browser logs in with Basic auth, password
//! `ADMIN_TOKEN`). Its actions are forms that answer 303 back to the page:
//! Retry on a dead job (`POST /jobs/{id}/retry`, the store's retry) and
//! Dismiss on a Notion verification token once it has been pasted
//! (`POST /notion/verification-tokens/dismiss`), and Approve / Reject on a
//! held delete (`POST /deletes/{id}/approve|reject`, [`deletes`]); Undo on a logged change
//! or a run (`POST /log/{id}/undo`, `POST /runs/{run}/undo`: [`undo`]),
//! which answers with the undo's report.
//!
//! A browser re-sends Basic credentials on its own, so each form is guarded
//! against cross-site requests twice: it must carry the token of its hidden
//! field ([`csrf`]), and the browser must not say it comes from another site
//! (`Sec-Fetch-Site`, `Origin`). The page itself forbids framing and any
//! script (Content-Security-Policy).

mod activity;
mod chart;
mod csrf;
mod data;
mod deletes;
mod html;
mod page;
mod undo;
mod usage;

use axum::{
    Form, Router,
    extract::{
        FromRequestParts, Path, Query, State,
        rejection::{FormRejection, PathRejection, QueryRejection},
    },
    http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;

use super::{
    HttpError, Shared,
    admin::retry_dead,
    auth::{self, Denied, REALM},
};
use crate::store::{JobId, ReviewState, now_ms};
use data::StatusData;

pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route("/", get(status_page))
        .route("/jobs/{id}/retry", post(retry_job))
        .route("/deletes/{id}/{decision}", post(deletes::decide_form))
        .route("/log/{id}/undo", post(undo::undo_entry))
        .route("/runs/{run}/undo", post(undo::undo_run))
        .route(
            "/notion/verification-tokens/dismiss",
            post(dismiss_verification_token),
        )
}

/// An admin, for the HTML routes: a refusal is an HTML page, and a missing
/// or wrong password makes the browser prompt for it.
struct Operator {
    admin_token: String,
}

impl FromRequestParts<Shared> for Operator {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, PageError> {
        auth::authorize(parts, state).map_err(PageError::Denied)?;
        let admin_token = state
            .admin_token
            .as_ref()
            .map(|t| t.expose().to_owned())
            .unwrap_or_default();
        Ok(Operator { admin_token })
    }
}

/// What the page says after a Retry (from the redirect's query).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Notice {
    Retried {
        job: JobId,
        pending: JobId,
    },
    NotDead {
        job: JobId,
    },
    Dismissed,
    NotPending,
    /// A held delete was approved or rejected (`state` says which).
    Reviewed {
        id: i64,
        state: ReviewState,
    },
    /// A held delete that was not pending: nothing changed.
    ReviewRefused {
        id: i64,
    },
}

#[derive(Deserialize, Default)]
struct NoticeQuery {
    retried: Option<JobId>,
    pending: Option<JobId>,
    not_dead: Option<JobId>,
    dismissed: Option<bool>,
    review: Option<i64>,
    decision: Option<ReviewState>,
    review_refused: Option<i64>,
}

impl NoticeQuery {
    fn notice(&self) -> Option<Notice> {
        if let Some(job) = self.retried {
            let pending = self.pending.unwrap_or(job);
            return Some(Notice::Retried { job, pending });
        }
        if let Some(job) = self.not_dead {
            return Some(Notice::NotDead { job });
        }
        if let (Some(id), Some(state)) = (self.review, self.decision) {
            return Some(Notice::Reviewed { id, state });
        }
        if let Some(id) = self.review_refused {
            return Some(Notice::ReviewRefused { id });
        }
        self.dismissed.map(|done| {
            if done {
                Notice::Dismissed
            } else {
                Notice::NotPending
            }
        })
    }
}

/// `GET /`: the page, never cached (it shows a verification token).
async fn status_page(
    operator: Operator,
    State(state): State<Shared>,
    query: Result<Query<NoticeQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let data = StatusData::read(&state, now_ms()).await?;
    // A malformed notice is only a notice: the page shows without it.
    let notice = query.ok().and_then(|Query(q)| q.notice());
    let html = page::render(&data, &operator.admin_token, notice);
    Ok(html_response(StatusCode::OK, html))
}

#[derive(Deserialize)]
struct RetryForm {
    csrf: String,
}

/// `POST /jobs/{id}/retry` from the page's form: the store's retry of a dead
/// job, then 303 back to the page with a notice.
async fn retry_job(
    operator: Operator,
    State(state): State<Shared>,
    headers: HeaderMap,
    id: Result<Path<JobId>, PathRejection>,
    form: Result<Form<RetryForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Path(id) = id.map_err(|e| PageError::BadRequest(e.body_text()))?;
    if !auth::same_origin(&headers) {
        return Err(PageError::Forbidden(
            "this form was posted from another site",
        ));
    }
    let token_ok = form
        .as_ref()
        .is_ok_and(|Form(f)| csrf::retry_token_valid(&operator.admin_token, id, &f.csrf));
    if !token_ok {
        return Err(PageError::Forbidden(
            "the form's token is missing or wrong: reload the status page and use its Retry button",
        ));
    }
    let location = match retry_dead(&state.store, id).await? {
        Some(pending) => {
            tracing::info!(
                job_id = id,
                pending_job_id = pending,
                "dead job retried from the status page"
            );
            format!("/?retried={id}&pending={pending}")
        }
        None => format!("/?not_dead={id}"),
    };
    Ok(Redirect::to(&location).into_response())
}

#[derive(Deserialize)]
struct DismissForm {
    csrf: String,
    token: String,
}

/// `POST /notion/verification-tokens/dismiss`: the operator has pasted the
/// token into Notion (or it belongs to a deleted subscription); it stops
/// being shown. 303 back to the page.
async fn dismiss_verification_token(
    operator: Operator,
    State(state): State<Shared>,
    headers: HeaderMap,
    form: Result<Form<DismissForm>, FormRejection>,
) -> Result<Response, PageError> {
    if !auth::same_origin(&headers) {
        return Err(PageError::Forbidden(
            "this form was posted from another site",
        ));
    }
    let form = match form {
        Ok(Form(form)) if csrf::dismiss_token_valid(&operator.admin_token, &form.csrf) => form,
        _ => {
            return Err(PageError::Forbidden(
                "the form's token is missing or wrong: reload the status page and use its Dismiss button",
            ));
        }
    };
    let dismissed = state
        .store
        .acknowledge_verification_token(&form.token, now_ms())
        .await
        .map_err(HttpError::from)?;
    if dismissed {
        tracing::info!("Notion verification token dismissed from the status page");
    }
    Ok(Redirect::to(&format!("/?dismissed={dismissed}")).into_response())
}

/// Why the page or its form refused.
enum PageError {
    Denied(Denied),
    Forbidden(&'static str),
    BadRequest(String),
    Http(HttpError),
}

impl From<HttpError> for PageError {
    fn from(e: HttpError) -> Self {
        PageError::Http(e)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, message) = match &self {
            // Unset token: a prompt could never succeed, so say why instead.
            PageError::Denied(Denied::NotConfigured) => (
                StatusCode::FORBIDDEN,
                Denied::NotConfigured.message().to_owned(),
            ),
            PageError::Denied(Denied::CrossSite) => (
                StatusCode::FORBIDDEN,
                format!("Refused: {}.", Denied::CrossSite.message()),
            ),
            PageError::Denied(_) => (
                StatusCode::UNAUTHORIZED,
                "Log in with any user name and the service's ADMIN_TOKEN as the password."
                    .to_owned(),
            ),
            PageError::Forbidden(why) => (StatusCode::FORBIDDEN, format!("Refused: {why}.")),
            PageError::BadRequest(why) => (StatusCode::BAD_REQUEST, why.clone()),
            PageError::Http(e) => {
                let status = e.status();
                // The cause goes to the log; the page gets a summary only.
                tracing::warn!(error = %e, %status, "status page failed");
                let message = if status == StatusCode::SERVICE_UNAVAILABLE {
                    "The database is unavailable; reload in a few seconds."
                } else {
                    "Internal error; see the service's log."
                };
                (status, message.to_owned())
            }
        };
        let mut response = html_response(status, error_page(status, &message));
        if status == StatusCode::UNAUTHORIZED {
            let challenge = format!("Basic realm=\"{REALM}\"");
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, value);
            }
        }
        response
    }
}

/// The page of a refusal or failure: its status and why, and a way back.
fn error_page(status: StatusCode, message: &str) -> Markup {
    let code = status.as_u16();
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (code) " · notion-airtable-sync" }
            }
            body style="font-family:system-ui,sans-serif;margin:2em" {
                h1 { (code) }
                p { (message) }
                p { a href="/" { "Status page" } }
            }
        }
    }
}

/// HTML that is never cached, never framed, and runs no script.
fn html_response(status: StatusCode, html: Markup) -> Response {
    let mut response = (status, html.into_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    // Links to Notion and Airtable carry no referrer; the page's own form
    // keeps a real `Origin` (under `no-referrer` Chromium sends `null`).
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}
