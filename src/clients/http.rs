//! Transport pieces both API clients share: the `reqwest` client, URL
//! building, reading a JSON body and the per-call debug log.

use std::time::Duration;

use serde::de::DeserializeOwned;
use url::Url;

use tokio::time::Instant;

use crate::clients::{
    api_error::{ApiError, Vendor},
    ratelimit::Budget,
};

const USER_AGENT: &str = concat!("notion-airtable-sync/", env!("CARGO_PKG_VERSION"));
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The one `reqwest` client of an API client (rustls, connection pooling).
pub fn build_http_client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(CONNECT_TIMEOUT)
        .build()?)
}

/// Parse an API root such as `https://api.notion.com` and append `prefix`
/// (`v1`, `v0`); a trailing slash or an existing path prefix is kept.
pub fn api_root(base_url: &str, prefix: &str) -> anyhow::Result<Url> {
    let url = Url::parse(base_url)
        .map_err(|e| anyhow::anyhow!("invalid API base URL `{base_url}`: {e}"))?;
    if url.cannot_be_a_base() || !matches!(url.scheme(), "http" | "https") {
        anyhow::bail!("invalid API base URL `{base_url}`: expected http(s)://host");
    }
    Ok(join_path(&url, &[prefix]))
}

/// `base` with `segments` appended, each percent-encoded as one segment
/// (so a table name like `Specs / 2025` stays one path segment).
pub fn join_path(base: &Url, segments: &[&str]) -> Url {
    let mut url = base.clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend(segments);
    }
    url
}

/// Read a success body as `T`; an empty body reads as JSON `null` (some
/// endpoints answer 200 with nothing). A body that does not parse is
/// `Fatal`: repeating the request would return the same body.
pub async fn read_json<T: DeserializeOwned>(
    vendor: Vendor,
    response: reqwest::Response,
) -> Result<T, ApiError> {
    let status = response.status().as_u16();
    let path = response.url().path().to_owned();
    let bytes = response
        .bytes()
        .await
        .map_err(|e| ApiError::transport(vendor, &e))?;
    let body: &[u8] = if bytes.trim_ascii().is_empty() {
        b"null"
    } else {
        &bytes
    };
    serde_json::from_slice(body).map_err(|e| ApiError::Fatal {
        vendor,
        status,
        code: "unexpected_response".into(),
        message: format!("{path}: cannot read the response body: {e}"),
    })
}

/// Read an error body as text (best effort: a failed read is an empty body).
pub async fn read_error_body(response: reqwest::Response) -> Vec<u8> {
    response
        .bytes()
        .await
        .map(|b| b.to_vec())
        .unwrap_or_default()
}

/// A short excerpt of a non-JSON error body for the error message.
pub fn body_excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    text.chars().take(200).collect::<String>().trim().to_owned()
}

tokio::task_local! {
    /// The instant after which a call must not be sent ([`sent_by`]).
    static SEND_BY: Instant;
}

/// Run `call` so that its request goes out by `deadline` or not at all: a
/// write planned from a read must not wait behind the rate budget until the
/// plan is stale (neither API has conditional writes, so a late write would
/// silently overwrite what a person typed since the read). A request whose
/// slot comes later fails with [`ApiError::not_sent_late`] without being
/// sent. `None` sets no deadline.
pub async fn sent_by<F: std::future::Future>(deadline: Option<Instant>, call: F) -> F::Output {
    match deadline {
        Some(deadline) => SEND_BY.scope(deadline, call).await,
        None => call.await,
    }
}

