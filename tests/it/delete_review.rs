//! The delete review queue (`review_deletes`), end to end against both
//! sandboxes over HTTP, on SQLite and Postgres: both delete directions
//! (a Notion page trashed under `on_notion_trash = "delete"`, an Airtable
//! row deleted under `on_airtable_delete = "trash"`), each held (nothing
//! deleted; the entry in `deletes list`, `GET /api/deletes` and the status
//! page), approved (the delete made by the record's reconcile job through
//! the queue and the engine), rejected (nothing deleted, not queued again)
//! and cleared by itself when the record comes back; two sweeps make one
//! entry; deciding an unknown or decided entry is an error that changes
//! nothing.

mod airtable_delete;
mod notion_trash;
mod store;
mod support;

use crate::common::TestDb;

use airtable_delete::an_airtable_delete_waits_for_review_before_its_page_is_trashed;
use notion_trash::a_notion_trash_waits_for_review_before_its_row_is_deleted;
use store::one_open_entry_per_record_and_decisions_only_while_pending;

both_backends! {
    a_notion_trash_waits_for_review_before_its_row_is_deleted,
    an_airtable_delete_waits_for_review_before_its_page_is_trashed,
    one_open_entry_per_record_and_decisions_only_while_pending,
}
