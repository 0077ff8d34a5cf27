//! How a request budget spaces its calls, and the next slot of a schedule:
//! the arithmetic the `rate_limits` table runs inside its transactions and
//! an in-process budget runs under its lock.

use std::time::Duration;

/// How a budget spaces its calls.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pace {
    /// A GCRA / leaky bucket: one call per `interval` on average, up to
    /// `burst` ahead of schedule (Notion: "an average of three requests per
    /// second", bursts allowed).
    Spaced { interval: Duration, burst: Duration },
    /// At most `calls` calls start within any `window` (a sliding log):
    /// Airtable's "5 requests per second per base" exactly, so that the
    /// two or three calls of one change go out together instead of a fifth
    /// of a second apart.
    Window { calls: u32, window: Duration },
    /// Never waits (tests that exercise the vendor's own 429s).
    Unlimited,
}

impl Pace {
    /// `per_second` calls per second on average, `burst` back to back.
    pub fn spaced(per_second: f64, burst: u32) -> Self {
        assert!(per_second > 0.0, "a budget needs a positive rate");
        let interval = Duration::from_secs_f64(1.0 / per_second);
        Pace::Spaced {
            interval,
            burst: interval * burst.saturating_sub(1),
        }
    }

    /// Whether the vendor counts every window of this pace strictly
    /// (Airtable's "5 requests per second"), so that a call sent later
    /// than its slot could be one too many in some window; a spaced pace
    /// keeps an average with bursts allowed (Notion).
    pub fn counts_each_window(&self) -> bool {
        matches!(self, Pace::Window { .. })
    }

    /// This pace with its window `extra` wider (a spaced or unlimited pace
    /// is unchanged).
    pub fn widened(self, extra: Duration) -> Self {
        match self {
            Pace::Window { calls, window } => Pace::Window {
                calls,
                window: window + extra,
            },
            other => other,
        }
    }

    /// The slot of the next call at or after `earliest` (times in any unit
    /// of milliseconds), updating the schedule: `tat` for a spaced pace,
    /// `recent` (ascending starts of the last calls) for a window.
    pub(crate) fn next_slot(&self, earliest: i64, tat: &mut i64, recent: &mut Vec<i64>) -> i64 {
        match *self {
            Pace::Spaced { interval, burst } => {
                let (interval, burst) = (ms(interval), ms(burst));
                let scheduled = (*tat).max(earliest);
                *tat = scheduled + interval;
                (scheduled - burst).max(earliest)
            }
            Pace::Window { calls, window } => {
                let calls = calls.max(1) as usize;
                let mut start = earliest.max(recent.last().copied().unwrap_or(i64::MIN));
                if recent.len() >= calls {
                    start = start.max(recent[recent.len() - calls] + ms(window));
                }
                recent.push(start);
                let excess = recent.len().saturating_sub(calls);
                recent.drain(..excess);
                start
            }
            Pace::Unlimited => earliest,
        }
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