/// One attempt of one call, the path both clients share: wait for the
/// budget's slot (or give up while it is paused longer than `wait_limit`,
/// or when the slot comes after the [`sent_by`] deadline), send, log and
/// count the call (in the metrics, and, on a budget shared through the
/// store, towards the scope's monthly quota). The response is the caller's
/// to read; a request that got no answer is classified here.
pub async fn send(
    vendor: Vendor,
    budget: &Budget,
    wait_limit: Option<Duration>,
    request: reqwest::RequestBuilder,
    (method, url): (&reqwest::Method, &Url),
) -> Result<reqwest::Response, ApiError> {
    let acquired = budget.acquire_within(wait_limit);
    if let Err(left) = crate::metrics::budget_wait(metrics_vendor(vendor), acquired).await {
        return Err(ApiError::budget_paused(vendor, left));
    }
    if SEND_BY.try_with(|by| Instant::now() > *by).unwrap_or(false) {
        return Err(ApiError::not_sent_late(vendor));
    }
    let started = Instant::now();
    let response = request.send().await.map_err(|e| {
        log_call(vendor, method, url, None, started.elapsed());
        ApiError::transport(vendor, &e)
    })?;
    let status = response.status().as_u16();
    log_call(vendor, method, url, Some(status), started.elapsed());
    if let Some(shared) = budget.shared() {
        shared.count_call(status);
    }
    Ok(response)
}

/// The debug line of one call: never the token, never the body.
fn log_call(
    vendor: Vendor,
    method: &reqwest::Method,
    url: &Url,
    status: Option<u16>,
    elapsed: Duration,
) {
    crate::metrics::api_call(metrics_vendor(vendor), method.as_str(), url.path(), status);
    tracing::debug!(
        %vendor,
        %method,
        path = url.path(),
        status,
        duration_ms = elapsed.as_millis() as u64,
        "api call"
    );
}

/// The `vendor` label of a call's metrics.
fn metrics_vendor(vendor: Vendor) -> crate::metrics::Vendor {
    match vendor {
        Vendor::Notion => crate::metrics::Vendor::Notion,
        Vendor::Airtable => crate::metrics::Vendor::Airtable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_root_appends_the_version_prefix() {
        for base in ["https://api.notion.com", "https://api.notion.com/"] {
            assert_eq!(
                api_root(base, "v1").unwrap().as_str(),
                "https://api.notion.com/v1"
            );
        }
        let proxied = api_root("http://127.0.0.1:9/proxy/", "v0").unwrap();
        assert_eq!(proxied.as_str(), "http://127.0.0.1:9/proxy/v0");
        assert!(api_root("api.notion.com", "v1").is_err());
    }

    /// A request whose budget slot comes after its deadline is not sent;
    /// one whose slot comes in time is.
    #[tokio::test]
    async fn a_call_whose_slot_comes_after_its_deadline_is_not_sent() {
        // Nothing listens there: a request that went out would fail to connect.
        let url = Url::parse("http://127.0.0.1:9/v1/pages/p1").unwrap();
        let client = build_http_client().unwrap();
        let budget = Budget::new("test", 4.0, 1);
        let method = reqwest::Method::PATCH;
        let call = || {
            send(
                Vendor::Notion,
                &budget,
                None,
                client.patch(url.clone()),
                (&method, &url),
            )
        };
        // The first slot is free: sent (and refused by the closed port).
        let first = sent_by(Some(Instant::now() + Duration::from_secs(1)), call()).await;
        assert!(!first.unwrap_err().is_not_sent_late());
        // The next slot is 250 ms away, past a 50 ms deadline: not sent.
        let started = Instant::now();
        let second = sent_by(Some(Instant::now() + Duration::from_millis(50)), call()).await;
        assert!(second.unwrap_err().is_not_sent_late());
        assert!(started.elapsed() >= Duration::from_millis(200));
        // Without a deadline the call goes out.
        assert!(!call().await.unwrap_err().is_not_sent_late());
    }

    #[test]
    fn segments_are_percent_encoded() {
        let root = api_root("https://api.airtable.com", "v0").unwrap();
        let url = join_path(&root, &["app1", "Specs / 2025?"]);
        assert_eq!(url.path(), "/v0/app1/Specs%20%2F%202025%3F");
    }
}
