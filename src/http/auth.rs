//! Admin authentication: `Authorization: Bearer ADMIN_TOKEN` (scripts, cron)
//! or HTTP Basic with `ADMIN_TOKEN` as the password and any user name (a
//! browser's login prompt, for the status page).
//!
//! A browser sends Basic credentials on its own with every request to the
//! origin, including a form posted from another site. So a state-changing
//! request authenticated by Basic must not come from another site: when the
//! browser says where it comes from (`Sec-Fetch-Site`, `Origin`), that must be
//! this origin. Scripts send neither header and are not affected; Bearer
//! tokens are never sent by a browser on its own, so they need no such check.

use axum::{
    extract::FromRequestParts,
    http::{HeaderMap, Method, header, request::Parts},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{HttpError, Shared};

/// The realm a browser shows in its login prompt.
pub(crate) const REALM: &str = "notion-airtable-sync";

/// Proof that the request carried the admin token. Taking it as a handler
/// argument is what makes a route an admin route (JSON errors, for the API).
pub(crate) struct Admin;

impl FromRequestParts<Shared> for Admin {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, HttpError> {
        match authorize(parts, state) {
            Ok(()) => Ok(Admin),
            Err(denied) => Err(HttpError::Unauthorized {
                message: denied.message().to_owned(),
                bearer: true,
            }),
        }
    }
}

/// Why a request is not an admin's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Denied {
    /// `ADMIN_TOKEN` is unset: nothing can be authorized.
    NotConfigured,
    /// No usable `Authorization` header.
    Missing,
    /// Credentials were presented, but not the admin token.
    Wrong,
    /// Right credentials, but a browser sent them from another site.
    CrossSite,
}

impl Denied {
    pub(crate) fn message(self) -> &'static str {
        match self {
            Denied::NotConfigured => {
                "ADMIN_TOKEN is not configured: the admin API is disabled until it is set"
            }
            Denied::Missing => {
                "missing credentials: send `Authorization: Bearer <ADMIN_TOKEN>`, or Basic auth \
                 with the ADMIN_TOKEN as the password"
            }
            Denied::Wrong => "the credentials presented are not the ADMIN_TOKEN",
            Denied::CrossSite => {
                "a browser sent the ADMIN_TOKEN from another site: refused (cross-site request)"
            }
        }
    }
}

/// Whether the request carries the admin token (and, for a browser's unsafe
/// request with Basic credentials, comes from this origin).
pub(crate) fn authorize(parts: &Parts, state: &Shared) -> Result<(), Denied> {
    let Some(expected) = &state.admin_token else {
        return Err(Denied::NotConfigured);
    };
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or(Denied::Missing)?;
    let credential = parse_authorization(value).ok_or(Denied::Missing)?;
    if !tokens_equal(credential.secret(), expected.expose()) {
        return Err(Denied::Wrong);
    }
    let browser_sent = matches!(credential, Credential::Basic(_));
    if browser_sent && !is_safe(&parts.method) && !same_origin(&parts.headers) {
        let header = |name| parts.headers.get(name).and_then(|v| v.to_str().ok());
        tracing::warn!(
            path = %parts.uri.path(),
            origin = header("origin"),
            sec_fetch_site = header("sec-fetch-site"),
            host = header("host"),
            "refused an admin request a browser sent from another site"
        );
        return Err(Denied::CrossSite);
    }
    Ok(())
}

/// What an `Authorization` header presented.
#[derive(Debug, PartialEq, Eq)]
enum Credential {
    Bearer(String),
    /// The password (the user name is ignored).
    Basic(String),
}

impl Credential {
    fn secret(&self) -> &str {
        match self {
            Credential::Bearer(token) | Credential::Basic(token) => token,
        }
    }
}

