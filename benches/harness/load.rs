//! An open-loop load generator for `POST /webhooks/notion`.
//!
//! Request `i` is scheduled at `start + i / rate` whatever happened to the
//! earlier ones, and its latency is measured from that scheduled time, not
//! from when it was actually sent: if the service (or this generator) falls
//! behind, the wait shows up in the latency instead of silently lowering the
//! offered rate (coordinated omission). Every event is a real, signed Notion
//! `page.properties_updated` event for a page of the synced database, with
//! a fresh event id, so each one is verified, de-duplicated, recorded and
//! turns into (or coalesces with) a reconcile job.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use notion_airtable_sync::signature::notion_signature;
use serde_json::json;
use tokio::task::JoinSet;

use crate::stats::Percentiles;

/// One request gives up after this long (counted as an error).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What the events are about.
#[derive(Clone)]
pub struct EventSource {
    pub url: String,
    pub secret: String,
    pub database_id: String,
    pub data_source_id: String,
    pub page_ids: Vec<String>,
    pub author_id: String,
    /// Send `GET url` instead of events: the floor of this generator and the
    /// HTTP stack, with no signature, parsing or database involved.
    pub probe: bool,
}

impl EventSource {
    /// The signed body of event `i` (about page `i mod pages`).
    fn event(&self, i: usize) -> (Vec<u8>, String) {
        let page = &self.page_ids[i % self.page_ids.len()];
        let body = json!({
            "id": uuid::Uuid::new_v4().to_string(),
            "timestamp": "2026-11-21T12:00:00.000Z",
            "workspace_id": "00000000-0000-4000-8000-00000000be0c",
            "workspace_name": "Bench",
            "subscription_id": "00000000-0000-4000-8000-00000000be0d",
            "integration_id": "00000000-0000-4000-8000-00000000be0e",
            "type": "page.properties_updated",
            "authors": [{ "id": self.author_id, "type": "person" }],
            "attempt_number": 1,
            "entity": { "id": page, "type": "page" },
            "data": {
                "parent": {
                    "id": self.database_id,
                    "type": "database",
                    "data_source_id": self.data_source_id,
                },
                "updated_properties": ["title"],
            },
        })
        .to_string()
        .into_bytes();
        let signature = notion_signature(&self.secret, &body);
        (body, signature)
    }
}

/// The outcome of one run at one offered rate.
#[derive(Clone, Debug)]
pub struct LoadResult {
    pub rate: f64,
    pub duration: Duration,
    pub sent: usize,
    pub ok: usize,
    pub errors: usize,
    pub first_error: Option<String>,
    /// Latency of the successful requests, from their scheduled time.
    pub latency: Option<Percentiles>,
    /// The same for each second of the run (by scheduled time): tells a
    /// steady tail from a few stalls.
    pub per_second: Vec<Option<Percentiles>>,
}

impl LoadResult {
    /// Successful acknowledgements per second of the run.
    pub fn achieved(&self) -> f64 {
        self.ok as f64 / self.duration.as_secs_f64()
    }

    /// Seconds whose p99 exceeded `limit_ms`, and the worst such second
    /// (its index and p99).
    pub fn slow_seconds(&self, limit_ms: f64) -> (usize, Option<(usize, Duration)>) {
        let mut slow = 0;
        let mut worst: Option<(usize, Duration)> = None;
        for (second, p) in self.per_second.iter().enumerate() {
            let Some(p) = p else { continue };
            if p.p99.as_secs_f64() * 1000.0 > limit_ms {
                slow += 1;
            }
            if worst.is_none_or(|(_, w)| p.p99 > w) {
                worst = Some((second, p.p99));
            }
        }
        (slow, worst)
    }

    pub fn p99_ms(&self) -> f64 {
        self.latency
            .map_or(f64::INFINITY, |p| p.p99.as_secs_f64() * 1000.0)
    }
}

/// An HTTP client sized for bursts of concurrent requests on loopback.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .tcp_nodelay(true)
        .timeout(REQUEST_TIMEOUT)
        .build()
        .expect("an HTTP client")
}

/// Request index, latency from its scheduled time, and how it ended.
type Outcome = (usize, Duration, Result<(), String>);

/// Offer `rate` events per second for `duration`, open loop.
pub async fn run(
    http: &reqwest::Client,
    source: &EventSource,
    rate: f64,
    duration: Duration,
) -> LoadResult {
    let total = (rate * duration.as_secs_f64()).round() as usize;
    let interval = Duration::from_secs_f64(1.0 / rate);
    let source = Arc::new(source.clone());
    // A short lead so the first requests are not late by construction.
    let start = Instant::now() + Duration::from_millis(20);
    let mut tasks: JoinSet<Outcome> = JoinSet::new();
    let mut results: Vec<Outcome> = Vec::with_capacity(total);
    let mut next = 0;
    while next < total {
        let due = start + interval.mul_f64(next as f64);
        tokio::time::sleep_until(due.into()).await;
        // Everything due by now goes out (the timer wakes in ~1 ms steps).
        let now = Instant::now();
        while next < total && start + interval.mul_f64(next as f64) <= now {
            let scheduled = start + interval.mul_f64(next as f64);
            let (http, source) = (http.clone(), source.clone());
            let i = next;
            tasks.spawn(async move { send(&http, &source, i, scheduled).await });
            next += 1;
        }
        while let Some(done) = tasks.try_join_next() {
            results.push(done.unwrap_or_else(|e| (0, Duration::ZERO, Err(e.to_string()))));
        }
    }
    while let Some(done) = tasks.join_next().await {
        results.push(done.unwrap_or_else(|e| (0, Duration::ZERO, Err(e.to_string()))));
    }
    summarize(rate, duration, results)
}

async fn send(
    http: &reqwest::Client,
    source: &EventSource,
    i: usize,
    scheduled: Instant,
) -> Outcome {
    let request = if source.probe {
        http.get(&source.url)
    } else {
        let (body, signature) = source.event(i);
        http.post(&source.url)
            .header("content-type", "application/json")
            .header("x-notion-signature", signature)
            .body(body)
    };
    let response = request.send().await;
    let outcome = match response {
        Ok(r) => {
            let status = r.status();
            // The acknowledgement is complete when its body has arrived.
            match r.bytes().await {
                Ok(_) if status.is_success() => Ok(()),
                Ok(b) => Err(format!("{status}: {}", String::from_utf8_lossy(&b))),
                Err(e) => Err(format!("{status}, reading the body: {e}")),
            }
        }
        Err(e) => Err(format!("{e}")),
    };
    (i, scheduled.elapsed(), outcome)
}

fn summarize(rate: f64, duration: Duration, results: Vec<Outcome>) -> LoadResult {
    let mut latencies = Vec::with_capacity(results.len());
    let seconds = duration.as_secs().max(1) as usize;
    let mut per_second: Vec<Vec<Duration>> = vec![Vec::new(); seconds];
    let mut errors = 0;
    let mut first_error = None;
    for (i, latency, outcome) in &results {
        match outcome {
            Ok(()) => {
                latencies.push(*latency);
                let second = ((*i as f64 / rate) as usize).min(seconds - 1);
                per_second[second].push(*latency);
            }
            Err(e) => {
                errors += 1;
                first_error.get_or_insert_with(|| e.clone());
            }
        }
    }
    LoadResult {
        rate,
        duration,
        sent: results.len(),
        ok: latencies.len(),
        errors,
        first_error,
        latency: Percentiles::of(&latencies),
        per_second: per_second.iter().map(|s| Percentiles::of(s)).collect(),
    }
}
