//! The two webhook endpoints, and what they share: "record the event in the
//! inbox and enqueue its job in one transaction, then acknowledge".

pub mod airtable;
pub mod group_commit;
pub mod notion;
pub mod verification;

use std::net::SocketAddr;

use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::{HeaderMap, request::Parts},
};

use crate::store::{EnqueueOutcome, InboxEvent, NewJob, Store, StoreError};

/// What the ingest transaction did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Recorded {
    /// The event was seen before: nothing changed.
    Duplicate,
    /// A new inbox row, with the outcome of each job (in the order given).
    New(Vec<EnqueueOutcome>),
}

/// Insert the inbox row and enqueue `jobs` (possibly none) in one
/// transaction. A duplicate rolls back, so a redelivery costs one insert
/// that does nothing.
pub(crate) async fn record_and_enqueue(
    store: &Store,
    event: &InboxEvent,
    jobs: &[NewJob],
    now: i64,
) -> Result<Recorded, StoreError> {
    let mut tx = store.begin().await?;
    if !tx.insert_inbox(event).await? {
        // Nothing was written; roll back now to free the connection (on
        // SQLite, the write lock). Should that fail, dropping the transaction
        // rolls it back anyway, and the answer is the same.
        if let Err(e) = tx.rollback().await {
            tracing::debug!(error = %e, "rolling back a duplicate's transaction failed");
        }
        return Ok(Recorded::Duplicate);
    }
    let outcomes = tx.enqueue_many(jobs, now).await?;
    tx.commit().await?;
    Ok(Recorded::New(outcomes))
}

/// A header as text; a value that is not visible ASCII counts as absent
/// (it cannot be a valid signature either).
pub(crate) fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The peer's address when the server was started by [`super::serve`]
/// (absent when the router is driven some other way).
pub(crate) struct RemoteAddr(pub Option<SocketAddr>);

impl<S: Send + Sync> FromRequestParts<S> for RemoteAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let addr = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| *addr);
        Ok(RemoteAddr(addr))
    }
}
