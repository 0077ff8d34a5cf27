//! The HTTP ingest layer: webhook endpoints, the admin API and health probes.
//!
//! Handlers only verify, record and enqueue: they never call Notion or
//! Airtable and never run a job. A webhook is acknowledged with 2xx only
//! after its inbox row and job have committed; when the database is down the
//! answer is 503 so that the sender retries (reliability-notes §2).
//!
//! | route | module | auth |
//! |---|---|---|
//! | `POST /webhooks/notion` | [`webhooks::notion`] | `X-Notion-Signature` (the verification request is unsigned: [`webhooks::verification`]) |
//! | `POST /webhooks/airtable` | [`webhooks::airtable`] | `X-Airtable-Content-MAC` with the webhook's MAC secret |
//! | `POST /reconcile`, `GET /api/jobs`, `POST /api/jobs/{id}/retry`, `GET /api/log`, `GET /api/conflicts`, `GET /api/issues` | [`admin`] | `Authorization: Bearer ADMIN_TOKEN`, or Basic with the password `ADMIN_TOKEN` (same-origin only for POST) |
//! | `GET /api/deletes`, `POST /api/deletes/{id}/approve`, `POST /api/deletes/{id}/reject` (the delete review queue) | [`deletes`] | as the admin API |
//! | `POST /api/undo` | [`undo`] | `Authorization: Bearer ADMIN_TOKEN`, or Basic with the password `ADMIN_TOKEN` (same-origin only for POST) |
//! | `GET /` (status page), `POST /jobs/{id}/retry`, `POST /notion/verification-tokens/dismiss` (its forms) | `status` | Basic (password `ADMIN_TOKEN`) or Bearer; the forms also need their CSRF token |
//! | `GET /healthz`, `GET /readyz` | [`health`] | none |
//! | `GET /metrics` | [`metrics`] | none |

pub mod admin;
mod auth;
mod deletes;
pub mod error;
pub mod health;
pub mod metrics;
mod pairs;
mod status;
pub mod undo;
pub mod webhooks;

use std::{collections::HashMap, future::Future, net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    Router,
    extract::{ConnectInfo, DefaultBodyLimit, Request},
    http::StatusCode,
    routing::{get, post},
};
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::{GracefulShutdown, Watcher},
    service::TowerToHyperService,
};
use tokio::{
    net::{TcpListener, TcpStream},
    task::JoinSet,
};
use tower::ServiceExt as _;
use tower_http::{limit::RequestBodyLimitLayer, timeout::TimeoutLayer, trace::TraceLayer};

pub use error::HttpError;
pub use pairs::{PairDirectory, PairLabel};

use crate::{secret::Secret, store::Store, sync::pair::ResolvedPair};

/// Largest request body accepted: Notion events and Airtable pings are a few
/// KiB, so anything near this is not a real delivery.
pub const DEFAULT_BODY_LIMIT: usize = 256 * 1024;

/// Longest a request may take, body included (slow clients get 408). Below
/// Airtable's 25 s delivery timeout, so that a stuck request is answered.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// Tunables of the ingest layer.
#[derive(Debug, Clone)]
pub struct IngestConfig {
    /// Per pair: how long after an event its reconcile job becomes due, so
    /// that a burst of edits (or half-typed values) is synced once.
    pub debounce: HashMap<String, Duration>,
    /// For a pair missing from `debounce`.
    pub default_debounce: Duration,
    pub body_limit: usize,
    pub request_timeout: Duration,
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            debounce: HashMap::new(),
            default_debounce: Duration::ZERO,
            body_limit: DEFAULT_BODY_LIMIT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }
}

impl IngestConfig {
    /// Defaults, with each pair's `debounce_ms` from the mapping file.
    pub fn for_pairs(pairs: &[ResolvedPair]) -> Self {
        let debounce = pairs
            .iter()
            .map(|p| {
                let ms = p.config.options.debounce_ms;
                (p.name().to_owned(), Duration::from_millis(ms))
            })
            .collect();
        Self {
            debounce,
            ..Self::default()
        }
    }

