//! What is wrong now, read from the store: each condition that holds, with
//! its key, the pair it concerns and a line saying what was seen. Details
//! are built from counts, names and ids only: never an error text that a
//! vendor or a URL could have put a secret in.

use std::time::Duration;

use crate::{
    config::ApiBudgets,
    store::{
        AirtableWebhook, IssueScope, JobState, Store, StoreError, duration_ms,
        quota::{self, Cadence, Month},
    },
};

use super::AlertConfig;

/// A condition seen at one evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// Unique per condition: `kind` or `kind:subject`.
    pub key: String,
    pub kind: &'static str,
    pub pair: Option<String>,
    pub detail: String,
    /// How long it must be seen without a break before it starts.
    pub hold: Duration,
}

impl Observation {
    fn new(kind: &'static str, subject: Option<&str>, detail: String) -> Self {
        Observation {
            key: subject.map_or_else(|| kind.to_owned(), |s| format!("{kind}:{s}")),
            kind,
            pair: None,
            detail,
            hold: Duration::ZERO,
        }
    }

    fn for_pair(mut self, pair: &str) -> Self {
        self.pair = Some(pair.to_owned());
        self
    }
}

/// The kind of a condition key (its part before the first `:`).
pub fn kind_of(key: &str) -> &str {
    key.split_once(':').map_or(key, |(kind, _)| kind)
}

/// Where the conditions are read from.
pub struct Sources<'a> {
    pub store: &'a Store,
    pub config: &'a AlertConfig,
    pub budgets: &'a ApiBudgets,
    /// (pair, Airtable base) of every configured pair.
    pub pairs: &'a [(String, String)],
}

