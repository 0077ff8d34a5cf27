//! Request budgets: one per Notion integration, one per Airtable base.
//!
//! A [`Budget`] paces calls below the vendor's limit (a GCRA / leaky bucket
//! with a small burst) and, after a 429, stops every call on that budget
//! until the vendor's `Retry-After` has passed. On its own a budget is
//! shared by every task of one process; [`Budget::with_shared`] backs it by
//! the database ([`SharedBudget`]) so that every replica of the service
//! draws on one schedule and a 429 seen by one pauses them all. Should the
//! database not answer, the in-process schedule paces the call instead.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use tokio::{sync::Mutex, time::Instant};

pub use super::limits::{
    AIRTABLE_CALLS_PER_WINDOW, AIRTABLE_RATE_PER_SEC, AIRTABLE_WINDOW, NOTION_BURST,
    NOTION_RATE_PER_SEC, airtable_pace,
};
use super::limits::{LATE_SEND, MAX_RESERVATIONS, MAX_WIDENING, WIDENING_PER_429};
use crate::{clients::SharedBudget, store::Pace};

#[derive(Debug)]
pub struct Budget {
    name: String,
    pace: Pace,
    /// How much wider than `pace` the window is now (ms), after 429s.
    widening_ms: AtomicU64,
    state: Mutex<State>,
    /// The deployment-wide schedule, when there is one.
    shared: Option<SharedBudget>,
}

#[derive(Debug)]
struct State {
    /// The schedule, in milliseconds since `origin`.
    tat: i64,
    recent: Vec<i64>,
    origin: Instant,
    /// No call may start before this instant (set by a 429).
    blocked_until: Option<Instant>,
}

impl Budget {
    /// A budget of `per_second` calls per second on average, allowing `burst`
    /// calls back to back.
    pub fn new(name: impl Into<String>, per_second: f64, burst: u32) -> Self {
        Self::with_pace(name, Pace::spaced(per_second, burst))
    }

    pub fn with_pace(name: impl Into<String>, pace: Pace) -> Self {
        Self {
            name: name.into(),
            pace,
            widening_ms: AtomicU64::new(0),
            state: Mutex::new(State {
                tat: 0,
                recent: Vec::new(),
                origin: Instant::now(),
                blocked_until: None,
            }),
            shared: None,
        }
    }

    /// A budget that never waits (tests that exercise the vendor's own 429s).
    pub fn unlimited(name: impl Into<String>) -> Self {
        Self::with_pace(name, Pace::Unlimited)
    }

    /// Pace calls by the database's schedule for this budget instead (one
    /// for every replica); this budget's own schedule is the fallback.
    pub fn with_shared(mut self, shared: SharedBudget) -> Self {
        self.shared = Some(shared);
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The pace calls keep now: the configured one, its window widened by
    /// the 429s seen so far.
    pub fn pace(&self) -> Pace {
        let widening = Duration::from_millis(self.widening_ms.load(Ordering::Relaxed));
        self.pace.widened(widening)
    }

    /// The deployment-wide schedule behind this budget, if any.
    pub fn shared(&self) -> Option<&SharedBudget> {
        self.shared.as_ref()
    }

    /// Wait until a call may be made, and reserve its slot.
    pub async fn acquire(&self) {
        let waited = self.acquire_within(None).await;
        debug_assert!(waited.is_ok(), "no limit, no refusal");
    }

    /// [`Budget::acquire`], unless a 429 penalty would hold the call for
    /// longer than `penalty_limit`: then no slot is taken and the time left
    /// comes back. A job uses this for its writes: a write planned from a
    /// read must go out soon after it, or be planned again from a fresh read
    /// (a person may edit the record during a 30-second pause, and a stale
    /// write would silently overwrite that edit).
    pub async fn acquire_within(&self, penalty_limit: Option<Duration>) -> Result<(), Duration> {
        if let Some(shared) = &self.shared {
            match shared.acquire_paced(penalty_limit, self.pace()).await {
                Ok(result) => return result,
                Err(e) => {
                    tracing::warn!(budget = %self.name, error = %e, "shared rate budget unavailable: pacing this process alone")
                }
            }
        }
        // A caller that wakes well after its slot (a busy machine) takes a
        // fresh one: sent late, it would crowd the calls reserved after it
        // into the vendor's window. The stale slot is left unused. A spaced
        // pace keeps an average, which a late call does not break.
        for _ in 0..MAX_RESERVATIONS {
            let start_at = self.reserve(penalty_limit).await?;
            tokio::time::sleep_until(start_at).await;
            let late = Instant::now().saturating_duration_since(start_at);
            if late <= LATE_SEND || !self.pace.counts_each_window() {
                return Ok(());
            }
        }
        tracing::warn!(budget = %self.name, "every slot this call took was missed (a busy machine): sending late");
        Ok(())
    }

    /// Reserve the next slot and return when it starts (or, past the
    /// penalty limit, how long the penalty has left).
    async fn reserve(&self, penalty_limit: Option<Duration>) -> Result<Instant, Duration> {
        let mut state = self.state.lock().await;
        let now = Instant::now().max(state.origin);
        let blocked = state.blocked_until.filter(|b| *b > now);
        if let (Some(until), Some(limit)) = (blocked, penalty_limit)
            && until - now > limit
        {
            return Err(until - now);
        }
        let earliest = millis(blocked.unwrap_or(now) - state.origin);
        let State { tat, recent, .. } = &mut *state;
        let start = self.pace().next_slot(earliest, tat, recent);
        Ok(state.origin + Duration::from_millis(u64::try_from(start).unwrap_or(0)))
    }

    /// The vendor answered 429: no call on this budget before `retry_after`.
    pub async fn penalize(&self, retry_after: Duration) {
        let until = Instant::now() + retry_after;
        let mut state = self.state.lock().await;
        state.blocked_until = Some(state.blocked_until.map_or(until, |b| b.max(until)));
        drop(state);
        match &self.shared {
            Some(shared) => {
                if let Err(e) = shared.penalize(retry_after).await {
                    tracing::warn!(budget = %self.name, error = %e, "could not share a rate-limit penalty with other replicas");
                }
            }
            None => {
                tracing::warn!(budget = %self.name, ?retry_after, "rate limited: pausing all calls on this budget")
            }
        }
    }

    /// The vendor answered 429 to a call this budget paced: pause as
    /// [`Budget::penalize`] does, and widen the window (up to a limit), since
    /// calls on this path arrive more spread out than its margin allows.
    pub async fn rate_limited(&self, retry_after: Duration) {
        // The calls already in flight when the vendor started refusing get
        // 429s too: one widening per pause, not one per refused call.
        let first = self.blocked_for().await.is_none();
        if first && matches!(self.pace, Pace::Window { .. }) {
            let step = WIDENING_PER_429.as_millis() as u64;
            let max = MAX_WIDENING.as_millis() as u64;
            let widened =
                self.widening_ms
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |w| {
                        (w < max).then(|| (w + step).min(max))
                    });
            if let Ok(before) = widened {
                tracing::warn!(budget = %self.name, window = ?self.pace(), widened_by_ms = (before + step).min(max), "a 429 on a paced budget: widening its window");
            }
        }
        self.penalize(retry_after).await;
    }