    pub fn with_debounce(mut self, pair: impl Into<String>, debounce: Duration) -> Self {
        self.debounce.insert(pair.into(), debounce);
        self
    }

    /// The pair's debounce in the store's unit (ms).
    pub(crate) fn debounce_ms(&self, pair: &str) -> i64 {
        let d = self.debounce.get(pair).unwrap_or(&self.default_debounce);
        i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
    }
}

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
    /// `NOTION_WEBHOOK_SECRET`: unset, Notion events are refused with 401.
    pub notion_webhook_secret: Option<Secret>,
    /// `ADMIN_TOKEN`: unset, every admin route refuses.
    pub admin_token: Option<Secret>,
    /// The integration's own bot user (`GET /v1/users/me`): events authored
    /// only by it are the service's own writes and need no reconcile.
    pub bot_user_id: Option<String>,
    pub pairs: PairDirectory,
    pub config: IngestConfig,
    /// How many unsigned verification tokens this process still records.
    pub verification_limiter: webhooks::verification::VerificationLimiter,
    /// `[airtable.budgets]`: shown beside each base's calls this month.
    pub api_budgets: crate::config::ApiBudgets,
    /// The engine's undo (`POST /api/undo`, the status page's Undo
    /// buttons); without it they answer 503.
    pub undo: Option<Arc<dyn undo::UndoPort>>,
    /// Records webhooks, many per transaction (group commit).
    pub ingest: webhooks::group_commit::GroupCommit,
}

impl AppState {
    /// A state with no secrets, no bot id and default tunables.
    pub fn new(store: Store, pairs: PairDirectory) -> Self {
        Self {
            ingest: webhooks::group_commit::GroupCommit::new(store.clone()),
            store,
            notion_webhook_secret: None,
            admin_token: None,
            bot_user_id: None,
            pairs,
            config: IngestConfig::default(),
            verification_limiter: Default::default(),
            api_budgets: Default::default(),
            undo: None,
        }
    }
}

pub(crate) type Shared = Arc<AppState>;

/// Every route, with body limit, timeout and request tracing.
pub fn router(state: AppState) -> Router {
    let body_limit = state.config.body_limit;
    let timeout = state.config.request_timeout;
    Router::new()
        .route("/webhooks/notion", post(webhooks::notion::receive))
        .route("/webhooks/airtable", post(webhooks::airtable::receive))
        .merge(admin::routes())
        .merge(deletes::routes())
        .merge(undo::routes())
        .merge(status::routes())
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::scrape))
        .with_state(Arc::new(state))
        // The limit layer refuses a declared oversize body at once (413) and
        // caps a streamed one; axum's own default (2 MB) is aligned with it.
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(RequestBodyLimitLayer::new(body_limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        // Outside the limit and the timeout, to count their 413 and 408 too.
        .layer(axum::middleware::from_fn(metrics::track_webhooks))
        .layer(TraceLayer::new_for_http())
}

/// Longest a client may take to send a request's headers; it also bounds
/// how long an idle keep-alive connection is kept. `DEFAULT_REQUEST_TIMEOUT`
/// only starts once the headers are complete, so without this a client
/// trickling its headers (slowloris) would hold a connection forever.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// After shutdown: how long the open connections get to finish their
/// requests before they are dropped. Well inside the runner's grace, so a
/// slow client never holds up a deploy.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Pause after a failed accept (e.g. EMFILE: out of file descriptors), so
/// that the loop neither spins nor gives up.
const ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// The server's time limits: the constants above, shorter in tests.
#[derive(Debug, Clone, Copy)]
struct ServerLimits {
    header_read_timeout: Duration,
    shutdown_grace: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: HEADER_READ_TIMEOUT,
            shutdown_grace: SHUTDOWN_GRACE,
        }
    }
}

