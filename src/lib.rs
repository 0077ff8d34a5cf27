//! notion-airtable-sync: keeps a Notion database and an Airtable table in two-way sync.
//!
//! The layers, each importing only those below it (ARCHITECTURE.md draws
//! them; `tests/it/layers.rs` keeps them true):
//! - [`app`]: the composition root (wiring, `serve`, the CLI commands, `demo`).
//! - [`http`]: verify, record, enqueue, answer; never calls a vendor.
//! - [`worker`]: what each job does, and the one error classifier.
//! - [`queue`]: the durable job runtime; knows no job kind.
//! - [`engine`]: the I/O of one pair: read both sides, plan, write, persist.
//! - [`jobs`]: the job vocabulary the ingest and the engine share.
//! - [`sync`]: the pure core: values, conversions, the merge, the plans.
//! - [`notion`], [`airtable`]: the API clients and their models.
//! - [`clients`]: what both clients share: transport, errors, retry, budgets.
//! - [`store`]: the database (SQLite or Postgres) behind one interface.
//! - leaves: [`metrics`], [`config`], [`telemetry`], [`secret`], [`signature`].

pub mod airtable;
pub mod alerts;
pub mod app;
pub mod clients;
pub mod config;
pub mod engine;
pub mod http;
pub mod jobs;
pub mod metrics;
pub mod notion;
pub mod queue;
pub mod secret;
pub mod signature;
pub mod store;
pub mod sync;
pub mod telemetry;
pub mod worker;