impl Sources<'_> {
    /// Every condition that holds at `now`.
    pub async fn observe(&self, now: i64) -> Result<Vec<Observation>, StoreError> {
        let mut seen = Vec::new();
        seen.extend(self.dead_jobs().await?);
        seen.extend(self.schema_drift().await?);
        seen.extend(self.refused_tokens().await?);
        seen.extend(self.airtable_webhooks(now).await?);
        seen.extend(self.rate_limit_pauses(now).await?);
        seen.extend(self.queue_behind(now).await?);
        seen.extend(self.api_budgets(now).await?);
        Ok(seen)
    }

    async fn dead_jobs(&self) -> Result<Option<Observation>, StoreError> {
        let dead = self.store.job_counts().await?.dead;
        if dead == 0 {
            return Ok(None);
        }
        let newest = self.store.list_jobs(Some(JobState::Dead), 1).await?;
        let about = newest.first().map_or(String::new(), |j| {
            let pair = j
                .pair
                .as_deref()
                .map_or(String::new(), |p| format!(" of pair {p}"));
            format!("; the newest: a {} job{pair} (id {})", j.kind, j.id)
        });
        let detail =
            format!("{dead} dead job(s) need an operator (retry them on the status page){about}");
        Ok(Some(Observation::new("dead_jobs", None, detail)))
    }

    async fn schema_drift(&self) -> Result<Vec<Observation>, StoreError> {
        // Counted first: a pair's record issues (possibly many) are read
        // only when the pair has a field or pair issue.
        let stopped_scope = |scope: &str| scope == "field" || scope == "pair";
        let mut drifting: Vec<String> = Vec::new();
        for count in self.store.open_issues_by_scope().await? {
            if stopped_scope(&count.scope) && count.count > 0 && !drifting.contains(&count.pair) {
                drifting.push(count.pair);
            }
        }
        let mut issues = Vec::new();
        for pair in &drifting {
            issues.extend(self.store.open_issues(Some(pair)).await?);
        }
        let mut by_pair: Vec<(String, Vec<String>)> = Vec::new();
        for issue in issues
            .iter()
            .filter(|i| matches!(i.scope, IssueScope::Field | IssueScope::Pair))
        {
            let what = match issue.scope {
                IssueScope::Field => format!("field \"{}\"", issue.subject),
                _ => issue.subject.clone(),
            };
            match by_pair.iter_mut().find(|(p, _)| *p == issue.pair) {
                Some((_, list)) => list.push(what),
                None => by_pair.push((issue.pair.clone(), vec![what])),
            }
        }
        Ok(by_pair
            .into_iter()
            .map(|(pair, stopped)| {
                let detail = format!(
                    "pair {pair} stopped syncing {} by a schema change: {} (see the status page)",
                    plural(
                        stopped.len(),
                        "field or capability",
                        "fields or capabilities"
                    ),
                    stopped.join(", ")
                );
                Observation::new("schema_drift", Some(&pair), detail).for_pair(&pair)
            })
            .collect())
    }

    async fn refused_tokens(&self) -> Result<Vec<Observation>, StoreError> {
        Ok(self
            .store
            .api_access()
            .await?
            .into_iter()
            .filter(|a| a.refused())
            .map(|a| {
                let (vendor, whose) = match a.vendor.as_str() {
                    "airtable" => ("Airtable", format!("AIRTABLE_TOKEN on base {}", a.scope)),
                    _ => ("Notion", "NOTION_TOKEN".to_owned()),
                };
                let detail = format!(
                    "{vendor} refused {whose} ({}) on its latest call: renew the token or give it back its access",
                    a.refused_status
                );
                let mut seen = Observation::new("token_refused", Some(&format!("{}:{}", a.vendor, a.scope)), detail);
                seen.pair = self.pairs_on_base(&a.scope);
                seen
            })
            .collect())
    }

    async fn airtable_webhooks(&self, now: i64) -> Result<Vec<Observation>, StoreError> {
        let warning = duration_ms(self.config.webhook_expiry_warning);
        Ok(self
            .store
            .list_webhooks(None)
            .await?
            .iter()
            .filter_map(|w| webhook_problem(w, now, warning).map(|p| (w, p)))
            .map(|(w, problem)| {
                let detail = format!(
                    "the Airtable webhook {} of pair {} {problem}; changes made in Airtable arrive only with sweeps until it works",
                    w.webhook_id, w.pair
                );
                Observation::new("airtable_webhook", Some(&w.webhook_id), detail).for_pair(&w.pair)
            })
            .collect())
    }

    async fn rate_limit_pauses(&self, now: i64) -> Result<Vec<Observation>, StoreError> {
        let long = self.config.rate_limit_pause;
        Ok(self
            .store
            .paused_budgets(now)
            .await?
            .into_iter()
            .map(|(budget, until)| {
                let left = Duration::from_millis(u64::try_from(until - now).unwrap_or(0));
                let detail = format!(
                    "calls on the {budget} rate budget are held by rate-limit pauses (429) for \
                     longer than {} min; the current pause ends in {} s",
                    long.as_secs() / 60,
                    left.as_secs()
                );
                let mut seen = Observation::new("rate_limit_pause", Some(&budget), detail);
                // A pause announced longer than the limit starts at once;
                // shorter ones must follow each other for that long.
                seen.hold = if left > long { Duration::ZERO } else { long };
                seen.pair = budget
                    .strip_prefix("airtable:")
                    .and_then(|b| self.pairs_on_base(b));
                seen
            })
            .collect())
    }

    async fn queue_behind(&self, now: i64) -> Result<Option<Observation>, StoreError> {
        let Some(age) = self.store.oldest_pending_age(now).await? else {
            return Ok(None);
        };
        if age <= self.config.queue_behind {
            return Ok(None);
        }
        let pending = self.store.job_counts().await?.pending;
        let detail = format!(
            "the queue is falling behind: the oldest due job has waited {} min ({pending} pending)",
            age.as_secs() / 60
        );
        Ok(Some(Observation::new("queue_behind", None, detail)))
    }

    async fn api_budgets(&self, now: i64) -> Result<Vec<Observation>, StoreError> {
        if self.budgets.is_empty() {
            return Ok(Vec::new());
        }
        let month = Month::containing(now);
        let used = self.store.api_calls_since(month.start).await?;
        let day = self.store.api_calls_since(now - 86_400_000).await?;
        let calls = |totals: &[crate::store::ApiCallTotal], base: &str| {
            totals
                .iter()
                .find(|t| t.vendor == "airtable" && t.scope == base)
                .map_or(0, |t| t.calls)
        };
        let mut seen = Vec::new();
        for (base, budget) in self.budgets.iter() {
            let used = calls(&used, base);
            let recent = (calls(&day, base), 86_400_000);
            let Some(out_at) = quota::runs_out_at(month, now, used, budget, recent) else {
                continue;
            };
            let when = if out_at <= now {
                "is used up".to_owned()
            } else {
                format!(
                    "runs out around {} at the last 24 hours' pace",
                    utc_day(out_at)
                )
            };
            let sweeps = match quota::cadence(month, now, used, budget) {
                Cadence::Normal => "sweeps run as usual".to_owned(),
                Cadence::Stretched(f) => format!("sweeps stretched ×{f:.1}"),
                Cadence::Suspended => {
                    "scheduled sweeps wait for next month; webhooks still sync".to_owned()
                }
            };
            let detail = format!(
                "the monthly API budget of Airtable base {base} {when}: {used} of {budget} calls this month; {sweeps}"
            );
            let mut observation = Observation::new("api_budget", Some(base), detail);
            observation.pair = self.pairs_on_base(base);
            seen.push(observation);
        }
        Ok(seen)
    }

    /// The pairs syncing `base`, comma-separated (None: none).
    fn pairs_on_base(&self, base: &str) -> Option<String> {
        let names: Vec<&str> = self
            .pairs
            .iter()
            .filter(|(_, b)| b == base)
            .map(|(p, _)| p.as_str())
            .collect();
        (!names.is_empty()).then(|| names.join(","))
    }
}

/// What is wrong with a registered webhook, if anything.
fn webhook_problem(w: &AirtableWebhook, now: i64, warning: i64) -> Option<String> {
    if !w.hook_enabled {
        return Some("is disabled".into());
    }
    if !w.notifications_enabled {
        return Some("has its notifications turned off by Airtable".into());
    }
    let failed = w
        .last_result
        .as_ref()
        .and_then(|r| r.get("success"))
        .and_then(serde_json::Value::as_bool)
        == Some(false);
    if failed {
        return Some("failed its last notification".into());
    }
    match w.expires_at {
        Some(at) if at <= now => Some("has expired".into()),
        Some(at) if at - now < warning => Some(format!(
            "expires in {} h (the daily refresh is not working)",
            (at - now) / 3_600_000
        )),
        _ => None,
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// `YYYY-MM-DD` of an epoch-ms time, UTC.
fn utc_day(at: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(at / 1000)
        .map(|t| t.date().to_string())
        .unwrap_or_default()
}
