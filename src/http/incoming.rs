//! A GraphQL request as it arrives over HTTP (a JSON body or URL parameters), turned into
//! an executable request or refused with the reason a client can act on.

use async_graphql::{Request, Value, Variables};
use axum::http::StatusCode;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::documents::{Documents, Refusal};
use crate::error::Code;

/// Why a request cannot run, as the client is told.
#[derive(Debug)]
pub struct Rejection {
    /// The HTTP status.
    pub status: StatusCode,
    /// The error message.
    pub message: String,
    /// The error's `extensions.code`.
    pub code: Code,
}

impl Rejection {
    /// A malformed request: 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Rejection {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            code: Code::BadRequest,
        }
    }
}

impl From<Refusal> for Rejection {
    fn from(refusal: Refusal) -> Self {
        // Apollo Client gives up persisted queries for good after a 400, so the miss that
        // asks it to resend the document must be a 200.
        let status = match refusal {
            Refusal::NotFound => StatusCode::OK,
            _ => StatusCode::BAD_REQUEST,
        };
        Rejection {
            status,
            message: refusal.message().to_owned(),
            code: refusal.code(),
        }
    }
}

/// A POST body: a JSON object. Read into our own type because async-graphql's `Request`
/// takes a missing query as empty and a JSON array as a batch.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostBody {
    query: Option<String>,
    operation_name: Option<String>,
    /// Read straight into GraphQL values: through `serde_json::Value` first, every
    /// variable was built twice.
    variables: Option<Value>,
    extensions: Option<Extensions>,
    /// The hash of a trusted document, as GraphQL Codegen's clients send it.
    document_id: Option<String>,
}

/// The parameters of a GET request; `variables` and `extensions` are JSON text.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetParams {
    query: Option<String>,
    operation_name: Option<String>,
    variables: Option<String>,
    extensions: Option<String>,
    document_id: Option<String>,
}

/// Request extensions we act on; any others are allowed and ignored.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Extensions {
    persisted_query: Option<PersistedQuery>,
}

/// Apollo's automatic persisted query extension.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PersistedQuery {
    version: i64,
    sha256_hash: String,
}

impl PostBody {
    /// Parses a JSON body.
    pub fn parse(body: &[u8]) -> Result<PostBody, Rejection> {
        serde_json::from_slice(body).map_err(|error| {
            Rejection::bad_request(format!("the body is not a GraphQL request: {error}"))
        })
    }

    /// The request to execute.
    pub fn into_request(self, documents: &Documents) -> Result<Request, Rejection> {
        let hash = persisted_hash(self.extensions, self.document_id)?;
        let query = documents.resolve(self.query, hash.as_deref())?;
        build(query, self.operation_name, self.variables)
    }
}

impl GetParams {
    /// Parses a URL query string.
    pub fn parse(query_string: &str) -> Result<GetParams, Rejection> {
        serde_urlencoded::from_str(query_string)
            .map_err(|error| Rejection::bad_request(format!("invalid query string: {error}")))
    }

    /// The request to execute.
    pub fn into_request(self, documents: &Documents) -> Result<Request, Rejection> {
        let variables = json_param("variables", self.variables)?;
        let extensions = json_param::<serde_json::Value>("extensions", self.extensions)?
            .map(serde_json::from_value)
            .transpose()
            .map_err(|error| {
                Rejection::bad_request(format!("`extensions` is malformed: {error}"))
            })?;
        let hash = persisted_hash(extensions, self.document_id)?;
        let query = documents.resolve(self.query, hash.as_deref())?;
        build(query, self.operation_name, variables)
    }
}

fn json_param<T: DeserializeOwned>(
    name: &str,
    text: Option<String>,
) -> Result<Option<T>, Rejection> {
    text.map(|text| serde_json::from_str(&text))
        .transpose()
        .map_err(|error| Rejection::bad_request(format!("`{name}` is not JSON: {error}")))
}

fn persisted_hash(
    extensions: Option<Extensions>,
    document_id: Option<String>,
) -> Result<Option<String>, Rejection> {
    match extensions.and_then(|extensions| extensions.persisted_query) {
        Some(persisted) if persisted.version != 1 => Err(Refusal::UnsupportedVersion.into()),
        Some(persisted) => Ok(Some(persisted.sha256_hash)),
        None => Ok(document_id),
    }
}

fn build(
    query: String,
    operation_name: Option<String>,
    variables: Option<Value>,
) -> Result<Request, Rejection> {
    let mut request = Request::new(query);
    if let Some(name) = operation_name {
        request = request.operation_name(name);
    }
    match variables {
        None | Some(Value::Null) => Ok(request),
        Some(variables @ Value::Object(_)) => {
            Ok(request.variables(Variables::from_value(variables)))
        }
        Some(_) => Err(Rejection::bad_request("`variables` must be a JSON object")),
    }
}
