//! Which media type a GraphQL response goes out as, chosen from the `Accept` header as the
//! GraphQL-over-HTTP spec describes.

use axum::http::HeaderMap;
use axum::http::header::ACCEPT;

/// The two media types a GraphQL response can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseFormat {
    /// `application/graphql-response+json`: status codes tell request errors apart.
    GraphqlResponseJson,
    /// `application/json`: the legacy type, always 200 once a request is understood.
    Json,
}

impl ResponseFormat {
    /// The `Content-Type` to send.
    pub fn content_type(self) -> &'static str {
        match self {
            ResponseFormat::GraphqlResponseJson => {
                "application/graphql-response+json; charset=utf-8"
            }
            ResponseFormat::Json => "application/json; charset=utf-8",
        }
    }

    /// The preferred acceptable format, or `None` when the client accepts neither (406).
    /// No `Accept` header, `*/*` and `application/*` mean legacy `application/json`; the
    /// highest `q` wins and the first listed breaks ties.
    pub fn negotiate(headers: &HeaderMap) -> Option<ResponseFormat> {
        let Some(accept) = headers.get(ACCEPT) else {
            return Some(ResponseFormat::Json);
        };
        let accept = accept.to_str().ok()?;
        let mut best: Option<(f32, ResponseFormat)> = None;
        for range in accept.split(',') {
            let mut parts = range.split(';').map(str::trim);
            let media_type = parts.next().unwrap_or_default().to_ascii_lowercase();
            let quality = parts
                .filter_map(|param| param.strip_prefix("q="))
                .find_map(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            let format = match media_type.as_str() {
                "application/graphql-response+json" => ResponseFormat::GraphqlResponseJson,
                "application/json" | "application/*" | "*/*" => ResponseFormat::Json,
                _ => continue,
            };
            if quality > 0.0 && best.is_none_or(|(best_quality, _)| quality > best_quality) {
                best = Some((quality, format));
            }
        }
        best.map(|(_, format)| format)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn negotiate(accept: Option<&str>) -> Option<ResponseFormat> {
        let mut headers = HeaderMap::new();
        if let Some(accept) = accept {
            headers.insert(ACCEPT, accept.parse().unwrap());
        }
        ResponseFormat::negotiate(&headers)
    }

    #[test]
    fn accept_header_picks_the_response_type() {
        use ResponseFormat::{GraphqlResponseJson, Json};
        let cases = [
            (None, Some(Json)),
            (Some("*/*"), Some(Json)),
            (
                Some("application/graphql-response+json"),
                Some(GraphqlResponseJson),
            ),
            (Some("application/json"), Some(Json)),
            (
                Some("application/graphql-response+json, application/json;q=0.9"),
                Some(GraphqlResponseJson),
            ),
            (
                Some("application/graphql-response+json;q=0.5, application/json"),
                Some(Json),
            ),
            (Some("text/html"), None),
            (Some("application/json;q=0"), None),
        ];
        for (accept, expected) in cases {
            assert_eq!(negotiate(accept), expected, "Accept: {accept:?}");
        }
    }
}
