//! Percentiles of latency samples (nearest rank on the sorted samples).

use std::time::Duration;

#[derive(Clone, Copy, Debug)]
pub struct Percentiles {
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

impl Percentiles {
    /// None when there are no samples.
    pub fn of(samples: &[Duration]) -> Option<Self> {
        if samples.is_empty() {
            return None;
        }
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        Some(Self {
            p50: rank(&sorted, 0.50),
            p99: rank(&sorted, 0.99),
            max: sorted[sorted.len() - 1],
        })
    }
}

/// The smallest sample with at least `q` of the samples at or below it.
fn rank(sorted: &[Duration], q: f64) -> Duration {
    let n = sorted.len();
    let idx = ((q * n as f64).ceil() as usize).clamp(1, n) - 1;
    sorted[idx]
}
