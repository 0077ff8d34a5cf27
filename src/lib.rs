//! notion-airtable-sync: keeps a Notion database and an Airtable table in two-way sync.
//!
//! Module map (see ARCHITECTURE.md for the data flow):
//! - [`config`]: environment and `sync.toml`, parsed once into typed structs.
//! - [`api_error`]: the error classification both API clients share.
//! - [`ratelimit`]: request budgets per Notion integration / Airtable base.
//! - [`signature`]: webhook signature computation and verification.
//! - [`notion`], [`airtable`]: the API clients and their models.
//! - [`store`]: the database (SQLite or Postgres) behind one interface.
//!
//! The Notion and Airtable sandbox servers are their own crate,
//! `notion_airtable_sandbox` (`sandbox/`), used here only by the `demo` and
//! `sandbox` commands.

pub mod airtable;
pub mod api_error;
pub mod commands;
pub mod config;
pub mod demo;
pub mod http;
pub mod jobs;
pub mod metrics;
pub mod notion;
pub mod ratelimit;
pub mod secret;
pub mod serve;
pub mod signature;
pub mod store;
pub mod sync;
pub mod telemetry;
