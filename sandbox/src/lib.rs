//! Faithful sandbox servers for the Notion and Airtable APIs.
//!
//! Written from the vendors' documented behaviour (see ARCHITECTURE.md and
//! the api-facts this project was built from), never bent to suit the
//! service: the service, the tests, the demo and the benchmarks all talk to
//! them over HTTP exactly as they would talk to the real APIs.
//!
//! This crate is the vendors' side and imports nothing from the service;
//! the service's binary depends on it only for its `demo` and `sandbox`
//! commands.

pub mod airtable;
pub mod common;
pub mod files;
pub mod launch;
pub mod notion;
pub mod signing;
pub mod team;
