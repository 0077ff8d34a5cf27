//! `Authorization: Bearer ADMIN_TOKEN` for the admin routes.

use axum::{
    extract::FromRequestParts,
    http::{header, request::Parts},
};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{HttpError, Shared};

/// Proof that the request carried the admin token. Taking it as a handler
/// argument is what makes a route an admin route.
pub(crate) struct Admin;

impl FromRequestParts<Shared> for Admin {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, HttpError> {
        let Some(expected) = &state.admin_token else {
            return Err(refuse(
                "ADMIN_TOKEN is not configured: the admin API is disabled until it is set",
            ));
        };
        let presented = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer_token)
            .ok_or_else(|| refuse("missing `Authorization: Bearer <ADMIN_TOKEN>` header"))?;
        if tokens_equal(presented, expected.expose()) {
            Ok(Admin)
        } else {
            Err(refuse("the bearer token is not the ADMIN_TOKEN"))
        }
    }
}

fn refuse(message: &str) -> HttpError {
    HttpError::Unauthorized {
        message: message.to_owned(),
        bearer: true,
    }
}

/// The token of an `Authorization: Bearer <token>` value (scheme in any case).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Constant time, lengths included: comparing digests hides how long the
/// real token is and where a guess first differs.
fn tokens_equal(presented: &str, expected: &str) -> bool {
    let a = Sha256::digest(presented.as_bytes());
    let b = Sha256::digest(expected.as_bytes());
    a.ct_eq(&b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_values_parse_strictly() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer  abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("abc"), None);
    }

    #[test]
    fn token_comparison() {
        assert!(tokens_equal("s3cret", "s3cret"));
        assert!(!tokens_equal("s3cre", "s3cret"));
        assert!(!tokens_equal("", "s3cret"));
    }
}
