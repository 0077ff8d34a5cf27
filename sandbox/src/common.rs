//! Pieces both sandbox servers share. The API below is stable: the Notion and
//! Airtable sandboxes are written against it.
//!
//! - [`CallLog`] + [`record_calls`]: counts API requests per (method, route
//!   template, status). Install with
//!   `router.layer(axum::middleware::from_fn_with_state(log.clone(), record_calls))`;
//!   routes under `/_sandbox/` (the control API) are never counted, a request
//!   that matched no route is counted as route `"unmatched"`.
//! - [`Faults`] + [`FaultInjector`]: latency and injected 5xx / 429 knobs. The
//!   injector only decides *what* happens ([`FaultRoll`]); each server renders
//!   its own vendor-specific error body.
//! - [`DeliveryKnobs`] + [`Deliverer`]: outbound webhook sender with drop /
//!   duplicate / delay / reorder knobs, retries on a [`RetrySchedule`]
//!   (scaled by `retry_time_scale`), a record of every attempt, and callbacks
//!   per attempt and on final failure.
//! - [`Clock`]: system time plus a settable offset (tests expire webhooks).
//! - [`TokenBucket`]: rate-limit bookkeeping for the vendors' 429s.
//! - [`ShutdownGuard`] / [`ShutdownSignal`] + [`serve`]: stop the server and
//!   the deliverer when the last sandbox handle is dropped.
//! - [`merge_json`]: partial updates for the knob structs (control API).
//! - [`notion_time`], [`notion_minute`], [`airtable_time`]: the vendors' RFC
//!   3339 renderings.

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use axum::{
    Router,
    extract::{MatchedPath, Request, State},
    middleware::Next,
    response::Response,
};
use rand::{Rng, SeedableRng, rngs::StdRng, seq::SliceRandom};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use time::OffsetDateTime;
use tokio::sync::watch;

/// Lock a std mutex, ignoring poisoning: sandbox state stays usable even if a
/// test thread panicked while holding it.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

// ---------------------------------------------------------------------------
// Call log
// ---------------------------------------------------------------------------

/// Route label for requests that matched no route.
pub const UNMATCHED_ROUTE: &str = "unmatched";
/// Prefix of the control API, which is never counted.
pub const CONTROL_PREFIX: &str = "/_sandbox";

/// (method, route template, status) → count.
type Counts = BTreeMap<(String, String, u16), u64>;

/// Requests counted per (method, route template, status).
#[derive(Clone, Debug, Default)]
pub struct CallLog {
    counts: Arc<Mutex<Counts>>,
    /// API requests being handled now, and the most at once since the last
    /// reset: shows whether a client keeps several requests in flight.
    in_flight: Arc<AtomicU64>,
    peak_in_flight: Arc<AtomicU64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallCount {
    pub method: String,
    /// The route template, e.g. `/v1/pages/{page_id}`, or `"unmatched"`.
    pub route: String,
    pub status: u16,
    pub count: u64,
}

impl CallLog {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn record(&self, method: &str, route: &str, status: u16) {
        let key = (method.to_string(), route.to_string(), status);
        *lock(&self.counts).entry(key).or_insert(0) += 1;
    }

    pub fn snapshot(&self) -> Vec<CallCount> {
        lock(&self.counts)
            .iter()
            .map(|((method, route, status), count)| CallCount {
                method: method.clone(),
                route: route.clone(),
                status: *status,
                count: *count,
            })
            .collect()
    }

    /// All requests counted, whatever their status.
    pub fn total(&self) -> u64 {
        lock(&self.counts).values().sum()
    }

    /// Requests to one route template (any status); `method` `None` = any.
    pub fn count(&self, method: Option<&str>, route: &str) -> u64 {
        lock(&self.counts)
            .iter()
            .filter(|((m, r, _), _)| r == route && method.is_none_or(|x| x == m))
            .map(|(_, c)| c)
            .sum()
    }

