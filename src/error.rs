//! The crate's one error type, and the single place where it becomes a GraphQL error.
//! Every `extensions.code` a client can see is a [`Code`]; which code an [`Error`] gets is
//! decided here, in [`Error::code`], and nowhere else.

mod code;

use std::fmt;
use std::sync::Arc;

use async_graphql::ErrorExtensions as _;

pub use code::Code;

/// A kind of row of the catalogue, as errors name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    /// A row of `author`.
    Author,
    /// A row of `book`.
    Book,
    /// A row of `publisher`.
    Publisher,
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Entity::Author => "author",
            Entity::Book => "book",
            Entity::Publisher => "publisher",
        })
    }
}

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
        /// What kind of row.
        what: Entity,
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
    /// A record could not be written as CSV for a reason other than I/O.
    #[error("{0}")]
    CsvWrite(String),
    /// The catalogue to open is not there: no database file, or no tables in the database.
    #[error("{0}")]
    NoCatalogue(String),
    /// The database, or the listener for its change notifications, is not serving now.
    #[error("{0}")]
    NotReady(&'static str),
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

impl Error {
    /// The `extensions.code` a client receives for this error: the one mapping from
    /// errors to codes.
    pub fn code(&self) -> Code {
        match self {
            Error::BadInput { .. } | Error::Csv { .. } => Code::BadUserInput,
            Error::NotFound { .. } => Code::NotFound,
            Error::TooLarge(_) => Code::QueryTooComplex,
            Error::Unavailable(_) => Code::Unavailable,
            Error::FellBehind { .. } => Code::FellBehind,
            Error::Conflict { .. } => Code::Conflict,
            Error::Db(_)
            | Error::Migrate(_)
            | Error::Inconsistent(_)
            | Error::Report(_)
            | Error::Io(_)
            | Error::CsvWrite(_)
            | Error::NoCatalogue(_)
            | Error::NotReady(_)
            | Error::Internal(_) => Code::InternalServerError,
        }
    }
}

impl From<ClientError> for async_graphql::Error {
    fn from(ClientError(error): ClientError) -> Self {
        let code = error.code();
        let message = if code == Code::InternalServerError {
            tracing::error!(error = %error, "internal error while resolving a request");
            "internal server error".to_owned()
        } else {
            error.to_string()
        };
        async_graphql::Error::new(message).extend_with(|_, extensions| {
            extensions.set("code", code);
            match &*error {
                Error::Unavailable(_) => extensions.set("retryable", true),
                Error::Conflict {
                    existing_id: Some(id),
                    ..
                } => extensions.set("existingId", id.to_string()),
                _ => {}
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_names_the_entity_and_id_with_its_code() {
        let error = async_graphql::Error::from(ClientError::from(Error::NotFound {
            what: Entity::Publisher,
            id: 7,
        }));
        assert_eq!(error.message, "publisher 7 does not exist");
        let code = error
            .extensions
            .and_then(|extensions| extensions.get("code").cloned());
        assert_eq!(code, Some(async_graphql::Value::from("NOT_FOUND")));
    }
}
