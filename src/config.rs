//! Defaults and bounds of settings that more than one place needs, each written once. It
//! depends on nothing, so every layer may read it: the command line shows and applies these
//! defaults, and what is built without it (tests, benches, `AppState::new`) falls back to the
//! same values.
//!
//! Limits that come as a struct (`graphql::limits::Limits`, `http::ConnectionLimits`,
//! `http::SocketLimits`) keep their defaults in its `Default`, beside what they bound, and
//! the command line reads them from there.

use std::time::Duration;

/// Longest a GraphQL request runs (`--request-timeout`).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Items a connection (`authors`, `books`, `publishers` at the root) returns when the
/// request gives no `first`; the query cost estimate assumes it for every list.
pub const PAGE_SIZE: i32 = 20;

/// Largest `first` a list field accepts.
pub const MAX_PAGE_SIZE: i32 = 100;
