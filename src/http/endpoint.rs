//! `POST /graphql` and `GET /graphql` as the GraphQL-over-HTTP spec has them. A handler of
//! our own, because async-graphql-axum's answers every request with status 200 and one
//! media type whatever the client accepts, and runs mutations sent over GET. Mutations
//! pass write access (`access`) before they run.

use async_graphql::Response as GraphqlResponse;
use async_graphql::parser::types::OperationType;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::header::{ALLOW, CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::access::Denied;
use super::incoming::{GetParams, PostBody, Rejection};
use super::negotiate::ResponseFormat;
use super::observe::GraphqlOutcome;
use super::{AppState, body, diagnostics};
use crate::graphql::{self, Operation};

/// A GraphQL request in a JSON body.
pub async fn post(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
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
                code: "BAD_REQUEST",
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
            execute(&state, format, &headers, operation).await
        }
        Err(rejection) => rejection_response(format, rejection),
    }
}

/// A GraphQL query in the URL; mutations are refused, since GET must not change anything.
pub async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query_string): RawQuery,
) -> Response {
    let Some(format) = ResponseFormat::negotiate(&headers) else {
        return not_acceptable();
    };
    let request = GetParams::parse(query_string.as_deref().unwrap_or_default())
        .and_then(|params| params.into_request(&state.documents));
    let request = match request {
        Ok(request) => request,
        Err(rejection) => return rejection_response(format, rejection),
    };
    let operation = state.schema.operation(request);
    if operation.is(OperationType::Mutation) {
        let rejection = Rejection {
            status: StatusCode::METHOD_NOT_ALLOWED,
            message: "mutations must be sent with POST".to_owned(),
            code: "BAD_REQUEST",
        };
        let mut response = rejection_response(format, rejection);
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    execute(&state, format, &headers, operation).await
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

async fn execute(
    state: &AppState,
    format: ResponseFormat,
    headers: &HeaderMap,
    mut operation: Operation,
) -> Response {
    if diagnostics::wants_sql_statements(headers) {
        operation.report_sql_statements();
    }
    let label = operation_label(&operation);
    let running = async {
        // Waiting for a turn counts against the time limit; the permit is returned when
        // the response is built, so at most a few results are in memory at once.
        // Mutations queue for the one writer instead and answer small results: a turn held
        // while waiting there would keep reads waiting behind writes. Operations that ask
        // only about the schema need no turn either.
        let _turn = if operation.is(OperationType::Mutation) || !operation.reads_catalogue() {
            None
        } else {
            Some(state.executions.acquire().await)
        };
        graphql::execute(&state.schema, &state.db, operation).await
    };
    // Dropping the request on time-out rolls back any write it had begun.
    let Ok(response) = tokio::time::timeout(state.request_timeout, running).await else {
        let rejection = Rejection {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: format!(
                "the request ran longer than {} s and was stopped",
                state.request_timeout.as_secs_f64()
            ),
            code: "TIMEOUT",
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
    with_outcome(json_response(format, StatusCode::OK, body), label, outcome)
}

/// Tells the observing middleware what became of the request.
fn with_outcome(mut response: Response, operation: String, outcome: &'static str) -> Response {
    response
        .extensions_mut()
        .insert(GraphqlOutcome { operation, outcome });
    response
}

/// Parse, validation and variable errors come before execution and carry no `path`;
/// field errors always have one.
pub(super) fn is_request_error(response: &GraphqlResponse) -> bool {
    response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|error| error.path.is_empty())
}

fn rejection_response(format: ResponseFormat, rejection: Rejection) -> Response {
    let body = json!({ "errors": [{
        "message": rejection.message,
        "extensions": { "code": rejection.code },
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
