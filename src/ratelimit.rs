//! Request budgets: one per Notion integration, one per Airtable base.
//!
//! A [`Budget`] paces calls below the vendor's limit (a GCRA / leaky bucket
//! with a small burst) and, after a 429, stops every call on that budget
//! until the vendor's `Retry-After` has passed. This in-process budget is
//! shared by every task of one process; the job pipeline layers a
//! database-backed penalty on top of it so that replicas share a 429 too.

use std::time::Duration;

use tokio::{sync::Mutex, time::Instant};

#[derive(Debug)]
pub struct Budget {
    name: String,
    /// Minimum average spacing between calls (1 / rate).
    interval: Duration,
    /// How far ahead of "now" the schedule may run, i.e. the burst allowance.
    burst: Duration,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// GCRA "theoretical arrival time" of the next call.
    tat: Instant,
    /// No call may start before this instant (set by a 429).
    blocked_until: Option<Instant>,
}

impl Budget {
    /// A budget of `per_second` calls per second on average, allowing `burst`
    /// calls back to back.
    pub fn new(name: impl Into<String>, per_second: f64, burst: u32) -> Self {
        assert!(per_second > 0.0, "a budget needs a positive rate");
        let interval = Duration::from_secs_f64(1.0 / per_second);
        Self {
            name: name.into(),
            interval,
            burst: interval * burst.saturating_sub(1),
            state: Mutex::new(State {
                tat: Instant::now(),
                blocked_until: None,
            }),
        }
    }

    /// A budget that never waits (tests that exercise the vendor's own 429s).
    pub fn unlimited(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            interval: Duration::ZERO,
            burst: Duration::ZERO,
            state: Mutex::new(State {
                tat: Instant::now(),
                blocked_until: None,
            }),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Wait until a call may be made, and reserve its slot.
    pub async fn acquire(&self) {
        let start_at = self.reserve().await;
        tokio::time::sleep_until(start_at).await;
    }

    /// Reserve the next slot and return when it starts.
    async fn reserve(&self) -> Instant {
        let mut state = self.state.lock().await;
        let now = Instant::now();
        let earliest = state.blocked_until.filter(|b| *b > now).unwrap_or(now);
        // The slot starts once the schedule is within the burst allowance.
        let tat = state.tat.max(earliest);
        let start_at = tat.checked_sub(self.burst).unwrap_or(tat).max(earliest);
        state.tat = tat + self.interval;
        start_at
    }

    /// The vendor answered 429: no call on this budget before `retry_after`.
    pub async fn penalize(&self, retry_after: Duration) {
        let until = Instant::now() + retry_after;
        let mut state = self.state.lock().await;
        state.blocked_until = Some(state.blocked_until.map_or(until, |b| b.max(until)));
        state.tat = state.tat.max(until);
        tracing::warn!(budget = %self.name, ?retry_after, "rate limited: pausing all calls on this budget");
    }

    /// Time left before calls may resume after a 429, if any.
    pub async fn blocked_for(&self) -> Option<Duration> {
        let state = self.state.lock().await;
        let now = Instant::now();
        state.blocked_until.filter(|b| *b > now).map(|b| b - now)
    }
}

/// Notion averages three requests per second per integration; we stay below it.
pub const NOTION_RATE_PER_SEC: f64 = 2.8;
/// Airtable allows five requests per second per base; we stay below it.
pub const AIRTABLE_RATE_PER_SEC: f64 = 4.8;

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn paces_calls_to_the_rate_after_the_burst() {
        let b = Budget::new("t", 5.0, 2);
        let t0 = Instant::now();
        for _ in 0..7 {
            b.acquire().await;
        }
        // 2 calls in the burst, then 5 more at 200 ms spacing ≈ 1.0 s.
        let elapsed = t0.elapsed();
        assert!(elapsed >= Duration::from_millis(990), "{elapsed:?}");
        assert!(elapsed <= Duration::from_millis(1010), "{elapsed:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn penalty_blocks_until_retry_after() {
        let b = Budget::new("t", 100.0, 10);
        b.penalize(Duration::from_secs(30)).await;
        let t0 = Instant::now();
        b.acquire().await;
        assert!(t0.elapsed() >= Duration::from_secs(30));
        assert!(b.blocked_for().await.is_none());
    }
}
