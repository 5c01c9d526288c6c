//! Every `extensions.code` a client of bookgraph can receive, spelled once. The wire
//! spellings are a contract with clients (and the README's table of error codes): a variant
//! may be renamed, its [`Code::as_str`] may not change.

use async_graphql::{ServerError, Value};

/// An error's `extensions.code`: what a client can act on, whichever transport it used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    /// An argument is wrong (a malformed ID or cursor, a name out of bounds, a bad CSV
    /// line); the message names the field, and nothing was written.
    BadUserInput,
    /// A mutation named an id that does not exist; nothing changed.
    NotFound,
    /// The operation exceeds a limit (depth, cost, aliases, root fields, rows read,
    /// response values, operations on one WebSocket connection); nothing more runs.
    QueryTooComplex,
    /// A subscription fell further behind the catalogue's changes than they are kept for,
    /// and was ended.
    FellBehind,
    /// The request, or a WebSocket operation, ran longer than its time limit and was
    /// stopped; any write it had begun was rolled back.
    Timeout,
    /// A persisted-query hash the server does not know: the client should resend it with
    /// its document.
    PersistedQueryNotFound,
    /// The persisted-query hash is not the SHA-256 of the document sent with it.
    PersistedQueryHashMismatch,
    /// Trusted-documents mode, and the document is not on the list.
    PersistedQueryNotTrusted,
    /// The HTTP request is not a GraphQL request (malformed JSON, no query, a mutation
    /// over GET, a body that is not JSON or is too large).
    BadRequest,
    /// The change would break a rule of the catalogue; nothing changed.
    Conflict,
    /// A mutation without the write token, or with a wrong one; nothing ran.
    Unauthenticated,
    /// A mutation to a read-only server, or from where writes are not taken; nothing ran.
    Forbidden,
    /// No write can succeed now (full disk, read-only or vanished database); the same
    /// write may succeed later.
    Unavailable,
    /// Something failed on the server's side; the details are in its log only.
    InternalServerError,
}

impl Code {
    /// Every code, in the order the README's table lists them.
    pub const ALL: [Code; 14] = [
        Code::BadUserInput,
        Code::QueryTooComplex,
        Code::FellBehind,
        Code::Timeout,
        Code::PersistedQueryNotFound,
        Code::PersistedQueryHashMismatch,
        Code::PersistedQueryNotTrusted,
        Code::BadRequest,
        Code::NotFound,
        Code::Conflict,
        Code::Unauthenticated,
        Code::Forbidden,
        Code::Unavailable,
        Code::InternalServerError,
    ];

    /// The code as clients read it in `extensions.code`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Code::BadUserInput => "BAD_USER_INPUT",
            Code::NotFound => "NOT_FOUND",
            Code::QueryTooComplex => "QUERY_TOO_COMPLEX",
            Code::FellBehind => "FELL_BEHIND",
            Code::Timeout => "TIMEOUT",
            Code::PersistedQueryNotFound => "PERSISTED_QUERY_NOT_FOUND",
            Code::PersistedQueryHashMismatch => "PERSISTED_QUERY_HASH_MISMATCH",
            Code::PersistedQueryNotTrusted => "PERSISTED_QUERY_NOT_TRUSTED",
            Code::BadRequest => "BAD_REQUEST",
            Code::Conflict => "CONFLICT",
            Code::Unauthenticated => "UNAUTHENTICATED",
            Code::Forbidden => "FORBIDDEN",
            Code::Unavailable => "UNAVAILABLE",
            Code::InternalServerError => "INTERNAL_SERVER_ERROR",
        }
    }

    /// A GraphQL error with this code and `message`, for refusals made outside a resolver
    /// (limits, time-outs, write access), where there is no [`crate::Error`] to convert.
    pub fn server_error(self, message: impl Into<String>) -> ServerError {
        let mut error = ServerError::new(message, None);
        error
            .extensions
            .get_or_insert_with(Default::default)
            .set("code", self);
        error
    }
}

impl From<Code> for Value {
    fn from(code: Code) -> Value {
        Value::from(code.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_documents_every_code_and_no_other() {
        let readme = include_str!("../../README.md");
        let documented: Vec<&str> = readme
            .lines()
            .filter_map(|line| line.strip_prefix("| `")?.split_once("` |"))
            .map(|(code, _)| code)
            .filter(|code| code.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'))
            .collect();
        let listed: Vec<&str> = Code::ALL.iter().map(|code| code.as_str()).collect();
        assert_eq!(
            documented, listed,
            "README's table of error codes vs Code::ALL"
        );
    }
}
