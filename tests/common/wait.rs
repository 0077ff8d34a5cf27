//! Waiting on a condition with a deadline (tests never sleep a fixed time
//! for something to happen), and a free port to listen on.

use std::{
    net::TcpListener,
    time::{Duration, Instant},
};

/// How often [`eventually`] looks again: soon enough that a test waits
/// little past the condition, rarely enough not to load what it polls (an
/// HTTP server, a database).
pub const POLL: Duration = Duration::from_millis(100);

/// Poll `check` every [`POLL`] until it returns `Some`, or fail naming
/// `what` after `secs` seconds.
pub async fn eventually<T>(secs: u64, what: &str, check: impl AsyncFnMut() -> Option<T>) -> T {
    poll(Duration::from_secs(secs), POLL, what, check).await
}

/// Poll `holds` every `every` until it is true, or fail naming `what`
/// after `timeout` (for cheap in-process checks that need a finer grain).
/// A plain closure returning a future, so that a `Send` task can wait.
pub async fn until<F, Fut>(timeout: Duration, every: Duration, what: &str, mut holds: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !holds().await {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(every).await;
    }
}

/// Drive `request` to its answer while looking at `visible` every 5 ms:
/// the answer, and how long after the start `visible` first held if it did
/// before the answer came (a sandbox's write showing before its latency).
pub async fn answer_and_first_seen<T>(
    request: impl Future<Output = T>,
    mut visible: impl FnMut() -> bool,
) -> (T, Option<Duration>) {
    let started = Instant::now();
    let mut seen = None;
    tokio::pin!(request);
    loop {
        tokio::select! {
            answer = &mut request => return (answer, seen),
            () = tokio::time::sleep(Duration::from_millis(5)) => {
                if seen.is_none() && visible() {
                    seen = Some(started.elapsed());
                }
            }
        }
    }
}

/// Poll `check` every `every` until it returns `Some`, or fail naming
/// `what` after `timeout`.
pub async fn poll<T>(
    timeout: Duration,
    every: Duration,
    what: &str,
    mut check: impl AsyncFnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(every).await;
    }
}

/// Poll `mismatches` until it returns none, or fail after `secs` seconds
/// showing the last ones.
pub async fn until_none(secs: u64, what: &str, mismatches: impl AsyncFnMut() -> Vec<String>) {
    if let Err(left) = try_until_none(secs, mismatches).await {
        panic!("timed out waiting for {what}; still: {left:#?}");
    }
}

/// Poll `mismatches` until it returns none; after `secs` seconds, the last
/// ones (so the caller can show more before failing).
pub async fn try_until_none(
    secs: u64,
    mut mismatches: impl AsyncFnMut() -> Vec<String>,
) -> Result<(), Vec<String>> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let left = mismatches().await;
        if left.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(left);
        }
        tokio::time::sleep(POLL).await;
    }
}

/// A port nothing listens on now (the OS picks it; a process started
/// right after binds it).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind a free port")
        .local_addr()
        .expect("the bound address")
        .port()
}