    /// Requests answered with `status` (any route).
    pub fn count_status(&self, status: u16) -> u64 {
        lock(&self.counts)
            .iter()
            .filter(|((_, _, s), _)| *s == status)
            .map(|(_, c)| c)
            .sum()
    }

    pub fn reset(&self) {
        lock(&self.counts).clear();
        self.peak_in_flight
            .store(self.in_flight.load(Ordering::SeqCst), Ordering::SeqCst);
    }

    /// The most API requests handled at once since the last reset.
    pub fn peak_in_flight(&self) -> u64 {
        self.peak_in_flight.load(Ordering::SeqCst)
    }

    /// Count a request as in flight until the guard drops (answered, or
    /// dropped by a client that gave up).
    fn enter(&self) -> InFlight {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(self.in_flight.clone())
    }
}

struct InFlight(Arc<AtomicU64>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Axum middleware recording every API request into a [`CallLog`].
/// Use with `axum::middleware::from_fn_with_state(log, record_calls)` as a
/// `Router::layer` so that [`MatchedPath`] is visible.
pub async fn record_calls(State(log): State<CallLog>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let method = req.method().as_str().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string());
    let is_control = route
        .as_deref()
        .unwrap_or(&path)
        .starts_with(CONTROL_PREFIX);
    let in_flight = (!is_control).then(|| log.enter());
    let response = next.run(req).await;
    drop(in_flight);
    if !is_control {
        let route = route.as_deref().unwrap_or(UNMATCHED_ROUTE);
        log.record(&method, route, response.status().as_u16());
    }
    response
}

// ---------------------------------------------------------------------------
// Faults
// ---------------------------------------------------------------------------

/// Fault knobs, all off by default. Partial updates through [`merge_json`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Added to every API request before it takes effect and is answered
    /// (see [`handle_after`]).
    pub latency_ms: u64,
    /// Probability of an injected 5xx (vendor-specific body).
    pub error_rate: f64,
    /// Probability of an injected 429.
    pub rate_limit_rate: f64,
    /// Seed for a deterministic RNG; `None` = entropy.
    pub seed: Option<u64>,
    /// Inject errors and 429s only into requests whose path contains this
    /// (e.g. `/query`); `None` = every request. Latency applies to all.
    pub only_path: Option<String>,
    /// Inject errors and 429s only into requests of this method (e.g.
    /// `PATCH`, to fail writes while reads pass); `None` = every method.
    pub only_method: Option<String>,
}

/// What the injector decided for one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultRoll {
    /// Serve the request normally.
    Pass,
    /// Answer with an injected server error; `pick` is a random number the
    /// server uses to choose among its vendor's error kinds (`pick % n`).
    ServerError { pick: u32 },
    /// Answer with an injected 429.
    RateLimited,
}

/// Rolls [`Faults`] per request with its own (optionally seeded) RNG.
#[derive(Debug)]
pub struct FaultInjector {
    inner: Mutex<(Faults, StdRng)>,
}

fn rng_from(seed: Option<u64>) -> StdRng {
    match seed {
        Some(s) => StdRng::seed_from_u64(s),
        None => StdRng::from_os_rng(),
    }
}

impl FaultInjector {
    pub fn new(faults: Faults) -> Self {
        let rng = rng_from(faults.seed);
        Self {
            inner: Mutex::new((faults, rng)),
        }
    }

    pub fn get(&self) -> Faults {
        lock(&self.inner).0.clone()
    }

    /// Replace the knobs; reseeds the RNG (so a seed makes runs repeatable).
    pub fn set(&self, faults: Faults) {
        let rng = rng_from(faults.seed);
        *lock(&self.inner) = (faults, rng);
    }

    pub fn latency(&self) -> Duration {
        Duration::from_millis(lock(&self.inner).0.latency_ms)
    }

