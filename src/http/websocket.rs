//! `GET /graphql/ws`: GraphQL over WebSocket, for subscriptions (and any other operation),
//! in the `graphql-transport-ws` protocol and the legacy `graphql-ws` one. Write access
//! holds here as over HTTP: a token-guarded server wants its token in `connection_init`,
//! and a read-only one refuses mutations sent over the socket. Queries and mutations take
//! turns and keep the time limit as over HTTP; subscriptions last as long as the client
//! wants. At most [`super::MAX_WEBSOCKETS`] connections are open at once.

use std::sync::Arc;
use std::time::Duration;

use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql::parser::types::OperationType;
use async_graphql::{Data, Executor, Request, Response as GraphqlResponse, ServerError};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::{State, WebSocketUpgrade};
use axum::http::header::{HOST, ORIGIN};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt as _;
use futures_util::stream::BoxStream;
use tokio::sync::Semaphore;
use tracing::Instrument as _;

use super::AppState;
use super::access::{Denied, WriteAccess};
use crate::db::Db;
use crate::graphql::loaders::spawned_loaders;
use crate::graphql::{BookSchema, Operation};

/// `GET /graphql/ws`: upgrades to a WebSocket speaking the subprotocol the client offers.
pub async fn upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
    protocol: GraphQLProtocol,
) -> Response {
    if !origin_allowed(&headers, &state.cors_origins) {
        return (
            StatusCode::FORBIDDEN,
            "WebSocket connections from this origin are not allowed",
        )
            .into_response();
    }
    let Ok(place) = Arc::clone(&state.sockets).try_acquire_owned() else {
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
    // Mutations over the socket face the same rules as over POST, decided once from the
    // upgrade request; a token, if needed, is checked at connection_init.
    let refusal = match state.write_access {
        WriteAccess::ReadOnly => Some(Denied::ReadOnly),
        WriteAccess::Local => state.write_access.permits(&headers).err(),
        WriteAccess::Open | WriteAccess::Token(_) => None,
    };
    let executor = Guarded {
        write_refusal: refusal,
        schema: state.schema,
        time_limit: state.request_timeout,
        executions: state.executions,
    };
    let (access, db) = (state.write_access, state.db);
    // The connection outlives the request's span; it keeps its id for its log lines.
    let span = tracing::Span::current();
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| {
            let serving = GraphQLWebSocket::new(socket, executor, protocol)
                .on_connection_init(move |payload| async move {
                    connection_data(&access, &db, &payload)
                })
                .serve()
                .instrument(span);
            async move {
                serving.await;
                // The connection's place is free again once it has closed.
                drop(place);
            }
        })
}

/// What a connection's operations share once `connection_init` is accepted: a statement
/// counter of its own and a loader whose batches run as tasks, since nothing here drives
/// a request's batch queue the way `graphql::execute` does for HTTP.
fn connection_data(
    access: &WriteAccess,
    db: &Db,
    payload: &serde_json::Value,
) -> async_graphql::Result<Data> {
    if let Err(denied) = access.permits_connection(payload) {
        tracing::info!(?denied, "WebSocket connection refused");
        // graphql-transport-ws clients see a close frame with this reason (code 1002, which
        // they take as final rather than retrying); graphql-ws clients a connection_error.
        return Err(async_graphql::Error::new(denied.connection_message()));
    }
    let db = db.scoped();
    let mut data = Data::default();
    data.insert(spawned_loaders(db.clone()));
    data.insert(db);
    Ok(data)
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

/// The schema, refusing mutations when the server is read-only. Over HTTP the handler
/// refuses them before execution; over a WebSocket every operation comes through here.
#[derive(Clone)]
struct Guarded {
    schema: BookSchema,
    /// Why mutations over this connection are refused, if they are.
    write_refusal: Option<Denied>,
    /// How long a query or mutation may run, its wait for a turn included.
    time_limit: Duration,
    /// The turns HTTP requests take too.
    executions: Arc<Semaphore>,
}

impl Guarded {
    /// The answer to an operation refused by write access or by the limits, if it is.
    fn refusal(&self, operation: &mut Operation) -> Option<GraphqlResponse> {
        if let Some(denied) = self.write_refusal
            && operation.is(OperationType::Mutation)
        {
            let denied = denied.rejection();
            return Some(error_response(denied.message, denied.code));
        }
        self.schema.refusal(operation)
    }
}

fn error_response(message: String, code: &str) -> GraphqlResponse {
    let mut error = ServerError::new(message, None);
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set("code", code);
    GraphqlResponse::from_errors(vec![error])
}

impl Executor for Guarded {
    async fn execute(&self, request: Request) -> GraphqlResponse {
        let mut operation = self.schema.operation(request);
        match self.refusal(&mut operation) {
            Some(refused) => refused,
            None => Executor::execute(self.schema.roots(), operation.into_request()).await,
        }
    }

    fn execute_stream(
        &self,
        request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, GraphqlResponse> {
        let mut operation = self.schema.operation(request);
        if let Some(refused) = self.refusal(&mut operation) {
            return futures_util::stream::once(async { refused }).boxed();
        }
        let is_subscription = operation.is(OperationType::Subscription);
        let is_mutation = operation.is(OperationType::Mutation);
        let mut responses =
            Executor::execute_stream(self.schema.roots(), operation.into_request(), session_data);
        if is_subscription {
            return responses;
        }
        // A query or mutation answers once: it keeps the time limit, and dropping it on
        // time-out rolls back any write it had begun. A query takes a turn as over HTTP.
        let (time_limit, executions) = (self.time_limit, Arc::clone(&self.executions));
        futures_util::stream::once(async move {
            let running = async {
                let _turn = if is_mutation {
                    None
                } else {
                    Some(executions.acquire().await)
                };
                responses.next().await.unwrap_or_default()
            };
            tokio::time::timeout(time_limit, running)
                .await
                .unwrap_or_else(|_| {
                    let message = format!(
                        "the operation ran longer than {} s and was stopped",
                        time_limit.as_secs_f64()
                    );
                    error_response(message, "TIMEOUT")
                })
        })
        .boxed()
    }
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
