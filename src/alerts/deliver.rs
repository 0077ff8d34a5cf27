//! Posting one message to `ALERT_WEBHOOK_URL`, and when to try again after
//! a failure. The URL is a secret: it is in no log line and no error.

use std::time::Duration;

use crate::secret::Secret;

/// How long one delivery may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The receiver of the alerts.
#[derive(Debug, Clone)]
pub struct Receiver {
    http: reqwest::Client,
    url: Secret,
}

impl Receiver {
    pub fn new(url: Secret) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("notion-airtable-sync/", env!("CARGO_PKG_VERSION")))
            .timeout(TIMEOUT)
            .build()?;
        Ok(Receiver { http, url })
    }

    /// POST `body` as JSON; a 2xx is delivered. The error names the status
    /// or the kind of transport failure, never the URL.
    pub async fn post(&self, body: &str) -> Result<(), String> {
        let response = self
            .http
            .post(self.url.expose())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_owned())
            .send()
            .await
            .map_err(|e| transport_error(&e))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("the receiver answered {status}"))
        }
    }
}

/// A transport error without its URL (reqwest's Display includes it).
fn transport_error(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    format!("the request {kind}")
}

/// The wait before attempt `attempts + 1`: `base` doubled per failure,
/// at most `max`.
pub fn backoff(attempts: u32, base: Duration, max: Duration) -> Duration {
    base.saturating_mul(2u32.saturating_pow(attempts.min(20)))
        .min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_up_to_its_cap() {
        let (base, max) = (Duration::from_secs(5), Duration::from_secs(3600));
        assert_eq!(backoff(0, base, max), Duration::from_secs(5));
        assert_eq!(backoff(1, base, max), Duration::from_secs(10));
        assert_eq!(backoff(4, base, max), Duration::from_secs(80));
        assert_eq!(backoff(30, base, max), max);
    }
}