    /// Decide the fate of one `method` request to `path`.
    pub fn roll(&self, method: &str, path: &str) -> FaultRoll {
        let mut guard = lock(&self.inner);
        let (faults, rng) = &mut *guard;
        let spared_path = faults
            .only_path
            .as_deref()
            .is_some_and(|p| !path.contains(p));
        let spared_method = faults
            .only_method
            .as_deref()
            .is_some_and(|m| !m.eq_ignore_ascii_case(method));
        if spared_path || spared_method {
            return FaultRoll::Pass;
        }
        if faults.error_rate > 0.0 && rng.random::<f64>() < faults.error_rate {
            return FaultRoll::ServerError { pick: rng.random() };
        }
        if faults.rate_limit_rate > 0.0 && rng.random::<f64>() < faults.rate_limit_rate {
            return FaultRoll::RateLimited;
        }
        FaultRoll::Pass
    }
}

/// Serve an admitted request with the configured latency, as a remote API
/// does: the request's effect (a write) becomes visible only when the
/// latency has passed, just as the answer leaves, never before it (most of a
/// real API's latency is its own processing, and a write commits at its
/// end). The work runs as a task of its own, so a caller that stops waiting
/// (a client timeout) does not cancel it: like a real server, the sandbox
/// finishes what it received, and the caller cannot tell whether it did.
pub async fn handle_after<F>(latency: Duration, work: F) -> axum::response::Response
where
    F: std::future::Future<Output = axum::response::Response> + Send + 'static,
{
    if latency.is_zero() {
        return work.await;
    }
    let task = tokio::spawn(async move {
        tokio::time::sleep(latency).await;
        work.await
    });
    match task.await {
        Ok(response) => response,
        Err(e) => {
            use axum::response::IntoResponse;
            let status = axum::http::StatusCode::INTERNAL_SERVER_ERROR;
            (status, format!("the sandbox's handler failed: {e}")).into_response()
        }
    }
}

/// A refused request (authentication, rate limit, injected fault) is
/// answered after the same latency as any other.
pub async fn answer_after(latency: Duration) {
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
}

/// Apply a JSON object of changes onto `current` (keys absent from `patch`
/// keep their value). Used by the control API's `POST /_sandbox/faults` etc.
pub fn merge_json<T: Serialize + DeserializeOwned>(
    current: &T,
    patch: &serde_json::Value,
) -> Result<T, serde_json::Error> {
    let mut value = serde_json::to_value(current)?;
    if let (Some(target), Some(changes)) = (value.as_object_mut(), patch.as_object()) {
        for (k, v) in changes {
            target.insert(k.clone(), v.clone());
        }
    }
    serde_json::from_value(value)
}

// ---------------------------------------------------------------------------
// Clock
// ---------------------------------------------------------------------------

/// The sandbox's notion of "now": system time plus an offset the control API
/// can move (e.g. forward 8 days to expire Airtable webhooks).
#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset_seconds: Arc<AtomicI64>,
}

impl Clock {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc() + time::Duration::seconds(self.offset_seconds())
    }

    pub fn offset_seconds(&self) -> i64 {
        self.offset_seconds.load(Ordering::SeqCst)
    }

    pub fn set_offset_seconds(&self, offset: i64) {
        self.offset_seconds.store(offset, Ordering::SeqCst);
    }
}

// ---------------------------------------------------------------------------
// Time formats
// ---------------------------------------------------------------------------

