//! The times a person types to filter the sync log (`log --since`,
//! `GET /api/log?since=`), read as epoch milliseconds.

use time::{
    Date, OffsetDateTime, format_description::well_known::Rfc3339, macros::format_description,
};

/// A time filter: epoch milliseconds, an RFC 3339 time
/// (`2026-11-20T09:00:00Z`), a date (`2026-11-20`, midnight UTC), or an age
/// (`30m`, `2h`, `7d`: that long before `now`).
pub fn parse_since(since: &str, now: i64) -> Result<i64, String> {
    let since = since.trim();
    if let Ok(ms) = since.parse::<i64>() {
        return Ok(ms);
    }
    if let Ok(at) = OffsetDateTime::parse(since, &Rfc3339) {
        return i64::try_from(at.unix_timestamp_nanos() / 1_000_000)
            .map_err(|_| format!("`{since}` is out of range"));
    }
    if let Ok(day) = Date::parse(since, format_description!("[year]-[month]-[day]")) {
        return Ok(day.midnight().assume_utc().unix_timestamp() * 1000);
    }
    if let Some(age) = age_ms(since) {
        return Ok(now - age);
    }
    Err(format!(
        "`{since}` is not a time: use epoch milliseconds, 2026-11-20T09:00:00Z, 2026-11-20, or an age like 30m, 2h, 7d"
    ))
}

fn age_ms(text: &str) -> Option<i64> {
    let unit_at = text.len().checked_sub(1)?;
    let (count, unit) = text.split_at(unit_at);
    let count: i64 = count.parse().ok().filter(|n| *n >= 0)?;
    let unit_ms = match unit {
        "s" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    count.checked_mul(unit_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_accepts_milliseconds_times_dates_and_ages() {
        let now = 1_800_000_000_000;
        assert_eq!(
            parse_since("1700000000000", now).unwrap(),
            1_700_000_000_000
        );
        assert_eq!(parse_since("1970-01-01T00:00:01.5Z", now).unwrap(), 1500);
        assert_eq!(parse_since("1970-01-02", now).unwrap(), 86_400_000);
        assert_eq!(parse_since("2h", now).unwrap(), now - 7_200_000);
        assert_eq!(parse_since("7d", now).unwrap(), now - 7 * 86_400_000);
        assert_eq!(parse_since("30m", now).unwrap(), now - 1_800_000);
        for bad in ["yesterday", "2x", "h", "-3d", ""] {
            assert!(parse_since(bad, now).is_err(), "{bad}");
        }
    }
}
