//! Who may change the catalogue: anyone on this machine, anyone at all, holders of a bearer
//! token, or nobody. Checked by the HTTP layer on the operation a request selects, before
//! anything runs; queries stay open to all. The token itself is never stored, logged or
//! printed, only its digest.

use std::fmt;
use std::net::IpAddr;

use axum::http::header::{AUTHORIZATION, HOST};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq as _;

use super::incoming::Rejection;
use crate::error::Code;

/// The secret a client presents to write. Only its SHA-256 digest is kept, and it prints
/// redacted, so neither a debug print of the configuration nor a log line can show it.
#[derive(Clone)]
pub struct WriteToken {
    digest: [u8; 32],
}

/// Digests compare in constant time here too, so no comparison of a token leaks timing.
impl PartialEq for WriteToken {
    fn eq(&self, other: &Self) -> bool {
        self.digest.ct_eq(&other.digest).into()
    }
}

impl Eq for WriteToken {}

/// Why a string cannot be a write token. Deliberately does not repeat the string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a write token must be one or more visible ASCII characters, with no spaces")]
pub struct InvalidToken;

impl WriteToken {
    /// The token `secret`. It must fit in an `Authorization` header as a bearer credential:
    /// visible ASCII, no white space.
    pub fn new(secret: &str) -> Result<WriteToken, InvalidToken> {
        if secret.is_empty() || !secret.bytes().all(|byte| byte.is_ascii_graphic()) {
            return Err(InvalidToken);
        }
        Ok(WriteToken {
            digest: Sha256::digest(secret.as_bytes()).into(),
        })
    }

    /// Whether `presented` is this token. Both sides are compared as SHA-256 digests, so
    /// the comparison always runs over 32 bytes, and in constant time: how long it takes
    /// says nothing about how much of the token, or which length of it, a guess got right.
    pub fn matches(&self, presented: &str) -> bool {
        let presented: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        // `subtle` rather than a hand-written fold: it keeps the optimiser from turning
        // the comparison back into one that stops at the first difference.
        self.digest.ct_eq(&presented).into()
    }
}

impl fmt::Debug for WriteToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WriteToken(<redacted>)")
    }
}

/// Who may run mutations.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum WriteAccess {
    /// Anyone on this machine: the default, for a server on a loopback address. Mutations
    /// are taken only from requests addressed to a loopback name (`localhost`, `127.0.0.1`,
    /// `[::1]`), so a web page that points its own host name at 127.0.0.1 (DNS rebinding)
    /// and so passes as same-origin cannot write.
    #[default]
    Local,
    /// Anyone who can reach the server, whatever host name they use
    /// (`--allow-anonymous-writes`).
    Open,
    /// Whoever sends `Authorization: Bearer <token>`; WebSocket connections send the token
    /// in their `connection_init` payload instead.
    Token(WriteToken),
    /// Nobody: every mutation is refused.
    ReadOnly,
}

/// Why a mutation, or a WebSocket connection, was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// No credentials were sent.
    NoToken,
    /// Credentials were sent, and they are not the token.
    WrongToken,
    /// The server runs no mutations.
    ReadOnly,
    /// The request was addressed to another host name than this machine's loopback ones.
    NotLocal,
}

impl WriteAccess {
    /// Whether a mutation sent with `headers` may run.
    pub fn permits(&self, headers: &HeaderMap) -> Result<(), Denied> {
        match self {
            WriteAccess::Open => Ok(()),
            WriteAccess::Local if addressed_to_loopback(headers) => Ok(()),
            WriteAccess::Local => Err(Denied::NotLocal),
            WriteAccess::ReadOnly => Err(Denied::ReadOnly),
            WriteAccess::Token(token) => {
                let Some(value) = headers.get(AUTHORIZATION) else {
                    return Err(Denied::NoToken);
                };
                let presented = value.to_str().ok().and_then(bearer_credentials);
                check(token, presented)
            }
        }
    }

