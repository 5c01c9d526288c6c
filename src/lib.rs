//! bookgraph serves a catalogue of authors, books and publishers as a GraphQL graph.
//!
//! - [`names`]: the normalised form of every name we store and match.
//! - [`book_entry`]: an (author, title, publisher) entry as `addBook` and CSV rows give it.
//! - [`db`]: the database (SQLite or PostgreSQL) and every SQL statement; nothing outside it
//!   runs SQL. Its committed changes go out to subscribers as [`db::events`].
//! - [`graphql`]: the schema, its types and per-request DataLoaders; no HTTP.
//! - [`http`]: the axum router and the accept loop serving it, GraphQL over HTTP (reads
//!   cacheable) and over WebSocket, write access, health probes, metrics, GraphiQL and the
//!   catalogue page.
//! - [`import`]: CSV into the catalogue, all or nothing.
//! - [`export`]: the catalogue back out as CSV.
//! - [`generate`]: deterministic synthetic catalogues for benchmarks.
//! - [`report`]: the tutorial's text report, gathered through the schema.
//! - [`cli`]: the `bookgraph` command line.
//! - [`config`]: defaults of the settings several layers share, each written once.
//! - [`error`]: the one error type and its single mapping to GraphQL error codes.

pub mod book_entry;
pub mod cli;
pub mod config;
pub mod db;
pub mod error;
pub mod export;
pub mod generate;
pub mod graphql;
pub mod http;
pub mod import;
pub mod names;
pub mod report;

pub use error::{Error, Result};