/// `2023-02-24T21:06:12.345Z`: UTC, milliseconds, `Z`.
fn rfc3339_millis(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// Notion's rendering of a precise instant (webhook `timestamp`).
pub fn notion_time(t: OffsetDateTime) -> String {
    rfc3339_millis(t)
}

/// Round down to the minute, as Notion does for `created_time` /
/// `last_edited_time` since July 2023.
pub fn floor_minute(t: OffsetDateTime) -> OffsetDateTime {
    let t = t.to_offset(time::UtcOffset::UTC);
    t.replace_second(0)
        .and_then(|t| t.replace_nanosecond(0))
        .unwrap_or(t)
}

/// Notion's rendering of `created_time` / `last_edited_time`:
/// `2023-02-24T21:06:00.000Z` (minute-rounded).
pub fn notion_minute(t: OffsetDateTime) -> String {
    rfc3339_millis(floor_minute(t))
}

/// Airtable's rendering: `2022-02-01T21:25:05.663Z`.
pub fn airtable_time(t: OffsetDateTime) -> String {
    rfc3339_millis(t)
}

/// Parse an RFC 3339 timestamp (any offset), or a bare date as midnight UTC.
pub fn parse_time(s: &str) -> Option<OffsetDateTime> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t);
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(s, &format)
        .ok()
        .map(|d| d.midnight().assume_utc())
}

// ---------------------------------------------------------------------------
// Token bucket
// ---------------------------------------------------------------------------

/// A token bucket: `capacity` requests back to back, refilled at `rate`/s.
#[derive(Debug)]
pub struct TokenBucket {
    capacity: f64,
    rate: f64,
    state: Mutex<(f64, Instant)>,
}

impl TokenBucket {
    pub fn new(rate_per_second: f64, capacity: u32) -> Self {
        let capacity = f64::from(capacity.max(1));
        Self {
            capacity,
            rate: rate_per_second.max(f64::MIN_POSITIVE),
            state: Mutex::new((capacity, Instant::now())),
        }
    }

    /// Take one token, or say how long until one is available.
    pub fn try_take(&self) -> Result<(), Duration> {
        let mut state = lock(&self.state);
        let now = Instant::now();
        let refill = now.duration_since(state.1).as_secs_f64() * self.rate;
        state.0 = (state.0 + refill).min(self.capacity);
        state.1 = now;
        if state.0 >= 1.0 {
            state.0 -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - state.0) / self.rate))
        }
    }

    /// Empty the bucket until `penalty` has passed (Airtable's 30 s lockout).
    pub fn drain_for(&self, penalty: Duration) {
        let mut state = lock(&self.state);
        state.0 = -(penalty.as_secs_f64() * self.rate);
        state.1 = Instant::now();
    }
}

// ---------------------------------------------------------------------------
// Shutdown
// ---------------------------------------------------------------------------

/// Held by the user-facing sandbox handle (never by the server's own state):
/// dropping the last clone stops the server and the deliverer.
#[derive(Debug)]
pub struct ShutdownGuard {
    tx: watch::Sender<bool>,
}

/// The receiving side of a [`ShutdownGuard`].
#[derive(Clone, Debug)]
pub struct ShutdownSignal {
    rx: watch::Receiver<bool>,
}

impl ShutdownGuard {
    pub fn new() -> (Self, ShutdownSignal) {
        let (tx, rx) = watch::channel(false);
        (Self { tx }, ShutdownSignal { rx })
    }

    pub fn trigger(&self) {
        self.tx.send_replace(true);
    }
}

impl Drop for ShutdownGuard {
    fn drop(&mut self) {
        self.trigger();
    }
}

impl ShutdownSignal {
    /// A signal that never fires.
    pub fn never() -> Self {
        let (tx, rx) = watch::channel(false);
        std::mem::forget(tx);
        Self { rx }
    }

    pub fn is_triggered(&self) -> bool {
        *self.rx.borrow()
    }

    /// Resolves once shutdown is triggered (or the guard is gone).
    pub async fn wait(&self) {
        let mut rx = self.rx.clone();
        let _ = rx.wait_for(|stopped| *stopped).await;
    }
}

/// Serve `router` on `listener` until `signal` fires.
pub fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    signal: ShutdownSignal,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let shutdown = async move { signal.wait().await };
        if let Err(e) = axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .await
        {
            tracing::warn!(error = %e, "sandbox server stopped with an error");
        }
    })
}

