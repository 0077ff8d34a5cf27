//! `[airtable.budgets]` in `sync.toml`: a monthly API call budget per
//! Airtable base.
//!
//! ```toml
//! [airtable.budgets]
//! "appXXXXXXXXXXXXXX" = 100000   # calls per calendar month (UTC)
//! ```
//!
//! Airtable's Free and Team plans cap API calls per workspace and month;
//! the service counts per base, so a workspace with several synced bases
//! splits its cap between them (and leaves room for other integrations).
//! Before a base's budget runs out, `serve` stretches its sweeps and
//! alerts; webhook-driven work goes on.

use std::collections::BTreeMap;

use serde::Deserialize;

/// `[airtable]`: settings of the Airtable side that are not a pair's.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAirtableSection {
    #[serde(default)]
    budgets: BTreeMap<String, i64>,
}

/// Monthly call budgets by Airtable base id (bases without one have none).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiBudgets(BTreeMap<String, i64>);

impl ApiBudgets {
    /// A base's budget, if it has one.
    pub fn of(&self, base_id: &str) -> Option<i64> {
        self.0.get(base_id).copied()
    }

    /// (base id, budget), by base id.
    pub fn iter(&self) -> impl Iterator<Item = (&str, i64)> {
        self.0.iter().map(|(base, calls)| (base.as_str(), *calls))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Budgets as given (tests, and code that builds a configuration).
    pub fn from_pairs<'a>(budgets: impl IntoIterator<Item = (&'a str, i64)>) -> Self {
        ApiBudgets(
            budgets
                .into_iter()
                .map(|(base, calls)| (base.to_owned(), calls))
                .collect(),
        )
    }
}

/// Check `[airtable.budgets]` against the pairs' bases: each key an
/// Airtable base id some pair syncs, each value a positive whole number.
pub(super) fn validate_budgets(
    raw: Option<RawAirtableSection>,
    pair_bases: &[&str],
) -> Result<ApiBudgets, String> {
    let raw = raw.unwrap_or_default();
    for (base, calls) in &raw.budgets {
        if !base.starts_with("app") {
            return Err(format!(
                "[airtable.budgets] \"{base}\" is not an Airtable base id (app...)"
            ));
        }
        if !pair_bases.contains(&base.as_str()) {
            return Err(format!(
                "[airtable.budgets] \"{base}\" is not the base of any pair (bases: {})",
                pair_bases.join(", ")
            ));
        }
        if *calls <= 0 {
            return Err(format!(
                "[airtable.budgets] \"{base}\" = {calls}: a budget is a positive number of calls \
                 per month (leave the base out for no budget)"
            ));
        }
    }
    Ok(ApiBudgets(raw.budgets))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ApiBudgets, String> {
        let raw: RawAirtableSection = toml::from_str(text).map_err(|e| e.to_string())?;
        validate_budgets(Some(raw), &["appTeam", "appOther"])
    }

    #[test]
    fn budgets_are_read_per_base() {
        let budgets = parse("[budgets]\nappTeam = 100000\n").unwrap();
        assert_eq!(budgets.of("appTeam"), Some(100_000));
        assert_eq!(budgets.of("appOther"), None);
        assert!(validate_budgets(None, &[]).unwrap().is_empty());
    }

    #[test]
    fn bad_budgets_say_what_is_wrong() {
        let err = parse("[budgets]\nappTeam = 0\n").unwrap_err();
        assert!(err.contains("positive"), "{err}");
        let err = parse("[budgets]\nappTeam = -5\n").unwrap_err();
        assert!(err.contains("positive"), "{err}");
        let err = parse("[budgets]\nappNobody = 10\n").unwrap_err();
        assert!(err.contains("not the base of any pair"), "{err}");
        let err = parse("[budgets]\ntblX = 10\n").unwrap_err();
        assert!(err.contains("not an Airtable base id"), "{err}");
        assert!(parse("[budgets]\nappTeam = \"lots\"\n").is_err());
        assert!(parse("budget = 1\n").is_err(), "unknown keys are refused");
    }
}
