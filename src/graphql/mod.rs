//! The GraphQL schema as a library value: no HTTP in here, so tests, the HTTP layer and
//! the command line all execute exactly the same thing.

mod batch;
pub mod connection;
pub mod ids;
pub mod inputs;
pub mod limits;
pub mod loaders;
pub mod mutation;
pub mod query;
pub mod subscription;
pub mod types;

use async_graphql::{Request, Response, Schema};

use crate::db::Db;
use limits::{Limits, QueryLimits};
use mutation::MutationRoot;
use query::QueryRoot;
use subscription::SubscriptionRoot;

/// The bookgraph schema.
pub type BookSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// Nesting the parser follows before it gives up, whatever the configured depth limit.
const PARSER_MAX_RECURSION: usize = 256;

/// The schema over `db`, refusing operations beyond `limits`.
pub fn build_schema(db: Db, limits: Limits) -> BookSchema {
    Schema::build(QueryRoot, MutationRoot::default(), SubscriptionRoot)
        .data(db)
        .extension(QueryLimits(limits))
        // The parser's own guard against stack exhaustion; above any depth `limits` allows,
        // so too-deep operations get the clearer QUERY_TOO_COMPLEX error.
        .limit_recursive_depth(PARSER_MAX_RECURSION)
        .finish()
}

/// The schema's SDL, as committed in `schema.graphql`.
pub fn sdl() -> String {
    Schema::build(QueryRoot, MutationRoot::default(), SubscriptionRoot)
        .finish()
        .sdl()
}

/// Runs one request with loaders of its own, so batching spans the whole request and a
/// write is visible to the very next one. The response's `extensions.sqlStatements` says
/// how many SQL statements the request ran.
pub async fn execute(schema: &BookSchema, db: &Db, request: Request) -> Response {
    let db = db.scoped();
    let batches = batch::BatchQueue::default();
    let request = request
        .data(loaders::loaders(db.clone(), &batches))
        .data(db.clone());
    let mut response = batch::run_batched(batches, schema.execute(request)).await;
    response
        .extensions
        .insert("sqlStatements".to_owned(), db.statement_count().into());
    response
}
