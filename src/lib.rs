//! notion-airtable-sync: keeps a Notion database and an Airtable table in two-way sync.
//!
//! Module map (see ARCHITECTURE.md for the data flow):
//! - [`config`]: environment and `sync.toml`, parsed once into typed structs.
//! - [`api_error`]: the error classification both API clients share.
//! - [`ratelimit`]: request budgets per Notion integration / Airtable base.
//! - [`signature`]: webhook signature computation and verification.
//! - [`notion`], [`airtable`]: the API clients and their models.
//! - [`store`]: the database (SQLite or Postgres) behind one interface.
//! - [`sandbox`]: faithful Notion and Airtable sandbox servers.

pub mod airtable;
pub mod app;
pub mod clients;
pub mod config;
pub mod engine;
pub mod http;
pub mod jobs;
pub mod metrics;
pub mod notion;
pub mod queue;
pub mod sandbox;
pub mod secret;
pub mod signature;
pub mod store;
pub mod sync;
pub mod telemetry;
pub mod worker;
