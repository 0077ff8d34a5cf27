//! Configuration: the environment (the contract's variables) and the mapping
//! file `sync.toml`, each parsed once into typed structs.
//!
//! Errors name the variable, or the file, the pair and the field, and say what
//! is wrong, so that a bad deployment fails at start with a message an operator
//! can act on. Secrets are held in [`Secret`] and never printed.

mod budgets;
mod mapping;
mod scope;

use std::{net::SocketAddr, path::PathBuf};

pub use mapping::{
    AirtableDeleteAction, BODY_FIELD, BodyMapping, ConflictRule, DEFAULT_INBOX_RETENTION_DAYS,
    DEFAULT_JOB_RETENTION_DAYS, DEFAULT_LOG_RETENTION_DAYS, Direction, FieldMapping,
    MIN_INBOX_RETENTION_DAYS, MatchKey, NotionTrashAction, PairConfig, PairOptions, Retention,
    SyncConfig, shared_data_source_problems,
};

pub use budgets::ApiBudgets;
pub use scope::{OnLeave, ScopeConfig, Shorthand, parse_shorthand};

use crate::secret::Secret;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/sync.db";
pub const DEFAULT_SYNC_CONFIG: &str = "sync.toml";
pub const DEFAULT_LISTEN_ADDR: &str = "0.0.0.0:8080";
pub const DEFAULT_NOTION_API_URL: &str = "https://api.notion.com";
pub const DEFAULT_AIRTABLE_API_URL: &str = "https://api.airtable.com";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {name}: {problem}")]
    Env { name: &'static str, problem: String },
    #[error("{path}: {problem}")]
    File { path: String, problem: String },
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// The process environment, as the contract's table defines it.
#[derive(Debug, Clone)]
pub struct Env {
    /// Held as a secret: a Postgres URL usually carries a password.
    pub database_url: Secret,
    pub sync_config: PathBuf,
    pub listen_addr: SocketAddr,
    pub notion_token: Option<Secret>,
    pub airtable_token: Option<Secret>,
    pub notion_api_url: String,
    pub airtable_api_url: String,
    pub notion_webhook_secret: Option<Secret>,
    pub public_url: Option<String>,
    pub admin_token: Option<Secret>,
    pub log_format: LogFormat,
    /// How long a worker's claim on a job lasts without a heartbeat: after a
    /// crash, its jobs go to other workers this long after its last one.
    pub job_lease: std::time::Duration,
    /// How often `serve` prunes the sync log, finished jobs and the webhook
    /// inbox by the mapping file's retentions.
    pub prune_interval: std::time::Duration,
    /// Whether `serve` sweeps every pair fully at start (to heal what was
    /// missed while it was down); off, the first full sweep comes with the
    /// daily schedule and events are healed from the job table alone.
    pub sweep_at_start: bool,
    /// `ALERT_WEBHOOK_URL`: where `serve` posts its alerts (Slack-compatible
    /// incoming-webhook JSON). A secret: such URLs carry their own key.
    pub alert_webhook_url: Option<Secret>,
}

impl Env {
    /// Read the real process environment.
    pub fn from_process() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Read from any lookup function (tests pass a map). Empty values count
    /// as unset, so `FOO=` in an `.env` file means "use the default".
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let listen = get("LISTEN_ADDR").unwrap_or_else(|| DEFAULT_LISTEN_ADDR.to_owned());
        Ok(Self {
            database_url: Secret::new(
                get("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned()),
            ),
            sync_config: get("SYNC_CONFIG")
                .unwrap_or_else(|| DEFAULT_SYNC_CONFIG.to_owned())
                .into(),
            listen_addr: listen.parse().map_err(|_| ConfigError::Env {
                name: "LISTEN_ADDR",
                problem: format!("`{listen}` is not an address like 0.0.0.0:8080"),
            })?,
            notion_token: get("NOTION_TOKEN").map(Secret::new),
            airtable_token: get("AIRTABLE_TOKEN").map(Secret::new),
            notion_api_url: base_url(&get, "NOTION_API_URL", DEFAULT_NOTION_API_URL)?,
            airtable_api_url: base_url(&get, "AIRTABLE_API_URL", DEFAULT_AIRTABLE_API_URL)?,
            notion_webhook_secret: get("NOTION_WEBHOOK_SECRET").map(Secret::new),
            public_url: get("PUBLIC_URL")
                .map(|v| http_url("PUBLIC_URL", &v))
                .transpose()?,
            admin_token: get("ADMIN_TOKEN").map(Secret::new),
            log_format: log_format(get("LOG_FORMAT"))?,
            job_lease: job_lease(get("JOB_LEASE_SECS"))?,
            prune_interval: prune_interval(get("PRUNE_INTERVAL_SECS"))?,
            sweep_at_start: flag("SWEEP_AT_START", get("SWEEP_AT_START"), true)?,
            alert_webhook_url: get("ALERT_WEBHOOK_URL")
                .map(|v| alert_url(&v))
                .transpose()?,
        })
    }

    pub fn require_notion_token(&self) -> Result<&Secret, ConfigError> {
        self.notion_token.as_ref().ok_or(ConfigError::Env {
            name: "NOTION_TOKEN",
            problem: "is required (the Notion integration's internal token)".into(),
        })
    }

    pub fn require_airtable_token(&self) -> Result<&Secret, ConfigError> {
        self.airtable_token.as_ref().ok_or(ConfigError::Env {
            name: "AIRTABLE_TOKEN",
            problem: "is required (an Airtable personal access token)".into(),
        })
    }

    /// Load and validate the mapping file named by `SYNC_CONFIG`.
    pub fn load_sync_config(&self) -> Result<SyncConfig, ConfigError> {
        SyncConfig::load(&self.sync_config)
    }
}

fn base_url(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: &str,
) -> Result<String, ConfigError> {
    let value = get(name).unwrap_or_else(|| default.to_owned());
    http_url(name, &value)
}

/// Accept an absolute http(s) URL, returned without a trailing slash so that
/// API paths can be appended as `{base}/v1/...`.
fn http_url(name: &'static str, value: &str) -> Result<String, ConfigError> {
    match url::Url::parse(value) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
            Ok(value.trim_end_matches('/').to_owned())
        }
        _ => Err(ConfigError::Env {
            name,
            problem: format!("`{value}` is not an http(s) URL"),
        }),
    }
}

