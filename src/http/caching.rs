//! HTTP caching of queries sent with `GET /graphql`: each successful response carries a
//! weak `ETag` naming the request (document, operation name, variables), the media type it
//! went out as, the build serving it and the catalogue's data version ([`Db::data_version`]);
//! `If-None-Match` naming the current tag is answered with 304; `Cache-Control` says
//! `no-cache` (revalidate every time) unless the server is given a max-age. Responses with
//! errors, diagnostics and every POST response carry none of this.
//!
//! The tag is computed before the operation runs, from the data version read first, and a
//! request whose tag matches is answered 304 without running. That is sound because the
//! version changes in the very transaction of every write: a response whose reads all began
//! after version V was read shows the catalogue at V, or at a later version if a write
//! committed meanwhile; in that case the version read now is no longer V, so a client
//! holding that response's tag gets a fresh 200, never a 304. Tagging after the operation
//! ran would be the unsound order: a write committing between its reads and the version
//! read would tag old data with the new version. Executing anyway and comparing tags
//! afterwards was the other choice; it spends a whole execution to send no body.
//!
//! [`Db::data_version`]: crate::db::Db::data_version

use std::sync::LazyLock;
use std::time::Duration;

use async_graphql::{Request, Value};
use axum::http::header::{CACHE_CONTROL, ETAG, IF_NONE_MATCH, VARY};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::negotiate::ResponseFormat;

/// How long clients and shared caches may reuse a query's response without asking again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CachePolicy {
    /// `None` (the default): revalidate every time (`no-cache`).
    pub max_age: Option<Duration>,
}

impl CachePolicy {
    fn cache_control(self) -> HeaderValue {
        match self.max_age {
            Some(age) if !age.is_zero() => {
                HeaderValue::from_str(&format!("max-age={}", age.as_secs()))
                    .unwrap_or(HeaderValue::from_static("no-cache"))
            }
            _ => HeaderValue::from_static("no-cache"),
        }
    }
}

/// Responses of one build may differ from another's for the same request and data (a fixed
/// resolver, a new field): the package version and the schema are part of every tag.
static BUILD: LazyLock<[u8; 32]> = LazyLock::new(|| {
    let mut build = Sha256::new();
    build.update(env!("CARGO_PKG_VERSION"));
    build.update(crate::graphql::sdl());
    build.finalize().into()
});

/// Request headers that change the response; caches keep one response per value.
const VARY_ON: &str = "accept, x-bookgraph-diagnostics";

/// Stands for the data version in the tags of operations that ask only about the schema
/// (`{ __typename }`, introspection): their answers depend on the build alone, and they
/// stay answerable without the database.
pub const SCHEMA_ONLY: &str = "schema";

/// What a GET request's tag is made of, apart from the data version.
pub struct RequestKey(Sha256);

impl RequestKey {
    /// The key of `request`, to be answered as `format`.
    pub fn of(request: &Request, format: ResponseFormat) -> RequestKey {
        let mut key = Sha256::new();
        key.update(*BUILD);
        // Every part is length-prefixed, so no two different requests hash the same bytes.
        let mut part = |bytes: &[u8]| {
            key.update((bytes.len() as u64).to_le_bytes());
            key.update(bytes);
        };
        part(format.content_type().as_bytes());
        part(request.query.as_bytes());
        match &request.operation_name {
            Some(name) => part(name.as_bytes()),
            None => part(&[0xff]),
        }
        let variables = request
            .variables
            .iter()
            .map(|(name, value)| (name.to_string(), canonical_json(value)))
            .collect();
        part(serde_json::Value::Object(variables).to_string().as_bytes());
        RequestKey(key)
    }

    /// The weak entity tag of the response to this request at data version `version`.
    /// Weak, because the same response also goes out compressed, which is other bytes.
    pub fn etag(self, version: &str) -> HeaderValue {
        let mut key = self.0;
        key.update(version.as_bytes());
        let digest = key.finalize();
        let hex: String = digest[..16]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        HeaderValue::from_str(&format!("W/\"{hex}\"")).expect("hex is a valid header value")
    }
}

/// `value` as JSON with every object's fields in the order of their names, so that the
/// same variables sent in another order key alike. (The variables themselves are a sorted
/// map; input objects among them keep the order they came in.)
fn canonical_json(value: &Value) -> serde_json::Value {
    match value {
        Value::Object(fields) => {
            let mut fields: Vec<_> = fields.iter().collect();
            fields.sort_unstable_by_key(|(name, _)| name.as_str());
            serde_json::Value::Object(
                fields
                    .into_iter()
                    .map(|(name, value)| (name.to_string(), canonical_json(value)))
                    .collect(),
            )
        }
        Value::List(items) => serde_json::Value::Array(items.iter().map(canonical_json).collect()),
        other => other.clone().into_json().unwrap_or_default(),
    }
}

