//! `GET /metrics`, in Prometheus' text format: what the layers count since the process
//! started (requests, statements, batches), and the database's gauges sampled per scrape.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::prometheus_text::{self, encode};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::AppState;
use super::observe::RequestMetrics;
use crate::db::{Db, DbStats};

/// A gauge of whole numbers that are never negative.
type Count = Gauge<u64, AtomicU64>;

/// The labels of `bookgraph_db_connections_in_use`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    pool: &'static str,
}

/// The registry of the counters and histograms that live as long as the server; each
/// layer keeps its own handles and counts into them.
pub fn registry(requests: &RequestMetrics, db: &DbStats) -> Registry {
    let mut registry = Registry::default();
    requests.register(&mut registry);
    db.register(&mut registry);
    registry
}

/// The database's gauges, read now. A registry of their own, made per scrape, because
/// they are samples rather than running counts: a database that cannot say its size
/// leaves that gauge out instead of repeating an old value.
async fn sample(db: &Db) -> Registry {
    let mut registry = Registry::default();
    let in_use = Family::<PoolLabels, Count>::default();
    let (readers, writer) = db.connections_in_use();
    in_use
        .get_or_create(&PoolLabels { pool: "readers" })
        .set(readers.into());
    in_use
        .get_or_create(&PoolLabels { pool: "writer" })
        .set(writer.into());
    registry.register(
        "bookgraph_db_connections_in_use",
        "Database connections in use, by pool",
        in_use,
    );
    if let Ok(bytes) = db.size().await {
        let size = Count::default();
        size.set(bytes);
        registry.register(
            "bookgraph_database_size_bytes",
            "Bytes the database takes: the SQLite file and its write-ahead log, or the PostgreSQL database",
            size,
        );
    }
    registry
}

/// `GET /metrics`.
pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let sampled = sample(&state.db).await;
    let mut out = String::new();
    encode(&mut out, &state.registry)
        .and_then(|()| encode(&mut out, &sampled))
        .expect("the encoder fails only when its writer does, and a String never does");
    ([(CONTENT_TYPE, prometheus_text::CONTENT_TYPE)], out).into_response()
}