/// Serve `router` on `listener` until `shutdown` resolves; then stop
/// accepting, let the requests in flight finish within [`SHUTDOWN_GRACE`]
/// and drop what is left. Handlers see the peer address
/// (`ConnectInfo<SocketAddr>`).
///
/// HTTP/1.1 only, driven by hyper directly rather than `axum::serve`, which
/// gives hyper no timer and so no header read timeout. Not HTTP/2 (h2c): its
/// protocol sniffing and handshake have no timeout either, and no webhook
/// sender speaks cleartext HTTP/2.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, router, shutdown, ServerLimits::default()).await;
    Ok(())
}

async fn serve_with(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()>,
    limits: ServerLimits,
) {
    let builder = connection_builder(limits.header_read_timeout);
    let graceful = GracefulShutdown::new();
    let mut connections = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            (stream, remote) = accept(&listener) => {
                let watcher = graceful.watcher();
                let conn = serve_connection(&builder, stream, remote, router.clone(), watcher);
                connections.spawn(conn);
            }
            // Reap finished connections so that the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    close_connections(graceful, connections, limits.shutdown_grace).await;
}

/// HTTP/1.1 with keep-alive and a header read timeout (which needs a timer).
fn connection_builder(header_read_timeout: Duration) -> http1::Builder {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        .keep_alive(true);
    builder
}

/// The next connection. Accept errors do not end the server: a peer that
/// gave up before being accepted is skipped, anything else (descriptor
/// exhaustion, ...) is logged and retried after [`ACCEPT_BACKOFF`].
async fn accept(listener: &TcpListener) -> (TcpStream, SocketAddr) {
    loop {
        match listener.accept().await {
            Ok(accepted) => return accepted,
            Err(e) if is_connection_error(&e) => {}
            Err(e) => {
                tracing::error!(error = %e, "cannot accept a connection; retrying");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
}

fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    )
}

/// One connection's future: `router` with the peer address in each
/// request's extensions, as `into_make_service_with_connect_info` does;
/// `watcher` tells it to close when the server shuts down.
fn serve_connection(
    builder: &http1::Builder,
    stream: TcpStream,
    remote: SocketAddr,
    router: Router,
    watcher: Watcher,
) -> impl Future<Output = ()> + Send + 'static {
    let service = router.map_request(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(remote));
        request
    });
    let conn = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
    async move {
        // Timeouts, resets and malformed requests end up here: routine.
        if let Err(e) = watcher.watch(conn).await {
            tracing::debug!(%remote, error = %e, "connection closed with an error");
        }
    }
}