/// Whether the request's `If-None-Match` names `etag`, by the weak comparison RFC 9110
/// §13.1.2 prescribes for it. `*` ("any response you have") is not taken: it would turn a
/// request that now fails into a 304, and only the tag of a success vouches for a copy.
pub fn none_match_names(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    let ours = opaque(etag.to_str().unwrap_or_default());
    headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .any(|tag| opaque(tag) == ours)
}

fn opaque(tag: &str) -> &str {
    tag.strip_prefix("W/").unwrap_or(tag)
}

/// 304 for a client whose copy is current: no body, the headers a 200 would have had.
pub fn not_modified(etag: HeaderValue, policy: CachePolicy) -> Response {
    let mut response = StatusCode::NOT_MODIFIED.into_response();
    validated(response.headers_mut(), etag, policy);
    response
}

/// Marks a successful query response reusable under `etag`.
pub fn tag(response: &mut Response, etag: HeaderValue, policy: CachePolicy) {
    validated(response.headers_mut(), etag, policy);
}

/// Marks a GET response that carries no tag as one not to keep: errors, diagnostics,
/// refusals. Without it, a cache may keep a response for a while on heuristics alone.
pub fn no_store_unless_tagged(response: &mut Response) {
    if !response.headers().contains_key(ETAG) {
        response
            .headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

fn validated(headers: &mut HeaderMap, etag: HeaderValue, policy: CachePolicy) {
    headers.insert(ETAG, etag);
    headers.insert(CACHE_CONTROL, policy.cache_control());
    headers.insert(VARY, HeaderValue::from_static(VARY_ON));
}

#[cfg(test)]
mod tests {
    use async_graphql::Variables;
    use serde_json::json;

    use super::*;

    fn etag(query: &str, variables: serde_json::Value, version: &str) -> HeaderValue {
        let request = Request::new(query).variables(Variables::from_json(variables));
        RequestKey::of(&request, ResponseFormat::Json).etag(version)
    }

    #[test]
    fn the_tag_changes_with_every_part_and_only_with_them() {
        let base = etag("{ a }", json!({ "x": 1, "y": 2 }), "v1");
        assert_eq!(base, etag("{ a }", json!({ "y": 2, "x": 1 }), "v1"));
        assert_ne!(base, etag("{ b }", json!({ "x": 1, "y": 2 }), "v1"));
        assert_ne!(base, etag("{ a }", json!({ "x": 2, "y": 2 }), "v1"));
        assert_ne!(base, etag("{ a }", json!({ "x": 1, "y": 2 }), "v2"));
        let named = Request::new("{ a }")
            .variables(Variables::from_json(json!({ "x": 1, "y": 2 })))
            .operation_name("A");
        assert_ne!(
            base,
            RequestKey::of(&named, ResponseFormat::Json).etag("v1")
        );
        let other_format =
            Request::new("{ a }").variables(Variables::from_json(json!({ "x": 1, "y": 2 })));
        assert_ne!(
            base,
            RequestKey::of(&other_format, ResponseFormat::GraphqlResponseJson).etag("v1")
        );
        assert!(base.to_str().unwrap().starts_with("W/\""));
    }

    #[test]
    fn if_none_match_compares_weakly_and_takes_lists() {
        let ours = HeaderValue::from_static("W/\"abc\"");
        let cases = [
            ("W/\"abc\"", true),
            ("\"abc\"", true),
            ("\"x\", W/\"abc\"", true),
            ("*", false),
            ("W/\"abd\"", false),
            ("abc", false),
        ];
        for (value, expected) in cases {
            let mut headers = HeaderMap::new();
            headers.insert(IF_NONE_MATCH, HeaderValue::from_static(value));
            assert_eq!(none_match_names(&headers, &ours), expected, "{value}");
        }
        assert!(!none_match_names(&HeaderMap::new(), &ours));
    }

    #[test]
    fn cache_control_revalidates_unless_given_a_max_age() {
        assert_eq!(CachePolicy::default().cache_control(), "no-cache");
        let minute = CachePolicy {
            max_age: Some(Duration::from_secs(60)),
        };
        assert_eq!(minute.cache_control(), "max-age=60");
    }
}