// ---------------------------------------------------------------------------
// Webhook delivery
// ---------------------------------------------------------------------------

/// Delivery knobs. Partial updates through [`merge_json`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeliveryKnobs {
    /// Probability that a message is never sent at all.
    pub drop_rate: f64,
    /// Probability that a message is sent twice (two independent deliveries).
    pub duplicate_rate: f64,
    /// Each message waits a uniform random delay in `[min, max]` before its
    /// first attempt (so a large spread also reorders messages).
    pub delay_ms_min: u64,
    pub delay_ms_max: u64,
    /// Deliver each batch in shuffled order.
    pub reorder: bool,
    /// Notion: events for one entity and type within this window merge into
    /// one. Airtable: pings within this window coalesce. 0 = no window.
    pub aggregation_window_ms: u64,
    /// Multiplies the vendors' real retry backoff (1.0 = real schedule).
    pub retry_time_scale: f64,
}

impl Default for DeliveryKnobs {
    fn default() -> Self {
        Self {
            drop_rate: 0.0,
            duplicate_rate: 0.0,
            delay_ms_min: 0,
            delay_ms_max: 0,
            reorder: false,
            aggregation_window_ms: 0,
            retry_time_scale: 1.0,
        }
    }
}

/// Waits between attempts: `delays[i]` is the wait before attempt `i + 2`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RetrySchedule {
    pub delays: Vec<Duration>,
}

impl RetrySchedule {
    /// One attempt only.
    pub fn none() -> Self {
        Self::default()
    }

    /// `retries` retries, the first after `first`, each next one `factor`
    /// times longer.
    pub fn exponential(first: Duration, factor: f64, retries: usize) -> Self {
        let delays = (0..retries)
            .map(|i| first.mul_f64(factor.powi(i as i32)))
            .collect();
        Self { delays }
    }

    /// Notion: up to 8 attempts, exponential, the last ~24 h after the first
    /// (1 m, 5 m, 15 m, 45 m, 2 h, 6 h, 15 h).
    pub fn notion() -> Self {
        let minutes = [1u64, 5, 15, 45, 120, 360, 900];
        Self {
            delays: minutes
                .iter()
                .map(|m| Duration::from_secs(m * 60))
                .collect(),
        }
    }

    /// Airtable: up to 13 retries, exponential from 10 s (~23 h in total).
    pub fn airtable() -> Self {
        Self::exponential(Duration::from_secs(10), 2.0, 13)
    }

    pub fn max_attempts(&self) -> u32 {
        self.delays.len() as u32 + 1
    }
}

/// One HTTP POST to send.
#[derive(Clone, Debug)]
pub struct OutboundRequest {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The outcome of one attempt, given to [`Delivery::on_attempt`].
#[derive(Clone, Debug)]
pub struct AttemptReport {
    pub url: String,
    pub label: String,
    /// 1-based.
    pub attempt: u32,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub success: bool,
    pub will_retry: bool,
    pub duration: Duration,
    pub at: OffsetDateTime,
}

type BuildFn = Arc<dyn Fn(u32) -> OutboundRequest + Send + Sync>;
type ReportFn = Arc<dyn Fn(&AttemptReport) + Send + Sync>;

/// A message to deliver with retries. The request is rebuilt for every
/// attempt (Notion's body carries `attempt_number` and is re-signed).
#[derive(Clone)]
pub struct Delivery {
    /// Free text for the records (e.g. the event id and type).
    pub label: String,
    pub build: BuildFn,
    pub schedule: RetrySchedule,
    /// Which statuses count as delivered (default: any 2xx).
    pub accept: fn(u16) -> bool,
    /// Per-attempt timeout (Airtable: 25 s).
    pub timeout: Duration,
    pub on_attempt: Option<ReportFn>,
    pub on_final_failure: Option<ReportFn>,
}

fn is_2xx(status: u16) -> bool {
    (200..300).contains(&status)
}

impl Delivery {
    /// `build(attempt)` makes the request for attempt 1, 2, ...
    pub fn new(
        label: impl Into<String>,
        schedule: RetrySchedule,
        build: impl Fn(u32) -> OutboundRequest + Send + Sync + 'static,
    ) -> Self {
        Self {
            label: label.into(),
            build: Arc::new(build),
            schedule,
            accept: is_2xx,
            timeout: Duration::from_secs(25),
            on_attempt: None,
            on_final_failure: None,
        }
    }

