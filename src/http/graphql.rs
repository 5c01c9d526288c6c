//! `POST /graphql` and `GET /graphql` as the GraphQL-over-HTTP spec has them. A handler of
//! our own, because async-graphql-axum's answers every request with status 200 and one
//! media type whatever the client accepts, and runs mutations sent over GET. Mutations
//! pass write access (`access`) before they run.

use async_graphql::parser::parse_query;
use async_graphql::parser::types::{DocumentOperations, OperationType};
use async_graphql::{Request, Response as GraphqlResponse};
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::header::{ALLOW, CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppState;
use super::access::Denied;
use super::incoming::{GetParams, PostBody, Rejection};
use super::negotiate::ResponseFormat;
use super::observe::GraphqlOutcome;
use crate::graphql;

/// A GraphQL request in a JSON body.
pub async fn post(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(format) = ResponseFormat::negotiate(&headers) else {
        return not_acceptable();
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
            let selected = selected_operation(&request);
            if is_mutation(selected.as_ref())
                && let Err(denied) = state.write_access.permits(&headers)
            {
                return refuse_write(format, denied, selected);
            }
            execute(&state, format, request, selected).await
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
    let selected = selected_operation(&request);
    if is_mutation(selected.as_ref()) {
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
    execute(&state, format, request, selected).await
}

/// The operation a request selects: its name (`None` when anonymous) and type. `None` when
/// the document does not parse or does not pick one operation; execution reports that.
///
/// Write access relies on this agreeing with the executor: it parses with the same parser
/// and picks the operation by the same rule, so a request we see no mutation in cannot run
/// one.
pub(super) fn selected_operation(request: &Request) -> Option<(Option<String>, OperationType)> {
    let document = parse_query(&request.query).ok()?;
    match document.operations {
        DocumentOperations::Single(operation) => Some((None, operation.node.ty)),
        DocumentOperations::Multiple(operations) => {
            let (name, operation) = match &request.operation_name {
                Some(wanted) => operations
                    .into_iter()
                    .find(|(name, _)| name.as_str() == wanted)?,
                None if operations.len() == 1 => operations.into_iter().next()?,
                None => return None,
            };
            Some((Some(name.to_string()), operation.node.ty))
        }
    }
}

/// Whether the selected operation is a mutation.
pub(super) fn is_mutation(selected: Option<&(Option<String>, OperationType)>) -> bool {
    selected.is_some_and(|(_, kind)| *kind == OperationType::Mutation)
}

/// A mutation refused by write access: nothing ran.
fn refuse_write(
    format: ResponseFormat,
    denied: Denied,
    selected: Option<(Option<String>, OperationType)>,
) -> Response {
    let mut response = rejection_response(format, denied.rejection());
    if let Some(challenge) = denied.challenge() {
        response.headers_mut().insert(WWW_AUTHENTICATE, challenge);
    }
    with_outcome(response, operation_label(selected), "rejected")
}

/// The operation's name for logs and metrics.
fn operation_label(selected: Option<(Option<String>, OperationType)>) -> String {
    selected
        .and_then(|(name, _)| name)
        .unwrap_or_else(|| "anonymous".to_owned())
}

async fn execute(
    state: &AppState,
    format: ResponseFormat,
    request: Request,
    selected: Option<(Option<String>, OperationType)>,
) -> Response {
    let operation = operation_label(selected);
    let running = async {
        // Waiting for a turn counts against the time limit; the permit is returned when
        // the response is built, so at most a few results are in memory at once.
        let _turn = state.executions.acquire().await;
        graphql::execute(&state.schema, &state.db, request).await
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
        return with_outcome(rejection_response(format, rejection), operation, "timeout");
    };
    if is_request_error(&response) {
        // The document never ran: the spec's request error, without a `data` entry. Only
        // graphql-response+json clients are promised a 4xx for it.
        let status = match format {
            ResponseFormat::GraphqlResponseJson => StatusCode::BAD_REQUEST,
            ResponseFormat::Json => StatusCode::OK,
        };
        let body = json!({ "errors": response.errors, "extensions": response.extensions });
        return with_outcome(
            json_response(format, status, body.to_string()),
            operation,
            "rejected",
        );
    }
    let outcome = if response.errors.is_empty() {
        "ok"
    } else {
        "error"
    };
    let body = serde_json::to_string(&response).unwrap_or_default();
    with_outcome(
        json_response(format, StatusCode::OK, body),
        operation,
        outcome,
    )
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
fn is_request_error(response: &GraphqlResponse) -> bool {
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