/// An http(s) URL, kept whole (path and query are the receiver's key) and
/// secret; the error does not repeat it.
fn alert_url(value: &str) -> Result<Secret, ConfigError> {
    match url::Url::parse(value.trim()) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {
            Ok(Secret::new(value.trim()))
        }
        _ => Err(ConfigError::Env {
            name: "ALERT_WEBHOOK_URL",
            problem: "is not an http(s) URL (value not shown: it is a secret)".into(),
        }),
    }
}

/// The default job lease: long enough that a heartbeat (a third of it)
/// is never late on a busy machine, short enough to recover quickly.
pub const DEFAULT_JOB_LEASE_SECS: u64 = 30;

fn job_lease(value: Option<String>) -> Result<std::time::Duration, ConfigError> {
    let Some(value) = value else {
        return Ok(std::time::Duration::from_secs(DEFAULT_JOB_LEASE_SECS));
    };
    match value.trim().parse::<u64>() {
        Ok(secs @ 3..=3600) => Ok(std::time::Duration::from_secs(secs)),
        _ => Err(ConfigError::Env {
            name: "JOB_LEASE_SECS",
            problem: format!("`{value}` is not a number of seconds from 3 to 3600"),
        }),
    }
}

/// The default pruning interval: hourly keeps every table within an hour
/// of its retention, at the cost of one indexed delete per table.
pub const DEFAULT_PRUNE_INTERVAL_SECS: u64 = 3600;

fn prune_interval(value: Option<String>) -> Result<std::time::Duration, ConfigError> {
    let Some(value) = value else {
        return Ok(std::time::Duration::from_secs(DEFAULT_PRUNE_INTERVAL_SECS));
    };
    match value.trim().parse::<u64>() {
        Ok(secs @ 1..=86_400) => Ok(std::time::Duration::from_secs(secs)),
        _ => Err(ConfigError::Env {
            name: "PRUNE_INTERVAL_SECS",
            problem: format!("`{value}` is not a number of seconds from 1 to 86400"),
        }),
    }
}

/// `true`/`false` (also `1`/`0`, `yes`/`no`), or `default` when unset.
fn flag(name: &'static str, value: Option<String>, default: bool) -> Result<bool, ConfigError> {
    let Some(value) = value else {
        return Ok(default);
    };
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(ConfigError::Env {
            name,
            problem: format!("`{value}` is neither `true` nor `false`"),
        }),
    }
}