    /// The same request on every attempt.
    pub fn fixed(label: impl Into<String>, schedule: RetrySchedule, req: OutboundRequest) -> Self {
        Self::new(label, schedule, move |_| req.clone())
    }

    pub fn accept(mut self, accept: fn(u16) -> bool) -> Self {
        self.accept = accept;
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn on_attempt(mut self, f: impl Fn(&AttemptReport) + Send + Sync + 'static) -> Self {
        self.on_attempt = Some(Arc::new(f));
        self
    }

    /// Called once when the last attempt failed (Airtable disables pings).
    pub fn on_final_failure(mut self, f: impl Fn(&AttemptReport) + Send + Sync + 'static) -> Self {
        self.on_final_failure = Some(Arc::new(f));
        self
    }
}

/// One attempt (or a knob-dropped message) as recorded by the [`Deliverer`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    pub url: String,
    pub label: String,
    /// 1-based; 0 for a message dropped by the `drop_rate` knob.
    pub attempt: u32,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub dropped: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// Outbound webhook sender. Cheap to clone; every clone shares the knobs,
/// the records and the shutdown signal.
#[derive(Clone)]
pub struct Deliverer {
    inner: Arc<DelivererInner>,
}

struct DelivererInner {
    client: reqwest::Client,
    clock: Clock,
    knobs: Mutex<DeliveryKnobs>,
    rng: Mutex<StdRng>,
    records: Mutex<Vec<DeliveryRecord>>,
    in_flight: AtomicUsize,
    signal: ShutdownSignal,
    runtime: tokio::runtime::Handle,
}

impl Deliverer {
    /// Must be called inside a Tokio runtime (its handle is kept for spawning).
    /// `seed` makes the knobs' randomness repeatable.
    pub fn new(
        knobs: DeliveryKnobs,
        seed: Option<u64>,
        clock: Clock,
        signal: ShutdownSignal,
    ) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self {
            inner: Arc::new(DelivererInner {
                client,
                clock,
                knobs: Mutex::new(knobs),
                rng: Mutex::new(rng_from(seed)),
                records: Mutex::new(Vec::new()),
                in_flight: AtomicUsize::new(0),
                signal,
                runtime: tokio::runtime::Handle::current(),
            }),
        }
    }

    pub fn knobs(&self) -> DeliveryKnobs {
        lock(&self.inner.knobs).clone()
    }

    pub fn set_knobs(&self, knobs: DeliveryKnobs) {
        *lock(&self.inner.knobs) = knobs;
    }

    /// Every attempt so far, oldest first.
    pub fn deliveries(&self) -> Vec<DeliveryRecord> {
        lock(&self.inner.records).clone()
    }

    pub fn clear_records(&self) {
        lock(&self.inner.records).clear();
    }

    /// Messages not yet finished (waiting, sending or between retries).
    pub fn in_flight(&self) -> usize {
        self.inner.in_flight.load(Ordering::SeqCst)
    }

    /// Send one message, applying the drop / duplicate / delay knobs.
    pub fn send(&self, delivery: Delivery) {
        self.send_batch(vec![delivery]);
    }

    /// Send messages produced together; `reorder` shuffles them.
    pub fn send_batch(&self, mut batch: Vec<Delivery>) {
        let knobs = self.knobs();
        if knobs.reorder {
            batch.shuffle(&mut *lock(&self.inner.rng));
        }
        for delivery in batch {
            self.send_with_knobs(&knobs, delivery);
        }
    }

