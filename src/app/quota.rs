//! The monthly API budgets under `serve`: writing the call counts every few
//! seconds, and the sweep cadence of each pair, stretched by its base's
//! budget (`store::quota::cadence`) so that the calls left last the month.
//! Only the scheduled sweeps stretch: webhook-driven jobs run as they come.

use std::{collections::HashMap, future::Future, time::Duration};

use crate::{
    config::ApiBudgets,
    store::{
        ApiCallTotal, Store, duration_ms, now_ms,
        quota::{Cadence, Month, cadence},
    },
};

/// How often `serve` writes the calls it counted.
pub const FLUSH_CALLS_EVERY: Duration = Duration::from_secs(5);
/// Hourly counts are kept this long (13 months: a year of monthly totals).
const KEEP_CALL_COUNTS: Duration = Duration::from_secs(400 * 86_400);

/// Write the counted calls every `every` until `shutdown`, then once more.
pub async fn flush_calls(store: &Store, every: Duration, shutdown: impl Future<Output = ()>) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut prune = tokio::time::interval(Duration::from_secs(3600));
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            _ = tick.tick() => flush(store).await,
            _ = prune.tick() => {
                let before = now_ms() - duration_ms(KEEP_CALL_COUNTS);
                if let Err(e) = store.prune_api_calls(before).await {
                    tracing::warn!(error = %e, "could not prune the API call counts");
                }
            }
        }
    }
    flush(store).await;
}

/// One flush; a failure keeps the counts for the next.
pub async fn flush(store: &Store) {
    if let Err(e) = store.flush_api_calls().await {
        tracing::warn!(error = %e, "could not write the API call counts; keeping them for the next try");
    }
}

/// When each pair's sweeps are due, under its base's budget.
#[derive(Debug)]
pub struct SweepCadence {
    budgets: ApiBudgets,
    incremental_every: Duration,
    full_every: Duration,
    /// (pair, full) → when that sweep was last queued (epoch ms).
    last: HashMap<(String, bool), i64>,
    /// The cadence last logged per base, to log changes only.
    logged: HashMap<String, Cadence>,
}

impl SweepCadence {
    /// Started at `now`: the first incremental sweeps are one interval
    /// away; the full ones are due at once when `sweep_at_start`.
    pub fn new(
        budgets: ApiBudgets,
        (incremental_every, full_every): (Duration, Duration),
        pairs: &[(String, String)],
        now: i64,
        sweep_at_start: bool,
    ) -> Self {
        let mut last = HashMap::new();
        for (pair, _) in pairs {
            last.insert((pair.clone(), false), now);
            if !sweep_at_start {
                last.insert((pair.clone(), true), now);
            }
        }
        SweepCadence {
            budgets,
            incremental_every,
            full_every,
            last,
            logged: HashMap::new(),
        }
    }

    /// The sweeps due at `now` of `pairs` (pair, base), as (pair, full);
    /// each is counted as queued.
    pub async fn due(
        &mut self,
        store: &Store,
        pairs: &[(String, String)],
        now: i64,
    ) -> Vec<(String, bool)> {
        let used = self.month_usage(store, now).await;
        let mut due = Vec::new();
        for (pair, base) in pairs {
            let cadence = self.cadence_of(base, &used, now);
            for (full, every) in [(true, self.full_every), (false, self.incremental_every)] {
                let key = (pair.clone(), full);
                if is_due(self.last.get(&key).copied(), every, cadence, now) {
                    self.last.insert(key, now);
                    due.push((pair.clone(), full));
                }
            }
        }
        due
    }

    /// This month's calls per scope; empty without budgets (or when the
    /// store does not answer: sweeps then keep their shipped cadence).
    async fn month_usage(&self, store: &Store, now: i64) -> Vec<ApiCallTotal> {
        if self.budgets.is_empty() {
            return Vec::new();
        }
        match store.api_calls_since(Month::containing(now).start).await {
            Ok(used) => used,
            Err(e) => {
                tracing::warn!(error = %e, "could not read this month's API calls; sweeps keep their usual cadence");
                Vec::new()
            }
        }
    }

    fn cadence_of(&mut self, base: &str, used: &[ApiCallTotal], now: i64) -> Cadence {
        let Some(budget) = self.budgets.of(base) else {
            return Cadence::Normal;
        };
        let calls = used
            .iter()
            .find(|t| t.vendor == "airtable" && t.scope == base)
            .map_or(0, |t| t.calls);
        let cadence = cadence(Month::containing(now), now, calls, budget);
        if self.logged.get(base) != Some(&cadence) {
            match cadence {
                Cadence::Normal => tracing::info!(
                    base,
                    calls,
                    budget,
                    "API budget on pace: sweeps at their usual cadence"
                ),
                Cadence::Stretched(factor) => tracing::warn!(
                    base,
                    calls,
                    budget,
                    stretch = format!("{factor:.2}"),
                    "API budget running low: sweeps stretched"
                ),
                Cadence::Suspended => tracing::warn!(
                    base,
                    calls,
                    budget,
                    "API budget used up: no scheduled sweeps until next month; webhooks still sync"
                ),
            }
            self.logged.insert(base.to_owned(), cadence);
        }
        cadence
    }
}

/// A sweep last queued at `last` (None: never) is due at `now` under
/// `cadence` when its stretched interval has passed; never while suspended.
pub fn is_due(last: Option<i64>, every: Duration, cadence: Cadence, now: i64) -> bool {
    match cadence.interval(every) {
        None => false,
        Some(interval) => last.is_none_or(|last| now - last >= duration_ms(interval)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    #[test]
    fn a_stretched_sweep_waits_its_stretched_interval() {
        let every = Duration::from_secs(15 * 60);
        assert!(is_due(Some(0), every, Cadence::Normal, 15 * MIN));
        assert!(!is_due(Some(0), every, Cadence::Normal, 14 * MIN));
        assert!(!is_due(Some(0), every, Cadence::Stretched(2.0), 29 * MIN));
        assert!(is_due(Some(0), every, Cadence::Stretched(2.0), 30 * MIN));
        assert!(
            is_due(None, every, Cadence::Stretched(3.0), 0),
            "never swept: due"
        );
        assert!(!is_due(None, every, Cadence::Suspended, 0));
        assert!(!is_due(Some(0), every, Cadence::Suspended, 1_000 * MIN));
    }

    #[test]
    fn the_first_sweeps_follow_sweep_at_start() {
        let pairs = [("specs".to_owned(), "appA".to_owned())];
        let every = (Duration::from_secs(900), Duration::from_secs(86_400));
        let at_start = SweepCadence::new(ApiBudgets::default(), every, &pairs, 0, true);
        assert_eq!(at_start.last.get(&("specs".to_owned(), true)), None);
        assert_eq!(at_start.last.get(&("specs".to_owned(), false)), Some(&0));
        let later = SweepCadence::new(ApiBudgets::default(), every, &pairs, 0, false);
        assert_eq!(later.last.get(&("specs".to_owned(), true)), Some(&0));
    }
}