fn log_format(value: Option<String>) -> Result<LogFormat, ConfigError> {
    match value.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("text") => Ok(LogFormat::Text),
        Some("json") => Ok(LogFormat::Json),
        Some(other) => Err(ConfigError::Env {
            name: "LOG_FORMAT",
            problem: format!("`{other}` is neither `text` nor `json`"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(vars: &[(&str, &str)]) -> Result<Env, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Env::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_follow_the_contract() {
        let e = env(&[]).unwrap();
        assert_eq!(e.database_url.expose(), "sqlite://data/sync.db");
        assert_eq!(e.sync_config, PathBuf::from("sync.toml"));
        assert_eq!(e.listen_addr.to_string(), "0.0.0.0:8080");
        assert_eq!(e.notion_api_url, "https://api.notion.com");
        assert_eq!(e.airtable_api_url, "https://api.airtable.com");
        assert!(e.notion_webhook_secret.is_none() && e.admin_token.is_none());
        assert_eq!(e.log_format, LogFormat::Text);
        assert_eq!(e.job_lease, std::time::Duration::from_secs(30));
        assert_eq!(e.prune_interval, std::time::Duration::from_secs(3600));
        assert!(e.sweep_at_start);
        assert!(e.require_notion_token().is_err());
    }

    #[test]
    fn prune_interval_and_sweep_at_start_are_checked() {
        let e = env(&[("PRUNE_INTERVAL_SECS", "2"), ("SWEEP_AT_START", "false")]).unwrap();
        assert_eq!(e.prune_interval, std::time::Duration::from_secs(2));
        assert!(!e.sweep_at_start);
        assert!(env(&[("SWEEP_AT_START", "YES")]).unwrap().sweep_at_start);
        for bad in ["0", "86401", "hourly"] {
            let err = env(&[("PRUNE_INTERVAL_SECS", bad)])
                .unwrap_err()
                .to_string();
            assert!(err.contains("PRUNE_INTERVAL_SECS"), "{bad}: {err}");
        }
        let err = env(&[("SWEEP_AT_START", "maybe")]).unwrap_err().to_string();
        assert!(err.contains("SWEEP_AT_START"), "{err}");
    }

    #[test]
    fn the_job_lease_is_seconds_within_bounds() {
        let lease = |v: &str| env(&[("JOB_LEASE_SECS", v)]).map(|e| e.job_lease.as_secs());
        assert_eq!(lease("5").unwrap(), 5);
        for bad in ["0", "2", "3601", "ten", "-1"] {
            let err = lease(bad).unwrap_err().to_string();
            assert!(err.contains("JOB_LEASE_SECS"), "{bad}: {err}");
        }
    }

    #[test]
    fn secrets_do_not_appear_in_debug_output() {
        let e = env(&[
            ("NOTION_TOKEN", "ntn_supersecret"),
            ("AIRTABLE_TOKEN", "patSUPERSECRET"),
            ("ADMIN_TOKEN", "admin-supersecret"),
            ("NOTION_WEBHOOK_SECRET", "secret_whsupersecret"),
            ("DATABASE_URL", "postgres://u:pgsupersecret@db/sync"),
        ])
        .unwrap();
        let debug = format!("{e:?}");
        assert!(!debug.to_lowercase().contains("supersecret"), "{debug}");
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err = env(&[("LISTEN_ADDR", "localhost")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("LISTEN_ADDR") && err.contains("localhost"),
            "{err}"
        );
        let err = env(&[("LOG_FORMAT", "yaml")]).unwrap_err().to_string();
        assert!(err.contains("LOG_FORMAT"), "{err}");
        let err = env(&[("NOTION_API_URL", "api.notion.com")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("NOTION_API_URL"), "{err}");
    }

    #[test]
    fn the_alert_url_is_a_secret_http_url() {
        let hook = "https://hooks.slack.com/services/T0/B0/supersecret";
        let e = env(&[("ALERT_WEBHOOK_URL", hook)]).unwrap();
        assert_eq!(e.alert_webhook_url.as_ref().unwrap().expose(), hook);
        assert!(!format!("{e:?}").contains("supersecret"));
        assert!(env(&[]).unwrap().alert_webhook_url.is_none());
        let err = env(&[("ALERT_WEBHOOK_URL", "hooks.slack.com/supersecret")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("ALERT_WEBHOOK_URL"), "{err}");
        assert!(!err.contains("supersecret"), "{err}");
    }

    #[test]
    fn base_urls_lose_their_trailing_slash() {
        let e = env(&[("AIRTABLE_API_URL", "http://127.0.0.1:9/")]).unwrap();
        assert_eq!(e.airtable_api_url, "http://127.0.0.1:9");
    }
}