    /// Send without applying any knob (e.g. Notion's verification request),
    /// but still retried on its schedule and recorded.
    pub fn send_unconditionally(&self, delivery: Delivery) {
        self.spawn(delivery, Duration::ZERO);
    }

    fn send_with_knobs(&self, knobs: &DeliveryKnobs, delivery: Delivery) {
        let (drop, copies, delays) = {
            let mut rng = lock(&self.inner.rng);
            let drop = knobs.drop_rate > 0.0 && rng.random::<f64>() < knobs.drop_rate;
            let dup = knobs.duplicate_rate > 0.0 && rng.random::<f64>() < knobs.duplicate_rate;
            let copies = if dup { 2 } else { 1 };
            let delays: Vec<Duration> =
                (0..copies).map(|_| random_delay(knobs, &mut rng)).collect();
            (drop, copies, delays)
        };
        if drop {
            self.record_drop(&delivery);
            return;
        }
        debug_assert_eq!(delays.len(), copies);
        for delay in delays {
            self.spawn(delivery.clone(), delay);
        }
    }

    fn record_drop(&self, delivery: &Delivery) {
        let url = (delivery.build)(1).url;
        lock(&self.inner.records).push(DeliveryRecord {
            url,
            label: delivery.label.clone(),
            attempt: 0,
            status: None,
            error: Some("dropped by the drop_rate knob".into()),
            dropped: true,
            at: self.inner.clock.now(),
        });
    }

