//! Faithful sandbox servers for the Notion and Airtable APIs.
//!
//! Written from the vendors' documented behaviour (see ARCHITECTURE.md and
//! the api-facts this project was built from), never bent to suit the
//! service: the service, the tests, the demo and the benchmarks all talk to
//! them over HTTP exactly as they would talk to the real APIs.

pub mod airtable;
pub mod common;
pub mod launch;
pub mod notion;
pub mod team;
