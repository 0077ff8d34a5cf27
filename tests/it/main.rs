//! Every integration test in one binary (one link of the crate instead of
//! one per file). Each module was a test binary of its own; nextest still
//! runs every test in a process of its own, so process-wide state (the
//! metrics registry, a captured log) stays per test.
//!
//!     scripts/with-postgres.sh cargo nextest run --test it <module>::
//!
//! The harness they share (databases on both backends, the sandboxes, the
//! `serve` binary, waits with deadlines) is `tests/common`.

// Tests unwrap: a failed step is a failed test (the service may not:
// Cargo.toml [lints]).
#![allow(clippy::unwrap_used)]

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod airtable_client;
mod airtable_webhooks;
mod alerts;
mod api_quota;
mod check;
mod cli;
mod collaborators;
mod collaborators_long;
mod collaborators_workspace;
mod computed_fields;
mod config;
mod data_safety;
mod date_time_zone;
mod delete_review;
mod demo;
mod deploy_files;
mod failures;
mod files_attachments;
mod files_large;
mod http_ingest;
mod init;
mod job_runner;
mod layers;
mod logs;
mod metrics;
mod no_duplicates;
mod notion_client;
mod page_body;
mod parsers_fuzz;
mod pipeline;
mod plain_types;
mod relations;
mod sandbox_airtable;
mod sandbox_computed;
mod sandbox_create;
mod sandbox_file_parts;
mod sandbox_notion;
mod sandbox_people;
mod sandbox_relations;
mod scenario_epics;
mod schema_drift;
mod scope;
mod serve_e2e;
mod signatures;
mod soak;
mod status_group;
mod status_page;
mod store_contract;
mod sync_e2e;
mod sync_model;
mod sync_randomized;
mod undo;
mod undo_http;