    fn spawn(&self, delivery: Delivery, initial_delay: Duration) {
        let inner = self.inner.clone();
        inner.in_flight.fetch_add(1, Ordering::SeqCst);
        self.inner.runtime.spawn(async move {
            let signal = inner.signal.clone();
            tokio::select! {
                _ = signal.wait() => {}
                _ = run_delivery(&inner, delivery, initial_delay) => {}
            }
            inner.in_flight.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

fn random_delay(knobs: &DeliveryKnobs, rng: &mut StdRng) -> Duration {
    let (lo, hi) = (
        knobs.delay_ms_min,
        knobs.delay_ms_max.max(knobs.delay_ms_min),
    );
    let ms = if hi > lo {
        rng.random_range(lo..=hi)
    } else {
        lo
    };
    Duration::from_millis(ms)
}

/// Attempts until accepted or the schedule runs out.
async fn run_delivery(inner: &DelivererInner, delivery: Delivery, initial_delay: Duration) {
    tokio::time::sleep(initial_delay).await;
    let max = delivery.schedule.max_attempts();
    for attempt in 1..=max {
        let report = attempt_once(inner, &delivery, attempt, attempt < max).await;
        if let Some(f) = &delivery.on_attempt {
            f(&report);
        }
        if report.success {
            return;
        }
        if !report.will_retry {
            if let Some(f) = &delivery.on_final_failure {
                f(&report);
            }
            return;
        }
        let scale = lock(&inner.knobs).retry_time_scale.max(0.0);
        let wait = delivery.schedule.delays[(attempt - 1) as usize].mul_f64(scale);
        tokio::time::sleep(wait).await;
    }
}

async fn attempt_once(
    inner: &DelivererInner,
    delivery: &Delivery,
    attempt: u32,
    retries_left: bool,
) -> AttemptReport {
    let req = (delivery.build)(attempt);
    let started = Instant::now();
    let mut builder = inner.client.post(&req.url).timeout(delivery.timeout);
    for (name, value) in &req.headers {
        builder = builder.header(name, value);
    }
    let result = builder.body(req.body.clone()).send().await;
    let (status, error) = match result {
        Ok(resp) => (Some(resp.status().as_u16()), None),
        Err(e) => (None, Some(e.to_string())),
    };
    let success = status.is_some_and(delivery.accept);
    let report = AttemptReport {
        url: req.url,
        label: delivery.label.clone(),
        attempt,
        status,
        error,
        success,
        will_retry: !success && retries_left,
        duration: started.elapsed(),
        at: inner.clock.now(),
    };
    lock(&inner.records).push(DeliveryRecord {
        url: report.url.clone(),
        label: report.label.clone(),
        attempt,
        status,
        error: report.error.clone(),
        dropped: false,
        at: report.at,
    });
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notion_times_are_rendered_with_millis_and_minute_rounding() {
        let t = time::macros::datetime!(2023-02-24 21:06:42.123 UTC);
        assert_eq!(notion_time(t), "2023-02-24T21:06:42.123Z");
        assert_eq!(notion_minute(t), "2023-02-24T21:06:00.000Z");
        assert_eq!(airtable_time(t), "2023-02-24T21:06:42.123Z");
    }

    #[test]
    fn merge_json_keeps_absent_keys() {
        let base = DeliveryKnobs {
            drop_rate: 0.5,
            ..DeliveryKnobs::default()
        };
        let merged = merge_json(&base, &serde_json::json!({"reorder": true})).unwrap();
        assert_eq!(merged.drop_rate, 0.5);
        assert!(merged.reorder);
        assert_eq!(merged.retry_time_scale, 1.0);
    }

    #[test]
    fn retry_schedules_match_the_vendors() {
        let notion = RetrySchedule::notion();
        assert_eq!(notion.max_attempts(), 8);
        let total: Duration = notion.delays.iter().sum();
        assert!(total > Duration::from_secs(23 * 3600) && total < Duration::from_secs(25 * 3600));
        let airtable = RetrySchedule::airtable();
        assert_eq!(airtable.max_attempts(), 14);
        assert_eq!(airtable.delays[0], Duration::from_secs(10));
    }

    #[test]
    fn token_bucket_allows_a_burst_then_refuses() {
        let bucket = TokenBucket::new(1.0, 3);
        for _ in 0..3 {
            assert!(bucket.try_take().is_ok());
        }
        let wait = bucket.try_take().unwrap_err();
        assert!(wait > Duration::from_millis(500));
    }

    #[test]
    fn seeded_faults_are_repeatable() {
        let faults = Faults {
            error_rate: 0.5,
            seed: Some(7),
            ..Faults::default()
        };
        let a = FaultInjector::new(faults.clone());
        let b = FaultInjector::new(faults);
        let rolls_a: Vec<_> = (0..20).map(|_| a.roll("GET", "/v1/pages")).collect();
        let rolls_b: Vec<_> = (0..20).map(|_| b.roll("GET", "/v1/pages")).collect();
        assert_eq!(rolls_a, rolls_b);
        assert!(rolls_a.contains(&FaultRoll::Pass));
        assert!(
            rolls_a
                .iter()
                .any(|r| matches!(r, FaultRoll::ServerError { .. }))
        );
    }

    #[test]
    fn faults_limited_to_a_path_spare_every_other_request() {
        let always = FaultInjector::new(Faults {
            error_rate: 1.0,
            only_path: Some("/query".into()),
            ..Faults::default()
        });
        assert_eq!(always.roll("GET", "/v1/pages/p1"), FaultRoll::Pass);
        assert!(matches!(
            always.roll("POST", "/v1/data_sources/ds1/query"),
            FaultRoll::ServerError { .. }
        ));
    }

    #[test]
    fn faults_limited_to_a_method_spare_the_others() {
        let writes = FaultInjector::new(Faults {
            error_rate: 1.0,
            only_method: Some("PATCH".into()),
            ..Faults::default()
        });
        assert_eq!(writes.roll("GET", "/v0/app1/tbl1"), FaultRoll::Pass);
        assert!(matches!(
            writes.roll("PATCH", "/v0/app1/tbl1"),
            FaultRoll::ServerError { .. }
        ));
    }
}
