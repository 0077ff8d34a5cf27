//! The status page (`GET /`) and its Retry form over real HTTP, on a real
//! store (SQLite file and fresh Postgres database), plus a real-browser test
//! (headless Chromium driving the `serve` binary against both sandboxes).
//!
//!     scripts/with-postgres.sh cargo nextest run --test it status_page::
//!
//! The browser test needs `/usr/bin/chromium` and `/usr/bin/chromedriver`
//! (Debian's `chromium` and `chromium-driver`, which `.ci/run` installs); it
//! says so and skips when they are absent.

use crate::common;
pub mod activity;
pub mod browser;
pub mod http;

use self::activity::*;
use self::http::*;
use common::TestDb;

both_backends! {
    without_credentials_a_browser_is_asked_to_log_in,
    basic_auth_with_the_admin_token_opens_the_page_and_the_admin_api,
    the_page_shows_pairs_webhooks_dead_jobs_conflicts_and_changes,
    values_from_users_are_escaped,
    retry_form_retries_a_dead_job_and_refuses_cross_site_posts,
    verification_tokens_can_be_dismissed_and_the_applied_one_is_hidden,
    sync_issues_are_shown_per_pair_escaped_until_cleared,
    the_page_stays_fast_with_many_inbox_rows,
    records_and_pairs_are_named_and_the_day_is_drawn,
    without_a_mapped_title_records_keep_their_links,
}
