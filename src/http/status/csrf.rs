//! Tokens for the status page's forms. A browser logged in with Basic auth
//! sends the credentials with any request to this origin, including a form
//! that another site posts here; such a site cannot read the page, so it
//! cannot know the token in the form's hidden field.
//!
//! The token is an HMAC of the action under the admin token: nothing to
//! store, the same for every replica, and changed with the admin token.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::store::JobId;

type HmacSha256 = Hmac<Sha256>;

/// The name of the hidden field.
pub(super) const FIELD: &str = "csrf";

fn mac(admin_token: &str, action: &str) -> HmacSha256 {
    let mut mac =
        HmacSha256::new_from_slice(admin_token.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(b"notion-airtable-sync status page\n");
    mac.update(action.as_bytes());
    mac
}

fn retry_action(job: JobId) -> String {
    format!("POST /jobs/{job}/retry")
}

const DISMISS_TOKEN_ACTION: &str = "POST /notion/verification-tokens/dismiss";

fn token(admin_token: &str, action: &str) -> String {
    hex::encode(mac(admin_token, action).finalize().into_bytes())
}

/// Constant time.
fn valid(admin_token: &str, action: &str, presented: &str) -> bool {
    let Ok(bytes) = hex::decode(presented.trim()) else {
        return false;
    };
    mac(admin_token, action).verify_slice(&bytes).is_ok()
}

/// The token of the Retry form of `job` (hex).
pub(super) fn retry_token(admin_token: &str, job: JobId) -> String {
    token(admin_token, &retry_action(job))
}

/// Whether `presented` is the Retry token of `job`.
pub(super) fn retry_token_valid(admin_token: &str, job: JobId, presented: &str) -> bool {
    valid(admin_token, &retry_action(job), presented)
}

/// The token of the form that dismisses a Notion verification token.
pub(super) fn dismiss_token(admin_token: &str) -> String {
    token(admin_token, DISMISS_TOKEN_ACTION)
}

pub(super) fn dismiss_token_valid(admin_token: &str, presented: &str) -> bool {
    valid(admin_token, DISMISS_TOKEN_ACTION, presented)
}

/// The form action of a delete review decision (`approve` or `reject`).
fn review_action(id: i64, decision: &str) -> String {
    format!("POST /deletes/{id}/{decision}")
}

/// The token of the Approve or Reject form of delete review `id`.
pub(super) fn review_token(admin_token: &str, id: i64, decision: &str) -> String {
    token(admin_token, &review_action(id, decision))
}

pub(super) fn review_token_valid(
    admin_token: &str,
    id: i64,
    decision: &str,
    presented: &str,
) -> bool {
    valid(admin_token, &review_action(id, decision), presented)
}

fn undo_entry_action(entry: i64) -> String {
    format!("POST /log/{entry}/undo")
}

fn undo_run_action(run: &str) -> String {
    format!("POST /runs/{run}/undo")
}

/// The token of the Undo form of one log entry.
pub(super) fn undo_entry_token(admin_token: &str, entry: i64) -> String {
    token(admin_token, &undo_entry_action(entry))
}

pub(super) fn undo_entry_token_valid(admin_token: &str, entry: i64, presented: &str) -> bool {
    valid(admin_token, &undo_entry_action(entry), presented)
}

/// The token of the Undo form of one run.
pub(super) fn undo_run_token(admin_token: &str, run: &str) -> String {
    token(admin_token, &undo_run_action(run))
}

pub(super) fn undo_run_token_valid(admin_token: &str, run: &str, presented: &str) -> bool {
    valid(admin_token, &undo_run_action(run), presented)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_bound_to_its_job_and_to_the_admin_token() {
        let token = retry_token("admin", 7);
        assert!(retry_token_valid("admin", 7, &token));
        assert!(!retry_token_valid("admin", 8, &token));
        assert!(!retry_token_valid("other", 7, &token));
        assert!(!retry_token_valid("admin", 7, ""));
        assert!(!retry_token_valid("admin", 7, "not hex"));
        assert!(
            !dismiss_token_valid("admin", &token),
            "a token is bound to its action"
        );
        assert!(dismiss_token_valid("admin", &dismiss_token("admin")));
        let approve = review_token("admin", 3, "approve");
        assert!(review_token_valid("admin", 3, "approve", &approve));
        assert!(!review_token_valid("admin", 3, "reject", &approve));
        assert!(!review_token_valid("admin", 4, "approve", &approve));
        let undo = undo_entry_token("admin", 7);
        assert!(undo_entry_token_valid("admin", 7, &undo));
        assert!(!undo_entry_token_valid("admin", 8, &undo));
        assert!(!retry_token_valid("admin", 7, &undo));
        let run = undo_run_token("admin", "job-7");
        assert!(undo_run_token_valid("admin", "job-7", &run));
        assert!(!undo_run_token_valid("admin", "job-8", &run));
    }
}
