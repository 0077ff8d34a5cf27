//! Airtable's per-base rate limit: 5 requests per second (a sliding one-second window), and
//! after a 429 every request to that base gets 429 until the penalty (30 s) has passed
//! (api-facts §4.3: "need to wait 30 seconds before subsequent requests will succeed").
//! Real time (`Instant`), not the sandbox clock: moving the clock does not lift a penalty.

use std::{
    collections::{HashMap, VecDeque},
    sync::Mutex,
    time::{Duration, Instant},
};

use crate::common::lock;

const WINDOW: Duration = Duration::from_secs(1);

#[derive(Debug, Default)]
struct BaseWindow {
    /// Accepted requests in the last second.
    recent: VecDeque<Instant>,
    penalty_until: Option<Instant>,
}

#[derive(Debug)]
pub(crate) struct RateLimiter {
    per_second: f64,
    penalty: Duration,
    bases: Mutex<HashMap<String, BaseWindow>>,
}

impl RateLimiter {
    pub fn new(per_second: f64, penalty: Duration) -> Self {
        Self {
            per_second,
            penalty,
            bases: Mutex::new(HashMap::new()),
        }
    }

    /// Admit one request to `base`, or refuse it (and start the penalty if this request
    /// is the one over the limit).
    pub fn admit(&self, base: &str) -> bool {
        self.admit_at(base, Instant::now())
    }

    fn admit_at(&self, base: &str, now: Instant) -> bool {
        let mut bases = lock(&self.bases);
        let w = bases.entry(base.to_string()).or_default();
        if w.penalty_until.is_some_and(|until| now < until) {
            return false;
        }
        while w
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= WINDOW)
        {
            w.recent.pop_front();
        }
        if (w.recent.len() as f64) >= self.per_second {
            w.penalty_until = Some(now + self.penalty);
            return false;
        }
        w.recent.push_back(now);
        true
    }

    /// Start the penalty now (an injected 429 behaves like a real one).
    pub fn penalize(&self, base: &str) {
        let mut bases = lock(&self.bases);
        bases.entry(base.to_string()).or_default().penalty_until =
            Some(Instant::now() + self.penalty);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sixth_request_in_a_second_starts_the_penalty() {
        let limiter = RateLimiter::new(5.0, Duration::from_secs(30));
        let t0 = Instant::now();
        for i in 0..5 {
            assert!(limiter.admit_at("app1", t0 + Duration::from_millis(i * 10)));
        }
        assert!(!limiter.admit_at("app1", t0 + Duration::from_millis(60)));
        // Other bases are independent.
        assert!(limiter.admit_at("app2", t0));
        // The window has moved on, but the penalty still holds ...
        assert!(!limiter.admit_at("app1", t0 + Duration::from_secs(5)));
        // ... until it has passed.
        assert!(limiter.admit_at("app1", t0 + Duration::from_secs(31)));
    }
}