    /// Time left before calls may resume after a 429, if any.
    pub async fn blocked_for(&self) -> Option<Duration> {
        let state = self.state.lock().await;
        let now = Instant::now();
        state.blocked_until.filter(|b| *b > now).map(|b| b - now)
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

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
    async fn a_window_lets_its_calls_go_together_and_no_more() {
        let b = Budget::with_pace(
            "t",
            Pace::Window {
                calls: 5,
                window: Duration::from_secs(1),
            },
        );
        let t0 = Instant::now();
        let mut starts = Vec::new();
        for _ in 0..11 {
            b.acquire().await;
            starts.push(t0.elapsed().as_millis());
        }
        assert_eq!(starts, [0, 0, 0, 0, 0, 1000, 1000, 1000, 1000, 1000, 2000]);
    }

    #[test]
    fn no_window_of_the_airtable_pace_holds_more_than_five_calls() {
        let pace = airtable_pace();
        let (mut tat, mut recent) = (0, Vec::new());
        let mut starts = Vec::new();
        // Callers arriving at every millisecond for three seconds.
        for now in (0..3_000).step_by(7) {
            starts.push(pace.next_slot(now, &mut tat, &mut recent));
        }
        for (i, &s) in starts.iter().enumerate() {
            let within = starts[i..].iter().take_while(|&&t| t < s + 1_000).count();
            assert!(within <= 5, "{within} calls within a second of {s}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_limited_acquire_refuses_a_long_penalty_without_taking_a_slot() {
        let b = Budget::with_pace(
            "t",
            Pace::Window {
                calls: 1,
                window: Duration::from_secs(1),
            },
        );
        b.penalize(Duration::from_secs(30)).await;
        let left = b
            .acquire_within(Some(Duration::from_secs(2)))
            .await
            .unwrap_err();
        assert!(left > Duration::from_secs(29), "{left:?}");
        // Nothing was reserved: after the penalty the first call goes at once.
        tokio::time::advance(Duration::from_secs(30)).await;
        let t0 = Instant::now();
        b.acquire_within(Some(Duration::from_secs(2)))
            .await
            .unwrap();
        assert_eq!(t0.elapsed(), Duration::ZERO);
        // A short penalty is waited out.
        b.penalize(Duration::from_secs(1)).await;
        b.acquire_within(Some(Duration::from_secs(2)))
            .await
            .unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn each_429_widens_a_window_up_to_the_limit() {
        let b = Budget::with_pace("t", airtable_pace());
        let window = |b: &Budget| match b.pace() {
            Pace::Window { window, .. } => window.as_millis(),
            other => panic!("{other:?}"),
        };
        assert_eq!(window(&b), 1_040);
        b.rate_limited(Duration::from_secs(30)).await;
        assert_eq!(window(&b), 1_060);
        // The other calls in flight get their 429s during the same pause.
        b.rate_limited(Duration::from_secs(30)).await;
        assert_eq!(window(&b), 1_060, "one widening per pause");
        tokio::time::advance(Duration::from_secs(30)).await;
        for _ in 0..20 {
            b.rate_limited(Duration::ZERO).await;
        }
        assert_eq!(window(&b), 1_240, "widened at most MAX_WIDENING");
        // The schedule follows the wider window: the sixth call waits 1.24 s.
        let t0 = Instant::now();
        for _ in 0..6 {
            b.acquire().await;
        }
        assert_eq!(t0.elapsed(), Duration::from_millis(1_240));
        // A spaced pace (Notion's) is paused, never widened.
        let n = Budget::new("n", 3.0, 5);
        n.rate_limited(Duration::ZERO).await;
        assert_eq!(n.pace(), Pace::spaced(3.0, 5));
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
