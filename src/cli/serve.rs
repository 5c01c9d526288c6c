//! `bookgraph serve`: from flags to a listening server, and back down on a signal.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, bail};
use axum::http::HeaderValue;
use tokio::net::TcpListener;

use super::database::{import_file, open};
use super::redact::without_password;
use super::{ServeArgs, WriteArgs};
use crate::db::{self, Db};
use crate::graphql;
use crate::http::{self, AppState, WriteAccess};
use crate::import::import_csv;

/// Serves the API until Ctrl-C or SIGTERM.
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    // Before anything else, so a refused start leaves no database file behind.
    let mut write_access = write_access(args.writes, args.listen)?;
    let db = open(&args.database, true).await?;
    if db::lookup::is_empty(&db).await? {
        tracing::warn!(
            database = %without_password(&args.database.url),
            "the catalogue is empty: loading it with the tutorial's data (or --seed)"
        );
        seed(&db, args.seed.as_deref()).await?;
    }
    if db.is_read_only() && write_access != WriteAccess::ReadOnly {
        tracing::warn!(
            database = %without_password(&args.database.url),
            "the database cannot be written to: serving it read-only, as with --read-only"
        );
        write_access = WriteAccess::ReadOnly;
    }
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let address = listener.local_addr()?;
    tracing::info!(
        "listening on http://{address} (GraphiQL at http://{address}/, GraphQL at http://{address}/graphql)"
    );
    let schema = graphql::build_schema(args.limits.limits());
    let mut state = AppState::new(schema, db.clone())
        .with_request_timeout(Duration::from_secs(args.limits.request_timeout))
        .with_cors_origins(cors_origins(&args.cors_origins)?)
        .with_write_access(write_access)
        .with_socket_limits(args.limits.socket_limits())
        .with_cache_max_age(Duration::from_secs(args.cache_max_age));
    if let Some(path) = &args.trusted_documents {
        state = state.with_trusted_documents(read_trusted_documents(path)?);
        tracing::info!(documents = %path.display(), "running trusted documents only");
    }
    let shutdown = state.closing_sockets_after(shutdown_signal());
    http::serve_with(
        listener,
        http::router(state),
        args.limits.connections(),
        shutdown,
    )
    .await?;
    db.close().await;
    tracing::info!("bookgraph stopped");
    Ok(())
}

/// Who may write, from the flags. Open writes on an address other than loopback would let
/// anyone on the network change the catalogue, so they need `--allow-anonymous-writes`.
fn write_access(args: WriteArgs, listen: SocketAddr) -> anyhow::Result<WriteAccess> {
    let access = match (args.write_token, args.read_only) {
        (Some(token), _) => {
            tracing::info!("mutations need the write token");
            WriteAccess::Token(token)
        }
        (None, true) => {
            tracing::info!("read-only: mutations are refused");
            WriteAccess::ReadOnly
        }
        (None, false) if args.allow_anonymous_writes => WriteAccess::Open,
        (None, false) => WriteAccess::Local,
    };
    let loopback = listen.ip().to_canonical().is_loopback();
    match access {
        WriteAccess::Local if !loopback => bail!(
            "refusing to listen on {listen} with mutations open to anyone: \
             give --write-token, --read-only or --allow-anonymous-writes"
        ),
        WriteAccess::Open if !loopback => {
            tracing::warn!(%listen, "anyone who can reach this address can run mutations");
        }
        _ => {}
    }
    Ok(access)
}

/// Where `serve` finds the tutorial's data when not told otherwise.
const DEFAULT_SEED: &str = "data/author_book_publisher.csv";
/// The same data, built in, for a binary started away from the repository.
const BUILT_IN_SEED: &str = include_str!("../../data/author_book_publisher.csv");

/// Loads an empty catalogue from `seed`, or by default from `data/` or the built-in copy.
async fn seed(db: &Db, seed: Option<&Path>) -> anyhow::Result<()> {
    let summary = match seed {
        Some(path) => import_file(db, path).await?,
        None if Path::new(DEFAULT_SEED).exists() => {
            import_file(db, Path::new(DEFAULT_SEED)).await?
        }
        None => import_csv(db, BUILT_IN_SEED.as_bytes())
            .await
            .context("loading the built-in tutorial data")?,
    };
    tracing::info!(%summary, "loaded the empty database");
    Ok(())
}

fn cors_origins(origins: &[String]) -> anyhow::Result<Vec<HeaderValue>> {
    origins
        .iter()
        .map(|origin| {
            HeaderValue::from_str(origin.trim_end_matches('/'))
                .with_context(|| format!("--cors-origin {origin:?} is not a valid origin"))
        })
        .collect()
}

fn read_trusted_documents(path: &Path) -> anyhow::Result<HashMap<String, String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a JSON object of hash -> document",
            path.display()
        )
    })
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