    /// Whether a WebSocket connection whose `connection_init` carried `payload` may open.
    /// The token rides in the payload because browsers cannot set headers on a WebSocket:
    /// `{"authorization": "Bearer <token>"}` (any letter case of the key, as GraphiQL
    /// sends its headers tab) or `{"token": "<token>"}`. A read-only server lets anyone
    /// subscribe; the executor refuses mutations sent over the connection.
    pub fn permits_connection(&self, payload: &serde_json::Value) -> Result<(), Denied> {
        let WriteAccess::Token(token) = self else {
            return Ok(());
        };
        let Some(fields) = payload.as_object() else {
            return Err(Denied::NoToken);
        };
        let authorization = fields
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case("authorization"))
            .map(|(_, value)| value.as_str().and_then(bearer_credentials));
        let plain = fields.get("token").map(serde_json::Value::as_str);
        match authorization.or(plain) {
            None => Err(Denied::NoToken),
            Some(presented) => check(token, presented),
        }
    }
}

/// Whether the request's `Host` names this machine by a loopback name. Browsers always
/// send `Host`; a request without one comes from no browser, so no rebinding is possible.
fn addressed_to_loopback(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(HOST) else {
        return true;
    };
    let Ok(host) = host.to_str() else {
        return false;
    };
    // "[::1]:8000", "127.0.0.1:8000", "localhost:8000", or any of them without the port.
    let name = match host.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, _port)| name),
    };
    // Browsers resolve `localhost` and every `*.localhost` name to loopback themselves
    // (RFC 6761), never through DNS, so no other site can own one; a final dot is the same
    // name, fully qualified.
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    name == "localhost"
        || name.ends_with(".localhost")
        || name
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.to_canonical().is_loopback())
}

fn check(token: &WriteToken, presented: Option<&str>) -> Result<(), Denied> {
    match presented {
        Some(presented) if token.matches(presented) => Ok(()),
        _ => Err(Denied::WrongToken),
    }
}

