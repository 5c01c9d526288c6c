//! `POST /graphql` and `GET /graphql` as the GraphQL-over-HTTP spec has them. A handler of
//! our own, because async-graphql-axum's answers every request with status 200 and one
//! media type whatever the client accepts, and runs mutations sent over GET.

use async_graphql::parser::parse_query;
use async_graphql::parser::types::{DocumentOperations, OperationType};
use async_graphql::{Request, Response as GraphqlResponse, Variables};
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::header::{ALLOW, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::negotiate::ResponseFormat;
use crate::graphql;

/// A GraphQL request in a JSON body.
pub async fn post(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(format) = ResponseFormat::negotiate(&headers) else {
        return not_acceptable();
    };
    if !is_json(&headers) {
        return request_error(
            format,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "POST bodies must be application/json",
        );
    }
    let request = serde_json::from_slice::<PostBody>(&body)
        .map_err(|error| format!("the body is not a GraphQL request: {error}"))
        .and_then(|body| build_request(body.query, body.operation_name, body.variables));
    match request {
        Ok(request) => execute(&state, format, request).await,
        Err(message) => request_error(format, StatusCode::BAD_REQUEST, &message),
    }
}

/// A GraphQL request in a POST body: a JSON object whose `query` is a string. Read into
/// our own type because async-graphql's `Request` takes a missing query as empty and a
/// JSON array as a batch, neither of which is a well-formed request here.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PostBody {
    query: String,
    operation_name: Option<String>,
    variables: Option<serde_json::Value>,
    /// Checked to be an object, as the spec requires; no extension is supported yet.
    #[serde(rename = "extensions")]
    _extensions: Option<serde_json::Map<String, serde_json::Value>>,
}

/// Parameters of a GraphQL request in a URL query string.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetParams {
    query: Option<String>,
    operation_name: Option<String>,
    variables: Option<String>,
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
    let request = match request_from_params(query_string.as_deref().unwrap_or_default()) {
        Ok(request) => request,
        Err(message) => return request_error(format, StatusCode::BAD_REQUEST, &message),
    };
    if is_mutation(&request) {
        let mut response = request_error(
            format,
            StatusCode::METHOD_NOT_ALLOWED,
            "mutations must be sent with POST",
        );
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    execute(&state, format, request).await
}

fn request_from_params(query_string: &str) -> Result<Request, String> {
    let params: GetParams = serde_urlencoded::from_str(query_string)
        .map_err(|error| format!("invalid query string: {error}"))?;
    let query = params.query.ok_or("the `query` parameter is missing")?;
    let variables = params
        .variables
        .map(|variables| serde_json::from_str(&variables))
        .transpose()
        .map_err(|error| format!("`variables` is not JSON: {error}"))?;
    build_request(query, params.operation_name, variables)
}

fn build_request(
    query: String,
    operation_name: Option<String>,
    variables: Option<serde_json::Value>,
) -> Result<Request, String> {
    let mut request = Request::new(query);
    if let Some(name) = operation_name {
        request = request.operation_name(name);
    }
    match variables {
        None | Some(serde_json::Value::Null) => {}
        Some(variables @ serde_json::Value::Object(_)) => {
            request = request.variables(Variables::from_json(variables));
        }
        Some(_) => return Err("`variables` must be a JSON object".to_owned()),
    }
    Ok(request)
}

/// Whether the operation the request selects is a mutation. A document that does not parse
/// or names no such operation is left for execution to report.
fn is_mutation(request: &Request) -> bool {
    let Ok(document) = parse_query(&request.query) else {
        return false;
    };
    let operation = match &document.operations {
        DocumentOperations::Single(operation) => Some(operation),
        DocumentOperations::Multiple(operations) => match &request.operation_name {
            Some(name) => operations
                .iter()
                .find(|(key, _)| key.as_str() == name)
                .map(|(_, op)| op),
            None => None,
        },
    };
    operation.is_some_and(|operation| operation.node.ty == OperationType::Mutation)
}

async fn execute(state: &AppState, format: ResponseFormat, request: Request) -> Response {
    let response = graphql::execute(&state.schema, &state.db, request).await;
    if is_request_error(&response) {
        // The document never ran: the spec's request error, without a `data` entry. Only
        // graphql-response+json clients are promised a 4xx for it.
        let status = match format {
            ResponseFormat::GraphqlResponseJson => StatusCode::BAD_REQUEST,
            ResponseFormat::Json => StatusCode::OK,
        };
        let body = json!({ "errors": response.errors, "extensions": response.extensions });
        return json_response(format, status, body.to_string());
    }
    let body = serde_json::to_string(&response).unwrap_or_default();
    json_response(format, StatusCode::OK, body)
}

/// Parse, validation and variable errors come before execution and carry no `path`;
/// field errors always have one.
fn is_request_error(response: &GraphqlResponse) -> bool {
    response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|error| error.path.is_empty())
}

fn request_error(format: ResponseFormat, status: StatusCode, message: &str) -> Response {
    let body = json!({ "errors": [{ "message": message }] });
    json_response(format, status, body.to_string())
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
