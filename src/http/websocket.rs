//! `GET /graphql/ws`: GraphQL over WebSocket, for subscriptions (and any other operation),
//! in the `graphql-transport-ws` protocol and the legacy `graphql-ws` one. Write access
//! holds here as over HTTP: a token-guarded server wants its token in `connection_init`,
//! and a read-only one refuses mutations sent over the socket. Queries and mutations take
//! turns and keep the time limit as over HTTP; subscriptions last as long as the client
//! wants. At most [`super::MAX_WEBSOCKETS`] connections are open at once, each with at most
//! [`SocketLimits::max_operations`] operations running.

mod connection;
mod handshake;
mod operations;
mod protocol;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::header::{HOST, ORIGIN};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::sync::{Semaphore, watch};
use tracing::Instrument as _;

use super::AppState;
use super::access::{Denied, WriteAccess};
use super::body::MAX_BODY_BYTES;
use connection::Connection;
use handshake::{Handshake, SizeLimits};
use operations::Operations;
use protocol::Protocol;

/// Bytes a client may send before its `connection_init` is acknowledged: a token and then
/// some, and little enough that a thousand sockets waiting there hold next to nothing.
const MAX_BYTES_BEFORE_INIT: usize = 16 * 1024;

/// How long a stopping server waits for its sockets to close before it stops anyway.
const SOCKETS_CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// What each WebSocket connection is held to.
#[derive(Debug, Clone, Copy)]
pub struct SocketLimits {
    /// How long a connection may stay open without a `connection_init` (4408 after).
    pub init_timeout: Duration,
    /// Operations (subscriptions included) one connection may run at once.
    pub max_operations: usize,
}

impl Default for SocketLimits {
    /// 5 s to initialise: graphql-ws's own server allows 3, and a client on a slow network
    /// sends `connection_init` right after the handshake anyway. 100 operations: an app or
    /// GraphiQL runs a handful, and each event costs its connection one reply per operation.
    fn default() -> Self {
        SocketLimits {
            init_timeout: Duration::from_secs(5),
            max_operations: 100,
        }
    }
}

/// The open WebSocket connections: their places, their limits, and the signal that
/// closes them when the server stops. Cloning shares them.
#[derive(Clone)]
pub struct Sockets {
    places: Arc<Semaphore>,
    max: usize,
    pub(super) limits: SocketLimits,
    going_away: Arc<watch::Sender<bool>>,
}

impl Sockets {
    /// Room for `max` connections at once.
    pub(super) fn new(max: usize) -> Sockets {
        Sockets {
            places: Arc::new(Semaphore::new(max)),
            max,
            limits: SocketLimits::default(),
            going_away: Arc::new(watch::Sender::new(false)),
        }
    }

    /// Tells every connection, open or opening, that the server is stopping (they close
    /// with 1001), then waits a while for them to have done so.
    pub(super) async fn close_all(&self) {
        self.going_away.send_replace(true);
        let max = u32::try_from(self.max).unwrap_or(u32::MAX);
        let all_closed = self.places.acquire_many(max);
        if tokio::time::timeout(SOCKETS_CLOSE_TIMEOUT, all_closed)
            .await
            .is_err()
        {
            tracing::warn!("stopping with WebSocket connections still closing");
        }
    }
}

/// `GET /graphql/ws`: upgrades to a WebSocket speaking the subprotocol the client offers.
pub async fn upgrade(State(state): State<Arc<AppState>>, mut request: Request) -> Response {
    let headers = request.headers();
    if !origin_allowed(headers, &state.cors_origins) {
        return (
            StatusCode::FORBIDDEN,
            "WebSocket connections from this origin are not allowed",
        )
            .into_response();
    }
    let handshake = match Handshake::of(&mut request) {
        Ok(handshake) => handshake,
        Err(refused) => return refused.into_response(),
    };
    let Ok(place) = Arc::clone(&state.sockets.places).try_acquire_owned() else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "too many WebSocket connections are open; try again later",
        )
            .into_response();
    };
    if state.documents.is_trusted() {
        // Operations over a socket carry documents, not hashes of listed ones.
        return (
            StatusCode::FORBIDDEN,
            "this server runs trusted documents only, which WebSocket operations cannot be",
        )
            .into_response();
    }
    let sizes = SizeLimits::new(MAX_BODY_BYTES, MAX_BYTES_BEFORE_INIT);
    let connection = connection(&state, request.headers(), handshake.protocol, sizes.clone());
    let (response, socket) = handshake.accept(sizes);
    // The connection outlives the request's span; it keeps its id for its log lines.
    let span = tracing::Span::current();
    tokio::spawn(
        async move {
            if let Some(socket) = socket.await {
                connection.serve(socket).await;
            }
            // The connection's place is free again once it has closed.
            drop(place);
        }
        .instrument(span),
    );
    response
}

/// The connection an upgrade request opens. Mutations over it face the same rules as over
/// POST, decided once from the upgrade request; a token, if needed, is checked at
/// `connection_init`.
fn connection(
    state: &AppState,
    headers: &HeaderMap,
    protocol: Protocol,
    sizes: SizeLimits,
) -> Connection {
    let write_refusal = match state.write_access {
        WriteAccess::ReadOnly => Some(Denied::ReadOnly),
        WriteAccess::Local => state.write_access.permits(headers).err(),
        WriteAccess::Open | WriteAccess::Token(_) => None,
    };
    Connection {
        protocol,
        access: state.write_access.clone(),
        operations: Operations {
            schema: state.schema.clone(),
            db: state.db.clone(),
            write_refusal,
            time_limit: state.request_timeout,
            executions: Arc::clone(&state.executions),
        },
        limits: state.sockets.limits,
        sizes,
        going_away: state.sockets.going_away.subscribe(),
    }
}

/// Whether a browser page from the request's `Origin` may connect. Browsers apply no CORS
/// to WebSockets, so without this check any web site could run mutations on a server on
/// its visitor's machine. Allowed: no `Origin` (not a browser), the server's own origin,
/// and the origins given with `--cors-origin`.
fn origin_allowed(headers: &HeaderMap, cors_origins: &[HeaderValue]) -> bool {
    let Some(origin) = headers.get(ORIGIN) else {
        return true;
    };
    if cors_origins
        .iter()
        .any(|allowed| allowed.as_bytes().eq_ignore_ascii_case(origin.as_bytes()))
    {
        return true;
    }
    let host = headers.get(HOST).and_then(|host| host.to_str().ok());
    let authority = origin
        .to_str()
        .ok()
        .and_then(|origin| origin.split_once("://"))
        .map(|(_, authority)| authority);
    matches!((authority, host), (Some(authority), Some(host)) if authority.eq_ignore_ascii_case(host))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_str(host).expect("host"));
        if let Some(origin) = origin {
            headers.insert(ORIGIN, HeaderValue::from_str(origin).expect("origin"));
        }
        headers
    }

    #[test]
    fn only_the_servers_own_and_configured_origins_may_connect() {
        let configured = [HeaderValue::from_static("https://app.example.com")];
        let cases = [
            (None, true),
            (Some("http://127.0.0.1:8000"), true),
            (Some("HTTP://127.0.0.1:8000"), true),
            (Some("https://app.example.com"), true),
            (Some("http://127.0.0.1:9000"), false),
            (Some("https://evil.example"), false),
            (Some("null"), false),
        ];
        for (origin, allowed) in cases {
            assert_eq!(
                origin_allowed(&headers(origin, "127.0.0.1:8000"), &configured),
                allowed,
                "Origin {origin:?}"
            );
        }
    }
}