/// The token of an `Authorization: Bearer <token>` value. The scheme's letter case and the
/// amount of white space around it do not matter (RFC 9110 §11.1); the token's case does.
fn bearer_credentials(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once([' ', '\t'])?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

impl Denied {
    /// What the client is told, as a GraphQL-over-HTTP rejection.
    pub fn rejection(self) -> Rejection {
        let (status, code) = match self {
            Denied::NoToken | Denied::WrongToken => {
                (StatusCode::UNAUTHORIZED, Code::Unauthenticated)
            }
            Denied::ReadOnly | Denied::NotLocal => (StatusCode::FORBIDDEN, Code::Forbidden),
        };
        Rejection {
            status,
            message: self.message().to_owned(),
            code,
        }
    }

    /// The `WWW-Authenticate` challenge of a 401 (RFC 6750 §3), telling the client which
    /// scheme to use and, after a bad token, that the token was the problem.
    pub fn challenge(self) -> Option<HeaderValue> {
        match self {
            Denied::NoToken => Some(HeaderValue::from_static("Bearer realm=\"bookgraph\"")),
            Denied::WrongToken => Some(HeaderValue::from_static(
                "Bearer realm=\"bookgraph\", error=\"invalid_token\"",
            )),
            Denied::ReadOnly | Denied::NotLocal => None,
        }
    }

    /// What an HTTP client is told.
    pub fn message(self) -> &'static str {
        match self {
            Denied::NoToken => "mutations on this server need `Authorization: Bearer <token>`",
            Denied::WrongToken => "the bearer token is not valid",
            Denied::ReadOnly => "this server is read-only: it runs no mutations",
            Denied::NotLocal => {
                "mutations are taken only from requests addressed to localhost, 127.0.0.1 or \
                 [::1]; start the server with --write-token or --allow-anonymous-writes to \
                 take them from elsewhere"
            }
        }
    }

    /// What a WebSocket client is told, short enough for a close frame's reason (123 bytes).
    pub fn connection_message(self) -> &'static str {
        match self {
            Denied::NoToken => {
                r#"this server needs its token in connection_init: {"authorization": "Bearer <token>"}"#
            }
            Denied::WrongToken | Denied::ReadOnly => self.message(),
            Denied::NotLocal => "mutations are taken only from connections to localhost",
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn token_access() -> WriteAccess {
        WriteAccess::Token(WriteToken::new("s3cret-token").expect("valid token"))
    }

    fn with_authorization(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_str(value).expect("header"));
        headers
    }

    #[test]
    fn bearer_credentials_ignore_the_schemes_case_and_spacing_only() {
        let cases = [
            ("Bearer abc", Some("abc")),
            ("bearer abc", Some("abc")),
            ("BEARER   abc  ", Some("abc")),
            ("  Bearer\tabc", Some("abc")),
            ("Bearer", None),
            ("Bearer ", None),
            ("Bearerabc", None),
            ("Basic abc", None),
            ("abc", None),
        ];
        for (value, expected) in cases {
            assert_eq!(bearer_credentials(value), expected, "{value:?}");
        }
    }

    #[test]
    fn a_token_matches_only_itself() {
        let token = WriteToken::new("s3cret-token").expect("valid token");
        assert!(token.matches("s3cret-token"));
        for wrong in ["", "s3cret-toke", "s3cret-tokenn", "S3CRET-TOKEN", "x"] {
            assert!(!token.matches(wrong), "{wrong:?} matched");
        }
    }

    #[test]
    fn tokens_that_cannot_travel_in_a_header_are_refused() {
        for bad in ["", "has space", "tab\there", "naïve", "line\n"] {
            assert_eq!(WriteToken::new(bad), Err(InvalidToken), "{bad:?}");
        }
    }

    #[test]
    fn a_token_prints_redacted() {
        let token = WriteToken::new("s3cret-token").expect("valid token");
        let printed = format!("{:?} {:?}", token, token_access());
        assert!(!printed.contains("s3cret"), "{printed}");
    }

    #[test]
    fn mutations_need_the_right_bearer_token() {
        let access = token_access();
        assert_eq!(access.permits(&HeaderMap::new()), Err(Denied::NoToken));
        assert_eq!(
            access.permits(&with_authorization("Bearer nope")),
            Err(Denied::WrongToken)
        );
        assert_eq!(
            access.permits(&with_authorization("bearer s3cret-token")),
            Ok(())
        );
        assert_eq!(
            WriteAccess::ReadOnly.permits(&with_authorization("Bearer s3cret-token")),
            Err(Denied::ReadOnly)
        );
        assert_eq!(WriteAccess::Open.permits(&HeaderMap::new()), Ok(()));
    }

    #[test]
    fn connections_present_the_token_in_their_init_payload() {
        let access = token_access();
        let cases = [
            (json!({ "authorization": "Bearer s3cret-token" }), Ok(())),
            (json!({ "Authorization": "Bearer s3cret-token" }), Ok(())),
            (json!({ "token": "s3cret-token" }), Ok(())),
            (json!({ "token": "wrong" }), Err(Denied::WrongToken)),
            (
                json!({ "Authorization": "s3cret-token" }),
                Err(Denied::WrongToken),
            ),
            (json!({ "authorization": 42 }), Err(Denied::WrongToken)),
            (json!({}), Err(Denied::NoToken)),
            (json!(null), Err(Denied::NoToken)),
        ];
        for (payload, expected) in cases {
            assert_eq!(access.permits_connection(&payload), expected, "{payload}");
        }
        assert_eq!(
            WriteAccess::ReadOnly.permits_connection(&json!(null)),
            Ok(())
        );
    }

    fn addressed_to(host: &[u8]) -> bool {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_bytes(host).expect("header value"));
        addressed_to_loopback(&headers)
    }

    #[test]
    fn only_loopback_names_are_local() {
        for local in [
            &b"localhost:8000"[..],
            b"LOCALHOST",
            b"localhost.:8000",
            b"app.localhost:8000",
            b"127.0.0.1:8000",
            b"127.8.9.10",
            b"[::1]:8000",
            b"[::ffff:127.0.0.1]:8000",
        ] {
            assert!(addressed_to(local), "{}", String::from_utf8_lossy(local));
        }
        for foreign in [
            &b"evil.example:8000"[..],
            b"127.0.0.1.nip.io:8000",
            b"localhost.evil.example",
            b"0.0.0.0:8000",
            b"[::]:8000",
            b"10.0.0.1",
            b"",
            b"\xfflocalhost",
        ] {
            assert!(
                !addressed_to(foreign),
                "{}",
                String::from_utf8_lossy(foreign)
            );
        }
        assert!(
            addressed_to_loopback(&HeaderMap::new()),
            "no Host: no browser, no rebinding"
        );
    }

    #[test]
    fn every_message_fits_in_a_close_frame() {
        for denied in [
            Denied::NoToken,
            Denied::WrongToken,
            Denied::ReadOnly,
            Denied::NotLocal,
        ] {
            assert!(denied.connection_message().len() <= 123, "{denied:?}");
        }
    }
}
