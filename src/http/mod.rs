//! HTTP: the router and the server loop. Everything they use comes in as arguments, so
//! tests serve exactly what `bookgraph serve` does, on a port of their own.

mod access;
mod body;
mod caching;
mod catalogue;
mod connections;
mod diagnostics;
mod documents;
mod endpoint;
mod graphiql;
mod health;
mod incoming;
mod metrics;
mod negotiate;
mod observe;
mod websocket;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use std::time::Duration;
use tokio::sync::Semaphore;

use axum::Router;
use axum::http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware;
use axum::routing::get;
use tokio::net::TcpListener;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::timeout::TimeoutLayer;

use crate::config;
use crate::db::Db;
use crate::graphql::BookSchema;
use caching::CachePolicy;
use documents::Documents;
use observe::RequestMetrics;
use prometheus_client::registry::Registry;

pub use access::{InvalidToken, WriteAccess, WriteToken};
pub use connections::ConnectionLimits;
pub use websocket::SocketLimits;

/// WebSocket connections open at once; each holds a task and its subscriptions' buffers,
/// so past this many a new one is refused (503) rather than starving the rest.
const MAX_WEBSOCKETS: usize = 1024;
/// GraphQL requests executed at once: two per core keeps the cores busy while one waits
/// for the database, and bounds the memory that many large responses built together would take.
/// More requests queue, each within its time limit.
fn concurrent_executions() -> usize {
    std::thread::available_parallelism().map_or(2, |cores| cores.get()) * 2
}

/// How long a stopping server waits for requests in flight.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// Grace beyond the GraphQL timeout after which any request is cut off with 408.
const TIMEOUT_GRACE: Duration = Duration::from_secs(5);

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    schema: BookSchema,
    db: Db,
    documents: Arc<Documents>,
    request_timeout: Duration,
    metrics: Arc<RequestMetrics>,
    /// Everything `/metrics` reports that lives as long as the server.
    registry: Arc<Registry>,
    cors_origins: Vec<HeaderValue>,
    write_access: WriteAccess,
    /// Turns to execute a GraphQL request.
    executions: Arc<Semaphore>,
    /// Open WebSocket connections.
    sockets: websocket::Sockets,
    /// How long query responses over GET may be reused without revalidating.
    cache: CachePolicy,
}

impl AppState {
    /// State serving `schema` over `db`, with automatic persisted queries.
    pub fn new(schema: BookSchema, db: Db) -> Self {
        let metrics = Arc::new(RequestMetrics::default());
        let registry = Arc::new(metrics::registry(&metrics, db.stats()));
        AppState {
            schema,
            db,
            documents: Arc::default(),
            request_timeout: config::REQUEST_TIMEOUT,
            metrics,
            registry,
            cors_origins: Vec::new(),
            executions: Arc::new(Semaphore::new(concurrent_executions())),
            sockets: websocket::Sockets::new(MAX_WEBSOCKETS),
            write_access: WriteAccess::Local,
            cache: CachePolicy::default(),
        }
    }

    /// The same, letting clients and caches reuse a query's response over GET for
    /// `max_age` without asking again; zero (the default) has them revalidate every time.
    pub fn with_cache_max_age(self, max_age: Duration) -> Self {
        AppState {
            cache: CachePolicy {
                max_age: Some(max_age),
            },
            ..self
        }
    }

    /// The same, keeping at most `max` WebSocket connections open at once.
    pub fn with_max_websockets(self, max: usize) -> Self {
        let mut sockets = websocket::Sockets::new(max);
        sockets.limits = self.sockets.limits;
        AppState { sockets, ..self }
    }

    /// The same, holding each WebSocket connection to `limits`.
    pub fn with_socket_limits(mut self, limits: SocketLimits) -> Self {
        self.sockets.limits = limits;
        self
    }

