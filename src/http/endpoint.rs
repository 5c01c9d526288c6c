//! `POST /graphql` and `GET /graphql` as the GraphQL-over-HTTP spec has them. A handler of
//! our own, because async-graphql-axum's answers every request with status 200 and one
//! media type whatever the client accepts, and runs mutations sent over GET. Mutations
//! pass write access (`access`) before they run.

use std::sync::Arc;

use async_graphql::parser::types::OperationType;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::header::{ALLOW, CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tokio::time::Instant;

use super::access::Denied;
use super::caching::{self, RequestKey};
use super::incoming::{GetParams, PostBody, Rejection};
use super::negotiate::ResponseFormat;
use super::observe::GraphqlOutcome;
use super::{AppState, body, diagnostics};
use crate::error::Code;
use crate::graphql::{self, Operation, is_request_error};

/// A GraphQL request in a JSON body.
pub async fn post(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Body) -> Response {
    // Read before any answer, so that every refusal below, not only the 413, reaches a
    // client still writing its body.
    let body = body::read(body).await;
    let Some(format) = ResponseFormat::negotiate(&headers) else {
        return not_acceptable();
    };
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return rejection_response(format, rejection),
    };
    if !is_json(&headers) {
        return rejection_response(
            format,
            Rejection {
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                message: "POST bodies must be application/json".to_owned(),
                code: Code::BadRequest,
            },
        );
    }
    match PostBody::parse(&body).and_then(|body| body.into_request(&state.documents)) {
        Ok(request) => {
            let operation = state.schema.operation(request);
            if operation.is(OperationType::Mutation)
                && let Err(denied) = state.write_access.permits(&headers)
            {
                return refuse_write(format, denied, &operation);
            }
            execute(&state, format, &headers, operation, deadline(&state)).await
        }
        Err(rejection) => rejection_response(format, rejection),
    }
}

/// A GraphQL query in the URL; mutations are refused, since GET must not change anything.
/// Successful queries are tagged for HTTP caching (`caching`); every other answer says not
/// to keep it.
pub async fn get(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(query_string): RawQuery,
) -> Response {
    let mut response = get_query(&state, &headers, query_string.as_deref()).await;
    caching::no_store_unless_tagged(&mut response);
    response
}

