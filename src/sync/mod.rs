//! The sync engine's pure logic (no I/O): canonical values and the
//! conversions between Notion properties, Airtable cells and them.

pub mod adopt;
mod claims;
pub mod convert;
pub mod engine;
pub mod merge;
pub mod pair;
pub mod payloads;
pub mod plan;
pub mod service;
pub mod value;
pub mod webhooks;
