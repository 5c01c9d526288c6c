//! The API through a real server over HTTP. One test binary, so it links once.

mod add_book;
mod auth;
mod batching;
mod bodies;
mod browser;
mod cli;
mod clients;
mod connections;
mod faults;
mod fuzz;
mod helpers;
mod hostile;
mod http;
mod import;
mod mutations;
mod observe;
mod pagination;
mod persisted;
mod process;
mod queries;
mod replicas;
mod responses;
mod schema;
mod server;
mod socket_abuse;
mod subscriptions;
