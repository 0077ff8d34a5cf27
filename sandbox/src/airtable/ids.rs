//! Ids that look like Airtable's (`app`/`tbl`/`fld`/`rec`/`ach`/`usr`/`viw`/`sel`/`itr` + 14
//! alphanumerics) and the millisecond clock the sandbox stamps changes with.

use rand::{Rng, distr::Alphanumeric};
use time::OffsetDateTime;

use crate::common::Clock;

/// A fresh id: `prefix` followed by 14 random alphanumerics.
pub(crate) fn new_id(prefix: &str) -> String {
    let suffix: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(14)
        .map(char::from)
        .collect();
    format!("{prefix}{suffix}")
}

/// Truncate to whole milliseconds, the precision Airtable renders.
pub(crate) fn millis(t: OffsetDateTime) -> OffsetDateTime {
    let ms = t.millisecond();
    t.replace_nanosecond(u32::from(ms) * 1_000_000).unwrap_or(t)
}

/// The sandbox's "now" at millisecond precision.
pub(crate) fn now_ms(clock: &Clock) -> OffsetDateTime {
    millis(clock.now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_real_shape() {
        let id = new_id("rec");
        assert_eq!(id.len(), 17);
        assert!(id.starts_with("rec"));
        assert!(id[3..].chars().all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn millis_drops_sub_millisecond_digits() {
        let t = time::macros::datetime!(2024-01-02 03:04:05.123456789 UTC);
        assert_eq!(
            millis(t),
            time::macros::datetime!(2024-01-02 03:04:05.123 UTC)
        );
    }
}
