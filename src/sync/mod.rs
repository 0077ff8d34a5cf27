//! The sync engine's pure logic (no I/O): canonical values and the
//! conversions between Notion properties, Airtable cells and them.

pub mod body;
pub mod convert;
pub mod merge;
pub mod pair;
pub mod plan;
pub mod relation;
pub mod relation_target;
pub mod review;
pub mod scope;
pub mod scope_filter;
pub mod status_group;
pub mod undo;
mod undo_plan;
pub mod value;
