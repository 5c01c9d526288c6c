//! The `x-bookgraph-diagnostics` request header: figures about how bookgraph made a
//! response, given only to the clients that ask, so that no other client comes to read
//! (and rely on) our internals.

use axum::http::{HeaderMap, HeaderName};

/// The request header naming the diagnostics a client wants in the response's
/// `extensions`, comma-separated. `sql` is the one there is: `extensions.sqlStatements`.
/// Names we do not know are ignored rather than refused, so a client may ask a server
/// older than itself.
pub const DIAGNOSTICS: HeaderName = HeaderName::from_static("x-bookgraph-diagnostics");

/// Whether the request asks for `extensions.sqlStatements`.
pub fn wants_sql_statements(headers: &HeaderMap) -> bool {
    headers
        .get_all(DIAGNOSTICS)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|name| name.trim().eq_ignore_ascii_case("sql"))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn asking(values: &[&'static str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(DIAGNOSTICS, HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn sql_is_found_in_any_case_in_a_list_or_in_a_repeated_header() {
        for values in [&["sql"][..], &["SQL"], &["other, sql"], &["other", " sql "]] {
            assert!(wants_sql_statements(&asking(values)), "{values:?}");
        }
    }

    #[test]
    fn no_header_an_empty_one_or_other_names_do_not_ask_for_sql() {
        for values in [&[][..], &[""], &["sqlite"], &["other"]] {
            assert!(!wants_sql_statements(&asking(values)), "{values:?}");
        }
    }
}