/// `Bearer <token>` or `Basic base64(user:password)`, schemes in any case.
fn parse_authorization(value: &str) -> Option<Credential> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    let rest = rest.trim();
    if rest.is_empty() {
        return None;
    }
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(Credential::Bearer(rest.to_owned()));
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = String::from_utf8(STANDARD.decode(rest).ok()?).ok()?;
        // The user name cannot contain a colon; the password can.
        let (_user, password) = decoded.split_once(':')?;
        return (!password.is_empty()).then(|| Credential::Basic(password.to_owned()));
    }
    None
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// False when the browser says the request comes from another site.
///
/// `Sec-Fetch-Site` decides when present: the browser alone sets it, and it
/// stays exact where `Origin` is `null` (a page whose referrer policy is
/// `no-referrer` posts its forms with `Origin: null`). Older browsers send
/// only `Origin`, which must then name this host. A request with neither
/// (curl, scripts) is not known to be cross-site and passes; callers that
/// must be sure add a token (the status page's forms do).
pub(crate) fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        // `none`: typed in the address bar or opened from a bookmark.
        return matches!(site.to_str(), Ok("same-origin" | "none"));
    }
    match headers.get(header::ORIGIN) {
        None => true,
        Some(origin) => {
            let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
            match (origin.to_str().ok().and_then(origin_authority), host) {
                (Some(origin), Some(host)) => origin.eq_ignore_ascii_case(host),
                // `Origin: null` (sandboxed or privacy-sensitive contexts) or no Host.
                _ => false,
            }
        }
    }
}

/// `host[:port]` of an `Origin` value such as `http://127.0.0.1:8080`.
fn origin_authority(origin: &str) -> Option<&str> {
    let (scheme, authority) = origin.split_once("://")?;
    let known = scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https");
    (known && !authority.is_empty() && !authority.contains('/')).then_some(authority)
}

/// Constant time, lengths included: comparing digests hides how long the
/// real token is and where a guess first differs.
pub(crate) fn tokens_equal(presented: &str, expected: &str) -> bool {
    let a = Sha256::digest(presented.as_bytes());
    let b = Sha256::digest(expected.as_bytes());
    a.ct_eq(&b).into()
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn basic(user_password: &str) -> String {
        format!("Basic {}", STANDARD.encode(user_password))
    }

    #[test]
    fn bearer_values_parse_strictly() {
        let bearer = |t: &str| Some(Credential::Bearer(t.to_owned()));
        assert_eq!(parse_authorization("Bearer abc"), bearer("abc"));
        assert_eq!(parse_authorization("bearer  abc "), bearer("abc"));
        assert_eq!(parse_authorization("Bearer "), None);
        assert_eq!(parse_authorization("abc"), None);
        assert_eq!(parse_authorization("Digest abc"), None);
    }

    #[test]
    fn basic_values_carry_the_password_and_ignore_the_user() {
        let password = |p: &str| Some(Credential::Basic(p.to_owned()));
        assert_eq!(
            parse_authorization(&basic("admin:s3cret")),
            password("s3cret")
        );
        assert_eq!(parse_authorization(&basic(":s3cret")), password("s3cret"));
        assert_eq!(parse_authorization(&basic("me:a:b")), password("a:b"));
        assert_eq!(parse_authorization(&basic("admin:")), None);
        assert_eq!(parse_authorization(&basic("no-colon")), None);
        // Not base64 at all: the raw token after `Basic` is not accepted.
        assert_eq!(parse_authorization("Basic s3cret-token"), None);
    }

    #[test]
    fn token_comparison() {
        assert!(tokens_equal("s3cret", "s3cret"));
        assert!(!tokens_equal("s3cre", "s3cret"));
        assert!(!tokens_equal("", "s3cret"));
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn same_origin_trusts_only_what_the_browser_says_about_this_origin() {
        let host = ("host", "127.0.0.1:8080");
        assert!(same_origin(&headers(&[host])));
        assert!(same_origin(&headers(&[
            host,
            ("origin", "http://127.0.0.1:8080"),
            ("sec-fetch-site", "same-origin"),
        ])));
        assert!(same_origin(&headers(&[host, ("sec-fetch-site", "none")])));
        // What Chromium sends for a same-origin form under `no-referrer`.
        assert!(same_origin(&headers(&[
            host,
            ("origin", "null"),
            ("sec-fetch-site", "same-origin"),
        ])));
        assert!(!same_origin(&headers(&[
            host,
            ("origin", "http://127.0.0.1:8080"),
            ("sec-fetch-site", "cross-site"),
        ])));
        assert!(!same_origin(&headers(&[
            host,
            ("origin", "http://evil.example")
        ])));
        assert!(!same_origin(&headers(&[
            host,
            ("origin", "http://127.0.0.1:9999")
        ])));
        assert!(!same_origin(&headers(&[host, ("origin", "null")])));
        assert!(!same_origin(&headers(&[
            host,
            ("sec-fetch-site", "cross-site")
        ])));
        assert!(!same_origin(&headers(&[
            host,
            ("sec-fetch-site", "same-site")
        ])));
    }
}
