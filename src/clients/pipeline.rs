//! Several requests of one write in flight at once. Each request still waits
//! for its slot in its budget, so this never raises the rate: it lets the
//! rate be used when the vendor answers slowly (one request at a time
//! reaches at most 1 / latency calls a second).

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::{StreamExt, stream};

use super::{api_error::ApiError, limits::REQUESTS_IN_FLIGHT};

/// Send one request per item (a chunk of records), up to
/// [`REQUESTS_IN_FLIGHT`] at a time, and answer their results in input
/// order. After the first error no further request starts, but those
/// already sent are awaited, so that no answer (a created row's id) is lost
/// to a cancelled future.
pub async fn pipelined<X, R, F, Fut>(
    items: impl IntoIterator<Item = X>,
    send: F,
) -> Result<Vec<R>, ApiError>
where
    F: Fn(X) -> Fut,
    Fut: Future<Output = Result<R, ApiError>>,
{
    pipelined_each(items, send)
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// [`pipelined`], with every item's answer in input order: `None` for an
/// item not sent because an earlier request failed. A caller that must
/// keep what the other requests did (a write already made is logged) reads
/// these instead of the first error alone.
pub async fn pipelined_each<X, R, F, Fut>(
    items: impl IntoIterator<Item = X>,
    send: F,
) -> Vec<Option<Result<R, ApiError>>>
where
    F: Fn(X) -> Fut,
    Fut: Future<Output = Result<R, ApiError>>,
{
    let failed = AtomicBool::new(false);
    let failed = &failed;
    // The futures are made here (they start only when polled) rather than in
    // a stream's `map`, whose closure would make the caller's future lose
    // `Send` (higher-ranked lifetimes).
    let mut requests = Vec::new();
    for item in items {
        let request = send(item);
        requests.push(async move {
            if failed.load(Ordering::Acquire) {
                return None;
            }
            let answer = request.await;
            if answer.is_err() {
                failed.store(true, Ordering::Release);
            }
            Some(answer)
        });
    }
    stream::iter(requests)
        .buffered(REQUESTS_IN_FLIGHT)
        .collect()
        .await
}
