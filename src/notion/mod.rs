//! The Notion API client (version `2025-09-03`) and its models.
//!
//! - [`NotionClient`]: one method per endpoint, paced by a shared
//!   [`Budget`](crate::clients::ratelimit::Budget), errors classified as [`ApiError`](crate::clients::api_error::ApiError).
//! - [`model`]: pages, users, databases and data sources (tolerant reads).
//! - [`property`]: typed property values and write-body builders.
//! - [`files`]: file uploads and bounded reads of file URLs.
//! - [`rich_text`]: plain text and the 2,000-unit split for writes.

mod client;
mod endpoints;
mod error;
pub mod files;
mod ids;
pub mod markdown;
pub mod model;
pub mod property;
pub mod query;
pub mod rich_text;
mod user;

pub use crate::clients::retry::RetryPolicy;
pub use client::{DEFAULT_TIMEOUT, NOTION_VERSION, NotionClient};
pub use endpoints::{PropertyWrites, QueryPage, ResolveError};
pub use error::DEFAULT_RETRY_AFTER;
pub use ids::canonical_id;
pub use model::{DataSource, DataSourceRef, Database, Page, Parent, PropertySchema, User};
pub use property::{DateValue, PropertyData, PropertyValue, SelectOption, write};
pub use query::{Query, last_edited_on_or_after, sort_by_last_edited_time};
pub use rich_text::{RichText, plain_text, rich_text_objects};
