//! What happens to every `/v0` request before its handler: the URL length limit, bearer
//! authentication, the per-base rate limit and the fault knobs (latency, injected 5xx and
//! 429). The control API (`/_sandbox`) never passes through here.

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    http::header,
    middleware::Next,
    response::{IntoResponse, Response},
};

use super::errors::AtError;
use super::state::Shared;
use crate::common::FaultRoll;

/// "Airtable's API only accepts request with a URL shorter than 16,000 characters."
const MAX_URL_CHARS: usize = 16_000;

pub(crate) async fn guard(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let latency = shared.faults.latency();
    match refuse(&shared, &req) {
        Some(err) => {
            crate::common::answer_after(latency).await;
            err.into_response()
        }
        None => crate::common::handle_after(latency, next.run(req)).await,
    }
}

/// The error that stops this request before its handler, if any.
fn refuse(shared: &Shared, req: &Request) -> Option<AtError> {
    if req.uri().to_string().len() >= MAX_URL_CHARS {
        // [U] the status and body for an over-long URL are not documented.
        return Some(AtError::typed(
            414,
            "URL_TOO_LONG",
            "The URL must be shorter than 16,000 characters; use POST …/listRecords",
        ));
    }
    if !authorized(req, &shared.token) {
        return Some(AtError::authentication_required());
    }
    if let Some(scope) = required_scope(req.method(), req.uri().path())
        && !shared.scopes.iter().any(|s| s == scope)
    {
        // A token without the scope gets the 403 whose message says to check "that both
        // your user and your token have the required permissions".
        return Some(AtError::model_not_found());
    }
    let base = base_of(req.uri().path());
    if let Some(base) = base
        && shared.rate_limit
        && !shared.limiter.admit(base)
    {
        return Some(AtError::rate_limited());
    }
    match shared.faults.roll(req.method().as_str(), req.uri().path()) {
        FaultRoll::Pass => None,
        FaultRoll::RateLimited => {
            if let Some(base) = base {
                shared.limiter.penalize(base);
            }
            Some(AtError::rate_limited())
        }
        FaultRoll::ServerError { pick } => Some(server_error(pick)),
    }
}

fn authorized(req: &Request, token: &str) -> bool {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return false;
    };
    let Ok(value) = value.to_str() else {
        return false;
    };
    match value.split_once(' ') {
        Some((scheme, presented)) => {
            scheme.eq_ignore_ascii_case("bearer") && presented.trim() == token
        }
        None => false,
    }
}

/// The scope a route needs (scopes in the docs of each endpoint): the Meta API
/// `schema.bases:read` / `:write`, webhooks `webhook:manage`, records
/// `data.records:read` / `:write`. `whoami` needs none.
pub(crate) fn required_scope(method: &axum::http::Method, path: &str) -> Option<&'static str> {
    let reads = *method == axum::http::Method::GET || path.ends_with("/listRecords");
    let mut parts = path.trim_start_matches('/').split('/');
    if parts.next() != Some("v0") {
        return None;
    }
    match (parts.next()?, parts.next()) {
        ("meta", Some("whoami")) => None,
        ("meta", _) if reads => Some("schema.bases:read"),
        ("meta", _) => Some("schema.bases:write"),
        ("bases", _) => Some("webhook:manage"),
        _ if reads => Some("data.records:read"),
        _ => Some("data.records:write"),
    }
}

/// The base a request is for: `/v0/{app…}/…`, `/v0/bases/{app…}/…`, `/v0/meta/bases/{app…}/…`.
pub(crate) fn base_of(path: &str) -> Option<&str> {
    let mut parts = path.trim_start_matches('/').split('/');
    if parts.next() != Some("v0") {
        return None;
    }
    let candidate = match parts.next()? {
        "bases" => parts.next()?,
        "meta" => match (parts.next()?, parts.next()) {
            ("bases", Some(base)) => base,
            _ => return None,
        },
        other => other,
    };
    candidate.starts_with("app").then_some(candidate)
}

/// An injected server error: 500, 502 (a gateway's non-JSON page) or the documented 503.
fn server_error(pick: u32) -> AtError {
    match pick % 3 {
        // [U] the docs describe 500 without a body; the type name is the sandbox's.
        0 => AtError::typed(
            500,
            "SERVER_ERROR",
            "The server encountered an unexpected condition",
        ),
        1 => AtError::bad_gateway(),
        _ => AtError::typed(
            503,
            "RETRIABLE_ERROR",
            "Server encountered an error while processing your request, and it is safe to retry the request",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_base_is_found_in_every_route_shape() {
        assert_eq!(base_of("/v0/appA/Table"), Some("appA"));
        assert_eq!(base_of("/v0/bases/appB/webhooks"), Some("appB"));
        assert_eq!(base_of("/v0/meta/bases/appC/tables"), Some("appC"));
        assert_eq!(base_of("/v0/meta/whoami"), None);
        assert_eq!(base_of("/_sandbox/calls"), None);
    }

    #[test]
    fn each_route_family_needs_its_scope() {
        use axum::http::Method;
        let field = "/v0/meta/bases/appA/tables/tblT/fields/fldF";
        assert_eq!(
            required_scope(&Method::PATCH, field),
            Some("schema.bases:write")
        );
        assert_eq!(
            required_scope(&Method::GET, "/v0/meta/bases/appA/tables"),
            Some("schema.bases:read")
        );
        assert_eq!(required_scope(&Method::GET, "/v0/meta/whoami"), None);
        assert_eq!(
            required_scope(&Method::POST, "/v0/appA/T/listRecords"),
            Some("data.records:read")
        );
        assert_eq!(
            required_scope(&Method::PATCH, "/v0/appA/T"),
            Some("data.records:write")
        );
        assert_eq!(
            required_scope(&Method::POST, "/v0/bases/appA/webhooks"),
            Some("webhook:manage")
        );
    }
}