async fn get_query(state: &AppState, headers: &HeaderMap, query_string: Option<&str>) -> Response {
    let Some(format) = ResponseFormat::negotiate(headers) else {
        return not_acceptable();
    };
    let request = GetParams::parse(query_string.unwrap_or_default())
        .and_then(|params| params.into_request(&state.documents));
    let request = match request {
        Ok(request) => request,
        Err(rejection) => return rejection_response(format, rejection),
    };
    let key = RequestKey::of(&request, format);
    let deadline = deadline(state);
    let operation = state.schema.operation(request);
    if operation.is(OperationType::Mutation) {
        let rejection = Rejection {
            status: StatusCode::METHOD_NOT_ALLOWED,
            message: "mutations must be sent with POST".to_owned(),
            code: Code::BadRequest,
        };
        let mut response = rejection_response(format, rejection);
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    if diagnostics::wants_sql_statements(headers) {
        // Statement counts are no part of the catalogue's data: nothing to tag.
        return execute(state, format, headers, operation, deadline).await;
    }
    execute_tagged(state, format, headers, key, operation, deadline).await
}

/// Runs a query and tags its response, or answers 304 without running it when the client
/// already holds the response it would get (see `caching` for why that is sound).
async fn execute_tagged(
    state: &AppState,
    format: ResponseFormat,
    headers: &HeaderMap,
    key: RequestKey,
    mut operation: Operation,
    deadline: Instant,
) -> Response {
    let version = if operation.reads_catalogue() {
        // Within the request's time limit: what is left of it goes to the operation.
        match tokio::time::timeout_at(deadline, state.db.data_version()).await {
            Ok(Ok(version)) => Some(version),
            Ok(Err(error)) => {
                tracing::warn!(%error, "the data version could not be read: the response is not tagged");
                None
            }
            Err(_) => None,
        }
    } else {
        Some(caching::SCHEMA_ONLY.to_owned())
    };
    let Some(etag) = version.map(|version| key.etag(&version)) else {
        return execute(state, format, headers, operation, deadline).await;
    };
    // A request the limits now refuse runs, to be told so, whatever it was answered before.
    if caching::none_match_names(headers, &etag) && state.schema.refusal(&mut operation).is_none() {
        let label = operation_label(&operation);
        return with_outcome(
            caching::not_modified(etag, state.cache),
            label,
            "not_modified",
        );
    }
    let mut response = execute(state, format, headers, operation, deadline).await;
    let succeeded = response.status() == StatusCode::OK
        && response
            .extensions()
            .get::<GraphqlOutcome>()
            .is_some_and(|outcome| outcome.outcome == "ok");
    if succeeded {
        caching::tag(&mut response, etag, state.cache);
    }
    response
}

/// A mutation refused by write access: nothing ran.
fn refuse_write(format: ResponseFormat, denied: Denied, operation: &Operation) -> Response {
    let mut response = rejection_response(format, denied.rejection());
    if let Some(challenge) = denied.challenge() {
        response.headers_mut().insert(WWW_AUTHENTICATE, challenge);
    }
    with_outcome(response, operation_label(operation), "rejected")
}

/// The operation's name for logs and metrics.
fn operation_label(operation: &Operation) -> String {
    operation
        .selected()
        .and_then(|(name, _)| name.clone())
        .unwrap_or_else(|| "anonymous".to_owned())
}

/// When a request that arrives now must have been answered.
fn deadline(state: &AppState) -> Instant {
    Instant::now() + state.request_timeout
}

async fn execute(
    state: &AppState,
    format: ResponseFormat,
    headers: &HeaderMap,
    mut operation: Operation,
    deadline: Instant,
) -> Response {
    if diagnostics::wants_sql_statements(headers) {
        operation.report_sql_statements();
    }
    let label = operation_label(&operation);
    let takes_turn = state.schema.takes_turn(&mut operation);
    let running = async {
        // Waiting for a turn counts against the time limit; the permit is returned when
        // the response is built, so at most a few results are in memory at once.
        let _turn = if takes_turn {
            Some(state.executions.acquire().await)
        } else {
            None
        };
        // Boxed: an execution's state is many kilobytes, which every layer of the service
        // stack would otherwise copy as it moves the handler's future along.
        Box::pin(graphql::execute(&state.schema, &state.db, operation)).await
    };
    // Dropping the request on time-out rolls back any write it had begun.
    let Ok(response) = tokio::time::timeout_at(deadline, running).await else {
        let rejection = Rejection {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: format!(
                "the request ran longer than {} s and was stopped",
                state.request_timeout.as_secs_f64()
            ),
            code: Code::Timeout,
        };
        return with_outcome(rejection_response(format, rejection), label, "timeout");
    };
    if is_request_error(&response) {
        // The document never ran: the spec's request error, without a `data` entry. Only
        // graphql-response+json clients are promised a 4xx for it.
        let status = match format {
            ResponseFormat::GraphqlResponseJson => StatusCode::BAD_REQUEST,
            ResponseFormat::Json => StatusCode::OK,
        };
        let mut body = json!({ "errors": response.errors });
        if !response.extensions.is_empty() {
            body["extensions"] = json!(response.extensions);
        }
        return with_outcome(
            json_response(format, status, body.to_string()),
            label,
            "rejected",
        );
    }
    let outcome = if response.errors.is_empty() {
        "ok"
    } else {
        "error"
    };
    let body = serde_json::to_string(&response).unwrap_or_default();
    // A large result is thousands of small allocations to free: freed by another task, they
    // do not hold back the answer, which is already serialized (and the response budget
    // bounds each result). A small one is freed faster than a task would be woken for it.
    if body.len() >= DROP_APART_BYTES {
        tokio::spawn(async move { drop(response) });
    }
    with_outcome(json_response(format, StatusCode::OK, body), label, outcome)
}

/// Responses whose body is at least this long are freed by a task of their own.
const DROP_APART_BYTES: usize = 16 * 1024;

/// Tells the observing middleware what became of the request.
fn with_outcome(mut response: Response, operation: String, outcome: &'static str) -> Response {
    response
        .extensions_mut()
        .insert(GraphqlOutcome { operation, outcome });
    response
}

fn rejection_response(format: ResponseFormat, rejection: Rejection) -> Response {
    let body = json!({ "errors": [{
        "message": rejection.message,
        "extensions": { "code": rejection.code.as_str() },
    }] });
    json_response(format, rejection.status, body.to_string())
}

fn not_acceptable() -> Response {
    let body = json!({ "errors": [{
        "message": "responses are application/graphql-response+json or application/json"
    }] });
    json_response(
        ResponseFormat::Json,
        StatusCode::NOT_ACCEPTABLE,
        body.to_string(),
    )
}

fn json_response(format: ResponseFormat, status: StatusCode, body: String) -> Response {
    (status, [(CONTENT_TYPE, format.content_type())], body).into_response()
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media_type| media_type.trim().eq_ignore_ascii_case("application/json"))
}
