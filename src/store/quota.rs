//! The arithmetic of a monthly API budget (pure; the counts come from
//! `api_calls`): the month a time falls in, how far to stretch the sweep
//! cadence so that the calls left last the month, and when the budget runs
//! out at the recent pace.
//!
//! Airtable resets its call quota every month; the service counts by UTC
//! calendar month.

use time::{Date, Month as CalendarMonth, OffsetDateTime, Time};

/// The longest stretch: 15-minute sweeps become daily. Past it the calls
/// left are so few that the sweeps wait for the next month instead.
pub const MAX_STRETCH: f64 = 96.0;

/// A UTC calendar month, `[start, end)` in epoch ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Month {
    pub start: i64,
    pub end: i64,
}

impl Month {
    /// The month `at` (epoch ms) falls in.
    pub fn containing(at: i64) -> Month {
        let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(at) * 1_000_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let first = first_day(at.year(), at.month());
        let next = match at.month() {
            CalendarMonth::December => first_day(at.year() + 1, CalendarMonth::January),
            m => first_day(at.year(), m.next()),
        };
        Month {
            start: first,
            end: next,
        }
    }

    pub fn length(self) -> i64 {
        self.end - self.start
    }
}

fn first_day(year: i32, month: CalendarMonth) -> i64 {
    let date = Date::from_calendar_date(year, month, 1).unwrap_or(Date::MIN);
    let at = date.with_time(Time::MIDNIGHT).assume_utc();
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

/// How the scheduled sweeps of a base run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cadence {
    /// At their shipped intervals.
    Normal,
    /// Their intervals multiplied by this factor (> 1).
    Stretched(f64),
    /// Not at all until the month ends (or the budget is raised): the calls
    /// left are spent on webhook-driven work only.
    Suspended,
}

impl Cadence {
    /// `every` under this cadence; None when suspended.
    pub fn interval(self, every: std::time::Duration) -> Option<std::time::Duration> {
        match self {
            Cadence::Normal => Some(every),
            Cadence::Stretched(factor) => Some(every.mul_f64(factor)),
            Cadence::Suspended => None,
        }
    }
}

/// The sweep cadence of a base that has used `used` of `budget` calls this
/// `month` at `now`: stretched by the share of the month left over the
/// share of the calls left. A base on pace (or under it) sweeps normally;
/// one that has spent 75% of its calls halfway through the month sweeps
/// half as often (0.5 / 0.25 = 2); one with no calls left, or so few that
/// the stretch passes [`MAX_STRETCH`], stops sweeping.
pub fn cadence(month: Month, now: i64, used: i64, budget: i64) -> Cadence {
    let left = budget - used;
    if budget <= 0 || left <= 0 {
        return Cadence::Suspended;
    }
    let time_share = (month.end - now).clamp(0, month.length()) as f64 / month.length() as f64;
    let calls_share = left as f64 / budget as f64;
    let factor = time_share / calls_share;
    if factor <= 1.0 {
        Cadence::Normal
    } else if factor > MAX_STRETCH {
        Cadence::Suspended
    } else {
        Cadence::Stretched(factor)
    }
}

/// When `budget` runs out at the pace of `recent` calls over the last
/// `window` ms, having used `used`: `Some(now)` when it already has, None
/// when it lasts past the month's end.
pub fn runs_out_at(
    month: Month,
    now: i64,
    used: i64,
    budget: i64,
    (recent, window): (i64, i64),
) -> Option<i64> {
    let left = budget - used;
    if left <= 0 {
        return Some(now);
    }
    if recent <= 0 || window <= 0 {
        return None;
    }
    let ms_left = (left as f64 / recent as f64 * window as f64) as i64;
    let at = now.saturating_add(ms_left);
    (at < month.end).then_some(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    /// 2026-12-07T05:00:00Z and its month.
    const DEC_7: i64 = 1_796_619_600_000;

    #[test]
    fn months_are_utc_calendar_months() {
        let dec = Month::containing(DEC_7);
        assert_eq!(dec.start, 1_796_083_200_000, "2026-12-01T00:00Z");
        assert_eq!(dec.length(), 31 * DAY);
        assert_eq!(Month::containing(dec.end).start, dec.end, "January follows");
        assert_eq!(Month::containing(dec.end - 1), dec);
        let feb = Month::containing(1_802_217_600_000); // 2027-02-10
        assert_eq!(feb.length(), 28 * DAY);
    }

    #[test]
    fn on_pace_or_under_the_cadence_is_normal() {
        let m = Month {
            start: 0,
            end: 30 * DAY,
        };
        assert_eq!(cadence(m, 15 * DAY, 50_000, 100_000), Cadence::Normal);
        assert_eq!(cadence(m, 15 * DAY, 10, 100_000), Cadence::Normal);
        assert_eq!(cadence(m, 0, 0, 1_000), Cadence::Normal);
    }

    #[test]
    fn the_stretch_is_the_month_left_over_the_calls_left() {
        let m = Month {
            start: 0,
            end: 30 * DAY,
        };
        // Half the month left, a quarter of the calls: twice the interval.
        assert_eq!(
            cadence(m, 15 * DAY, 75_000, 100_000),
            Cadence::Stretched(2.0)
        );
        // 90% of the month left, 30% of the calls: three times.
        let Cadence::Stretched(f) = cadence(m, 3 * DAY, 700, 1_000) else {
            panic!("stretched")
        };
        assert!((f - 3.0).abs() < 1e-9, "{f}");
        let every = std::time::Duration::from_secs(900);
        assert_eq!(
            Cadence::Stretched(2.0).interval(every),
            Some(std::time::Duration::from_secs(1800))
        );
    }

    #[test]
    fn no_calls_left_suspends_the_sweeps() {
        let m = Month {
            start: 0,
            end: 30 * DAY,
        };
        assert_eq!(cadence(m, DAY, 1_000, 1_000), Cadence::Suspended);
        assert_eq!(cadence(m, DAY, 1_200, 1_000), Cadence::Suspended);
        // 29 days left for 0.1% of the calls: past the longest stretch.
        assert_eq!(cadence(m, DAY, 999, 1_000), Cadence::Suspended);
        assert_eq!(Cadence::Suspended.interval(std::time::Duration::ZERO), None);
    }

    #[test]
    fn the_run_out_date_follows_the_recent_pace() {
        let m = Month {
            start: 0,
            end: 30 * DAY,
        };
        // 1,000 left at 100 a day: ten days from now, inside the month.
        assert_eq!(
            runs_out_at(m, 10 * DAY, 9_000, 10_000, (100, DAY)),
            Some(20 * DAY)
        );
        // 1,000 left at 10 a day lasts past the month.
        assert_eq!(runs_out_at(m, 10 * DAY, 9_000, 10_000, (10, DAY)), None);
        assert_eq!(runs_out_at(m, 10 * DAY, 9_000, 10_000, (0, DAY)), None);
        assert_eq!(
            runs_out_at(m, 10 * DAY, 10_000, 10_000, (0, DAY)),
            Some(10 * DAY)
        );
    }
}
