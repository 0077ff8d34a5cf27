//! The Airtable API client, its models, the webhook payload model and the
//! payload cursor walk.
//!
//! - [`AirtableClient`]: records (writes chunked by 10), schema, whoami and
//!   webhooks, paced by one [`Budget`](crate::clients::ratelimit::Budget) per base.
//! - [`model`]: records and schema (REST cells in the V1 format, as JSON).
//! - [`webhook`]: payloads (V2 cells), [`PayloadDrain`] and gap detection.

mod client;
mod error;
pub mod model;
mod records;
pub mod webhook;
mod webhook_api;

pub use crate::clients::retry::RetryPolicy;
pub use client::{AirtableClient, DEFAULT_PENALTY, DEFAULT_TIMEOUT};
pub use error::BILLING_LIMIT_EXCEEDED;
pub use model::{
    CreatedWebhook, DeletedRecord, FieldSchema, Fields, ListParams, Record, RecordPage, Sort,
    TableSchema, UpsertResult, WebhookInfo, WhoAmI,
};
pub use records::{MAX_PAGE_SIZE, MAX_RECORDS_PER_WRITE, MAX_URL_LEN, chunks_of_10};
pub use webhook::{Gap, Payload, PayloadDrain, PayloadPage, Source, TableChanged, gap_in};
