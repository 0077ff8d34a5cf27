//! Notion's request limit per integration token: "an average of three
//! requests per second", bursts allowed (a token bucket), over it a 429
//! `rate_limited` with an integer `Retry-After`.

use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::errors::{NotionError, NotionResult};
use crate::common::{TokenBucket, lock};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RateLimitSettings {
    pub enabled: bool,
    pub requests_per_second: f64,
    pub burst: u32,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            requests_per_second: 3.0,
            burst: 10,
        }
    }
}

pub struct RateLimiter {
    state: Mutex<(RateLimitSettings, TokenBucket)>,
}

impl RateLimiter {
    pub fn new(settings: RateLimitSettings) -> Self {
        let bucket = TokenBucket::new(settings.requests_per_second, settings.burst);
        Self {
            state: Mutex::new((settings, bucket)),
        }
    }

    pub fn settings(&self) -> RateLimitSettings {
        lock(&self.state).0.clone()
    }

    /// New settings start with a full bucket.
    pub fn set(&self, settings: RateLimitSettings) {
        let bucket = TokenBucket::new(settings.requests_per_second, settings.burst);
        *lock(&self.state) = (settings, bucket);
    }

    pub fn check(&self) -> NotionResult<()> {
        let state = lock(&self.state);
        if !state.0.enabled {
            return Ok(());
        }
        state
            .1
            .try_take()
            .map_err(|wait| NotionError::rate_limited(wait.as_secs_f64().ceil() as u64))
    }
}