/// Ask every connection to close once its request in flight is answered
/// (idle keep-alive ones close at once, those still waiting for their first
/// request at their header timeout), wait up to `grace`, then drop the rest.
async fn close_connections(
    graceful: GracefulShutdown,
    mut connections: JoinSet<()>,
    grace: Duration,
) {
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        while connections.try_join_next().is_some() {}
        tracing::warn!(
            open = connections.len(),
            "connections still open after the shutdown grace; dropping them"
        );
    }
    connections.shutdown().await;
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    const LIMITS: ServerLimits = ServerLimits {
        header_read_timeout: Duration::from_millis(300),
        shutdown_grace: Duration::from_secs(3),
    };

    /// `serve_with` on a free port. `/slow` and `/upload` tell `entered`
    /// when they start; `/slow` answers after 500 ms, `/upload` once it has
    /// read the whole body, `/peer` with the peer address.
    async fn start(
        entered: Arc<tokio::sync::Notify>,
    ) -> (
        SocketAddr,
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<()>,
    ) {
        let upload_entered = entered.clone();
        let router = Router::new()
            .route(
                "/upload",
                post(move |request: Request| async move {
                    upload_entered.notify_one();
                    let body = axum::body::to_bytes(request.into_body(), usize::MAX).await;
                    body.map(|b| b.len().to_string()).unwrap_or_default()
                }),
            )
            .route(
                "/slow",
                get(move || async move {
                    entered.notify_one();
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    "done"
                }),
            )
            .route(
                "/peer",
                get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }),
            );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let shutdown = async move {
            let _ = stopped.await;
        };
        let server = tokio::spawn(serve_with(listener, router, shutdown, LIMITS));
        (addr, stop, server)
    }

    /// How long until the server closes `stream` (read returns EOF or an
    /// error), sending `trickle` one byte every 100 ms meanwhile.
    async fn closed_after(mut stream: TcpStream, trickle: &[u8]) -> Duration {
        let started = Instant::now();
        let (mut reader, mut writer) = stream.split();
        let send = async {
            for byte in trickle {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if writer.write_all(&[*byte]).await.is_err() {
                    break;
                }
            }
            std::future::pending::<()>().await;
        };
        let mut buf = [0u8; 64];
        let closed = async {
            loop {
                match reader.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        };
        let deadline = Duration::from_secs(5);
        tokio::select! {
            () = send => unreachable!(),
            () = closed => {}
            () = tokio::time::sleep(deadline) => panic!("still open after {deadline:?}"),
        }
        started.elapsed()
    }

    /// A client that sends nothing, and one that trickles its headers, are
    /// both closed at the header read timeout.
    #[tokio::test]
    async fn slow_or_silent_clients_are_closed_at_the_header_timeout() {
        let (addr, _stop, _server) = start(Arc::default()).await;
        let silent = TcpStream::connect(addr).await.unwrap();
        let trickling = TcpStream::connect(addr).await.unwrap();
        let (silent, trickling) = tokio::join!(
            closed_after(silent, b""),
            closed_after(trickling, b"GET /peer HTTP/1.1\r\nhost: x\r\n"),
        );
        for took in [silent, trickling] {
            assert!(took >= Duration::from_millis(250), "closed after {took:?}");
            assert!(took < Duration::from_secs(2), "closed after {took:?}");
        }
    }

    /// Shutdown lets a request in flight finish, closes the connections and
    /// returns; handlers see the peer address.
    #[tokio::test]
    async fn shutdown_answers_requests_in_flight_then_returns() {
        let entered = Arc::new(tokio::sync::Notify::new());
        let (addr, stop, server) = start(entered.clone()).await;
        let http = reqwest::Client::new();
        let peer = http
            .get(format!("http://{addr}/peer"))
            .send()
            .await
            .unwrap();
        let peer: SocketAddr = peer.text().await.unwrap().parse().unwrap();
        assert_eq!(peer.ip(), addr.ip());

        let in_flight = tokio::spawn(http.get(format!("http://{addr}/slow")).send());
        entered.notified().await;
        let started = Instant::now();
        stop.send(()).unwrap();
        let response = in_flight.await.unwrap().unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.text().await.unwrap(), "done");
        tokio::time::timeout(LIMITS.shutdown_grace * 2, server)
            .await
            .expect("serve returns once its connections are closed")
            .unwrap();
        let took = started.elapsed();
        assert!(took < LIMITS.shutdown_grace, "returned after {took:?}");
        assert!(TcpStream::connect(addr).await.is_err(), "still accepting");
    }

    /// A request that outlives the grace is dropped: serve still returns.
    #[tokio::test]
    async fn shutdown_does_not_wait_past_the_grace() {
        let entered = Arc::new(tokio::sync::Notify::new());
        let (addr, stop, server) = start(entered.clone()).await;
        let mut stream = TcpStream::connect(addr).await.unwrap();
        // Headers complete, body never sent: a request in flight forever.
        let head = "POST /upload HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\n";
        stream.write_all(head.as_bytes()).await.unwrap();
        entered.notified().await;
        let started = Instant::now();
        stop.send(()).unwrap();
        tokio::time::timeout(LIMITS.shutdown_grace * 2, server)
            .await
            .expect("serve returns after the grace")
            .unwrap();
        let took = started.elapsed();
        assert!(took >= LIMITS.shutdown_grace, "returned after {took:?}");
        let mut buf = [0u8; 16];
        let read = stream.read(&mut buf).await;
        assert!(matches!(read, Ok(0) | Err(_)), "the connection is dropped");
    }
}