    /// Completes once `signal` has and every WebSocket connection has been told the server
    /// is stopping (close code 1001) and closed, or a few seconds have passed: the
    /// `shutdown` to give [`serve`], since a socket is no request its draining waits for.
    pub fn closing_sockets_after(
        &self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> impl Future<Output = ()> + Send + 'static {
        let sockets = self.sockets.clone();
        async move {
            signal.await;
            sockets.close_all().await;
        }
    }

    /// The same, with mutations open to anyone, guarded by a bearer token, or refused.
    pub fn with_write_access(self, write_access: WriteAccess) -> Self {
        AppState {
            write_access,
            ..self
        }
    }

    /// The same, letting browser pages from `origins` call the API. Without any, browsers
    /// allow same-origin pages only.
    pub fn with_cors_origins(self, origins: Vec<HeaderValue>) -> Self {
        AppState {
            cors_origins: origins,
            ..self
        }
    }

    /// The same, answering GraphQL requests that run longer than `timeout` with an error.
    pub fn with_request_timeout(self, timeout: Duration) -> Self {
        AppState {
            request_timeout: timeout,
            ..self
        }
    }

    /// The same, running only `documents` (a map of SHA-256 hex hash to document).
    pub fn with_trusted_documents(self, documents: HashMap<String, String>) -> Self {
        AppState {
            documents: Arc::new(Documents::trusted(documents)),
            ..self
        }
    }
}

/// All of bookgraph's routes.
pub fn router(state: AppState) -> Router {
    let cut_off = state.request_timeout + TIMEOUT_GRACE;
    let cors = cors_layer(&state.cors_origins);
    // Shared, not copied: the middleware and every handler take the state per request.
    let state = Arc::new(state);
    let app = Router::new()
        .route("/", get(graphiql::page))
        .route("/assets/graphiql/{file}", get(graphiql::asset))
        .route("/catalogue", get(catalogue::page))
        .route("/assets/catalogue/{version}/{file}", get(catalogue::asset))
        .route("/graphql", get(endpoint::get).post(endpoint::post))
        .route("/graphql/ws", get(websocket::upgrade))
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .route("/metrics", get(metrics::metrics))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            observe::observe,
        ))
        .with_state(state)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            cut_off,
        ));
    let app = match cors {
        Some(cors) => app.layer(cors),
        None => app,
    };
    // Compressed when the client asks (Accept-Encoding): GraphiQL's scripts shrink from
    // 1.6 MB to 0.66 MB, large query results by far more.
    app.layer(CompressionLayer::new())
}

fn cors_layer(origins: &[HeaderValue]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins.iter().cloned()))
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([
                CONTENT_TYPE,
                ACCEPT,
                AUTHORIZATION,
                IF_NONE_MATCH,
                observe::REQUEST_ID,
                diagnostics::DIAGNOSTICS,
            ])
            .expose_headers([observe::REQUEST_ID, ETAG])
            .max_age(Duration::from_secs(3600)),
    )
}

/// Serves `router` on `listener` until `shutdown` completes, then lets in-flight requests
/// finish (each is bounded by the request timeout), within the default [`ConnectionLimits`].
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, router, ConnectionLimits::default(), shutdown).await
}

/// The same, within `limits`.
pub async fn serve_with(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let draining = Arc::new(tokio::sync::Notify::new());
    let started_draining = Arc::clone(&draining);
    let server = connections::serve_connections(listener, router, limits, async move {
        shutdown.await;
        started_draining.notify_one();
    });
    // A request stuck past every timeout (or a client holding a connection open) must not
    // keep the process from stopping: drain for a while, then give up on the stragglers.
    let deadline = async {
        draining.notified().await;
        tokio::time::sleep(DRAIN_TIMEOUT).await;
    };
    tokio::select! {
        () = server => {}
        () = deadline => {
            tracing::warn!(?DRAIN_TIMEOUT, "stopping with requests still in flight");
        }
    }
    Ok(())
}
