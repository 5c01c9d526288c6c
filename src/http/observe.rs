//! Every request, observed: a request id, one log line (operation, status, duration) and
//! the request metrics behind `/metrics`.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tracing::Instrument as _;

use super::AppState;

/// The header carrying the request id, in and out.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Distinct operation names counted apart; clients choose names, so beyond this many
/// they are counted together as "other" to keep `/metrics` bounded.
const MAX_OPERATION_LABELS: usize = 100;

/// Request latency buckets, in seconds.
const LATENCY_BOUNDS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// What the GraphQL handler tells the observer about a request, through the response's
/// extensions.
#[derive(Clone, Debug)]
pub struct GraphqlOutcome {
    /// The operation's name, "anonymous" when it has none.
    pub operation: String,
    /// "ok", "error" (GraphQL errors in the response), "rejected" (never executed) or
    /// "not_modified" (a GET whose client holds the current response: 304, never executed).
    pub outcome: &'static str,
}

/// The labels of `bookgraph_requests_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    operation: String,
    outcome: &'static str,
}

/// Request counters and latencies since the process started.
#[derive(Debug)]
pub struct RequestMetrics {
    requests: Family<RequestLabels, Counter>,
    /// Operation names counted apart so far, at most [`MAX_OPERATION_LABELS`].
    operations: Mutex<HashSet<String>>,
    latency: Histogram,
    started_ids: AtomicU64,
    id_prefix: String,
}

impl Default for RequestMetrics {
    fn default() -> Self {
        let started = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs());
        RequestMetrics {
            requests: Family::default(),
            operations: Mutex::default(),
            latency: Histogram::new(LATENCY_BOUNDS),
            started_ids: AtomicU64::new(0),
            id_prefix: format!("{started:x}"),
        }
    }
}

impl RequestMetrics {
    fn next_id(&self) -> String {
        let n = self.started_ids.fetch_add(1, Ordering::Relaxed);
        format!("{}-{n:x}", self.id_prefix)
    }

    fn record(&self, outcome: &GraphqlOutcome, seconds: f64) {
        self.latency.observe(seconds);
        let labels = RequestLabels {
            operation: self.operation_label(&outcome.operation),
            outcome: outcome.outcome,
        };
        self.requests.get_or_create(&labels).inc();
    }

    /// `operation` itself while it is one of the first [`MAX_OPERATION_LABELS`] names seen,
    /// "other" after that.
    fn operation_label(&self, operation: &str) -> String {
        let mut operations = self
            .operations
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if operations.contains(operation) {
            return operation.to_owned();
        }
        if operations.len() < MAX_OPERATION_LABELS {
            operations.insert(operation.to_owned());
            return operation.to_owned();
        }
        "other".to_owned()
    }

    /// Registers the request metrics with `registry`; they keep counting into it.
    pub fn register(&self, registry: &mut Registry) {
        // prometheus-client adds `_total` to a counter's name and a full stop to its help.
        registry.register(
            "bookgraph_requests",
            "GraphQL requests by operation and outcome",
            self.requests.clone(),
        );
        registry.register(
            "bookgraph_request_duration_seconds",
            "GraphQL request latency",
            self.latency.clone(),
        );
    }
}

/// Longest client-chosen request id kept.
const MAX_REQUEST_ID_LEN: usize = 64;

/// Whether a client's `x-request-id` can be kept: 1 to 64 of `A-Z a-z 0-9 . _ -`. The id is
/// written as is into text logs, so quotes, spaces or `=` would let a client forge fields
/// there (`abc"} injected=1`); escaping it instead would make one id read differently in
/// the log and in the response, so anything else is replaced by an id of our own.
fn is_safe_id(id: &str) -> bool {
    (1..=MAX_REQUEST_ID_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-'))
}

/// Middleware: gives the request an id (the client's `x-request-id` when it has a safe
/// shape, see [`is_safe_id`]), runs it inside a span carrying that id, logs one line and records metrics.
pub async fn observe(
    State(state): State<Arc<AppState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .filter(|value| is_safe_id(value))
        .map_or_else(|| state.metrics.next_id(), str::to_owned);
    if let Ok(value) = HeaderValue::from_str(&id) {
        request.headers_mut().insert(REQUEST_ID, value);
    }
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let span = tracing::info_span!("request", id = %id);
    let mut response = next.run(request).instrument(span.clone()).await;
    let seconds = started.elapsed().as_secs_f64();
    let graphql = response.extensions().get::<GraphqlOutcome>().cloned();
    if let Some(outcome) = &graphql {
        state.metrics.record(outcome, seconds);
    }
    span.in_scope(|| {
        tracing::info!(
            target: "bookgraph::request",
            %method,
            path,
            operation = graphql.as_ref().map(|outcome| outcome.operation.as_str()),
            outcome = graphql.as_ref().map(|outcome| outcome.outcome),
            status = response.status().as_u16(),
            duration_ms = seconds * 1000.0,
            "request"
        );
    });
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_ids_of_letters_digits_dots_underscores_and_dashes_are_safe() {
        let longest = "x".repeat(MAX_REQUEST_ID_LEN);
        let too_long = "x".repeat(MAX_REQUEST_ID_LEN + 1);
        let cases = [
            ("trace-42", true),
            ("A.b_C-9", true),
            (longest.as_str(), true),
            ("", false),
            (too_long.as_str(), false),
            ("abc\"} injected=1", false),
            ("a b", false),
            ("a=b", false),
            ("caf\u{e9}", false),
        ];
        for (id, safe) in cases {
            assert_eq!(is_safe_id(id), safe, "{id:?}");
        }
    }

    #[test]
    fn operations_beyond_the_first_hundred_names_are_counted_as_other() {
        let metrics = RequestMetrics::default();
        for n in 0..MAX_OPERATION_LABELS {
            assert_eq!(metrics.operation_label(&format!("Op{n}")), format!("Op{n}"));
        }
        assert_eq!(metrics.operation_label("Late"), "other");
        assert_eq!(
            metrics.operation_label("Op0"),
            "Op0",
            "a name counted apart stays apart"
        );
    }
}
