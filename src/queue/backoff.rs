//! Retry delays: exponential with full jitter ("sleep = random(0, min(cap,
//! base · 2^(attempt-1)))"), so that jobs failing together (an API outage)
//! do not come back together.

use std::time::Duration;

use rand::Rng;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Ceiling of the first retry's delay.
    pub base: Duration,
    /// No retry waits longer than this.
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(3600),
        }
    }
}

impl Backoff {
    /// The longest delay after the `attempt`-th attempt failed (1-based):
    /// base, 2·base, 4·base, ... up to the cap.
    pub fn ceiling(&self, attempt: i32) -> Duration {
        let doublings = u32::try_from(attempt.saturating_sub(1))
            .unwrap_or(0)
            .min(31);
        self.base
            .checked_mul(1u32 << doublings)
            .map_or(self.cap, |d| d.min(self.cap))
    }

    /// The same schedule with the cap lowered to `cap` (never raised).
    pub fn with_cap(self, cap: Duration) -> Self {
        Self {
            cap: self.cap.min(cap),
            ..self
        }
    }

    /// A random delay in `[0, ceiling(attempt)]`.
    pub fn delay(&self, attempt: i32, rng: &mut impl Rng) -> Duration {
        let ceiling = u64::try_from(self.ceiling(attempt).as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rng.random_range(0..=ceiling))
    }
}

#[cfg(test)]
mod tests {
    use rand::{SeedableRng, rngs::StdRng};

    use super::*;

    #[test]
    fn ceiling_doubles_from_the_base_up_to_the_cap() {
        let b = Backoff::default();
        let secs: Vec<u64> = [1, 2, 3, 4, 12, 13, 100, i32::MAX]
            .map(|n| b.ceiling(n).as_secs())
            .to_vec();
        assert_eq!(secs, [1, 2, 4, 8, 2048, 3600, 3600, 3600]);
        assert_eq!(b.ceiling(0), b.base);
        assert_eq!(b.ceiling(-3), b.base);
    }

    #[test]
    fn a_lower_cap_bounds_the_schedule_and_a_higher_one_changes_nothing() {
        let b = Backoff::default();
        let capped = b.with_cap(Duration::from_secs(30));
        assert_eq!(capped.ceiling(3), Duration::from_secs(4));
        assert_eq!(capped.ceiling(6), Duration::from_secs(30));
        assert_eq!(capped.ceiling(20), Duration::from_secs(30));
        assert_eq!(b.with_cap(Duration::from_secs(7200)), b);
    }

    #[test]
    fn delays_are_jittered_over_the_whole_range_below_the_ceiling() {
        let b = Backoff::default();
        let mut rng = StdRng::seed_from_u64(7);
        for attempt in 1..=6 {
            let ceiling = b.ceiling(attempt);
            let samples: Vec<Duration> = (0..500).map(|_| b.delay(attempt, &mut rng)).collect();
            assert!(samples.iter().all(|d| *d <= ceiling), "attempt {attempt}");
            // Full jitter: some delays near zero, some near the ceiling.
            assert!(
                samples.iter().any(|d| *d < ceiling / 10),
                "attempt {attempt}"
            );
            assert!(
                samples.iter().any(|d| *d > ceiling * 9 / 10),
                "attempt {attempt}"
            );
        }
    }
}
