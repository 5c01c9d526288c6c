//! The crate's one error type, and the single place where it becomes a GraphQL error.
//! Nothing else decides which `extensions.code` a client sees.

use std::sync::Arc;

use async_graphql::ErrorExtensions as _;

/// Everything that can go wrong inside bookgraph.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The caller sent something we refuse; the message names the offending field.
    #[error("{field}: {message}")]
    BadInput {
        /// The argument or input field at fault, as the client spelled it.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// The id names no row.
    #[error("{what} {id} does not exist")]
    NotFound {
        /// What kind of row: "author", "book", "publisher".
        what: &'static str,
        /// The id asked for.
        id: i64,
    },
    /// The change would break a rule of the catalogue; nothing was changed.
    #[error("{message}")]
    Conflict {
        /// What is in the way, for people.
        message: String,
        /// The row in the way, when there is one (an existing name, say).
        existing_id: Option<i64>,
    },
    /// The request asks for more than a limit allows; nothing more runs.
    #[error("{0}")]
    TooLarge(String),
    /// A subscriber fell further behind the catalogue's changes than they are kept for;
    /// its subscription ended rather than skip them.
    #[error(
        "this subscription fell {skipped} changes behind and was ended; subscribe again, \
         and read its events faster or subscribe to fewer"
    )]
    FellBehind {
        /// The changes it would have missed.
        skipped: u64,
    },
    /// A CSV file could not be imported; nothing was written.
    #[error("line {line}: {message}")]
    Csv {
        /// 1-based line number in the file, header included.
        line: u64,
        /// What is wrong with that line.
        message: String,
    },
    /// The database failed; details are for the log, never for a client.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    /// The schema could not be migrated.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database holds something its constraints should have made impossible.
    #[error("inconsistent data: {0}")]
    Inconsistent(&'static str),
    /// The report's own GraphQL operations failed.
    #[error("report query failed: {0}")]
    Report(String),
    /// A file could not be read or written.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// No write can succeed now (the disk is full, the database is read-only, gone or not
    /// answering); the same write may succeed later.
    #[error("writes are unavailable: {0}")]
    Unavailable(String),
    /// Something failed that a client cannot act on; logged where it happened.
    #[error("{0}")]
    Internal(&'static str),
}

impl Error {
    /// A `CONFLICT` error, naming the row in the way if there is one.
    pub fn conflict(message: impl Into<String>, existing_id: Option<i64>) -> Self {
        Error::Conflict {
            message: message.into(),
            existing_id,
        }
    }

    /// A `BAD_USER_INPUT` error about `field`.
    pub fn bad_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::BadInput {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl Error {
    /// The same failure for another caller of a transaction that failed as a whole: an
    /// outage keeps its reason; anything else was logged where it happened and reaches
    /// each caller as an internal error.
    pub fn copy_for_another_caller(&self) -> Error {
        match self {
            Error::Unavailable(reason) => Error::Unavailable(reason.clone()),
            _ => Error::Internal("the write transaction failed"),
        }
    }
}

/// Shorthand for results carrying [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An [`Error`] on its way to a GraphQL client.
///
/// async-graphql converts every `Display` type into an error without a code, so resolvers
/// return this wrapper (which is not `Display`) and `?` routes every failure through the one
/// mapping below instead of that blanket conversion.
#[derive(Debug, Clone)]
pub struct ClientError(Arc<Error>);

/// What resolvers return.
pub type ClientResult<T> = std::result::Result<T, ClientError>;

impl From<Error> for ClientError {
    fn from(error: Error) -> Self {
        ClientError(Arc::new(error))
    }
}

impl From<Arc<Error>> for ClientError {
    fn from(error: Arc<Error>) -> Self {
        ClientError(error)
    }
}

impl From<ClientError> for async_graphql::Error {
    fn from(ClientError(error): ClientError) -> Self {
        let (code, message) = match &*error {
            Error::BadInput { .. } | Error::Csv { .. } => ("BAD_USER_INPUT", error.to_string()),
            Error::NotFound { .. } => ("NOT_FOUND", error.to_string()),
            Error::TooLarge(_) => ("QUERY_TOO_COMPLEX", error.to_string()),
            Error::Unavailable(_) => {
                return async_graphql::Error::new(error.to_string()).extend_with(
                    |_, extensions| {
                        extensions.set("code", "UNAVAILABLE");
                        extensions.set("retryable", true);
                    },
                );
            }
            Error::FellBehind { .. } => ("FELL_BEHIND", error.to_string()),
            Error::Conflict { existing_id, .. } => {
                let existing_id = *existing_id;
                return async_graphql::Error::new(error.to_string()).extend_with(
                    |_, extensions| {
                        extensions.set("code", "CONFLICT");
                        if let Some(id) = existing_id {
                            extensions.set("existingId", id.to_string());
                        }
                    },
                );
            }
            Error::Db(_)
            | Error::Migrate(_)
            | Error::Inconsistent(_)
            | Error::Report(_)
            | Error::Io(_)
            | Error::Internal(_) => {
                tracing::error!(error = %error, "internal error while resolving a request");
                ("INTERNAL_SERVER_ERROR", "internal server error".to_owned())
            }
        };
        async_graphql::Error::new(message).extend_with(|_, extensions| extensions.set("code", code))
    }
}
