//! What runs an operation sent over a socket: write access and the limits as over HTTP,
//! a database scope and loaders of its own, and the time limit for queries and mutations.

use std::sync::Arc;
use std::time::Duration;

use async_graphql::parser::types::OperationType;
use async_graphql::{Request, Response, ServerError};
use futures_util::StreamExt as _;
use futures_util::stream::{self, BoxStream};
use tokio::sync::Semaphore;

use crate::db::Db;
use crate::error::Code;
use crate::graphql::loaders::spawned_loaders;
use crate::graphql::{BookSchema, Operation};
use crate::http::access::Denied;
use crate::http::endpoint::is_request_error;

/// What an operation sends back.
pub enum Reply {
    /// A result: the only one of a query or mutation, or one event of a subscription.
    Next(Response),
    /// The operation was refused before it ran; nothing follows.
    Refused(Vec<ServerError>),
}

/// Runs the operations of one connection.
#[derive(Clone)]
pub struct Operations {
    pub schema: BookSchema,
    pub db: Db,
    /// Why mutations over this connection are refused, if they are.
    pub write_refusal: Option<Denied>,
    /// How long a query or mutation may run, its wait for a turn included.
    pub time_limit: Duration,
    /// The turns HTTP requests take too.
    pub executions: Arc<Semaphore>,
}

impl Operations {
    /// The replies to `request`, in order.
    pub fn run(&self, request: Request) -> BoxStream<'static, Reply> {
        let mut operation = self.schema.operation(request);
        if let Some(refused) = self.refusal(&mut operation) {
            return stream::once(async { Reply::Refused(refused.errors) }).boxed();
        }
        let is_subscription = operation.is(OperationType::Subscription);
        // Mutations queue for the writer, and schema questions need no database: neither
        // takes a turn.
        let takes_turn = !operation.is(OperationType::Mutation) && operation.reads_catalogue();
        // The operation's scope keeps its statements and rows its own, whatever ran on the
        // connection before; a subscription's events each start it afresh.
        let budget = operation.budget();
        let request = operation.into_request(&self.db, spawned_loaders);
        let responses = self.schema.roots().execute_stream(request);
        let mut replies = responses.enumerate().map(move |(n, mut response)| {
            // Only the first response can be a request error: the rest are events.
            if n == 0 && is_request_error(&response) {
                return Reply::Refused(response.errors);
            }
            // Refused whole past the response budget, as over HTTP.
            if let Some(budget) = &budget {
                budget.settle(&mut response);
            }
            Reply::Next(response)
        });
        if is_subscription {
            return replies.boxed();
        }
        // A query or mutation answers once: it keeps the time limit, and dropping it on
        // time-out rolls back any write it had begun. A query takes a turn as over HTTP.
        let (time_limit, executions) = (self.time_limit, Arc::clone(&self.executions));
        stream::once(async move {
            let running = async {
                let _turn = if takes_turn {
                    Some(executions.acquire().await)
                } else {
                    None
                };
                replies.next().await
            };
            match tokio::time::timeout(time_limit, running).await {
                Ok(Some(reply)) => reply,
                Ok(None) => Reply::Next(Response::default()),
                Err(_) => Reply::Next(timed_out(time_limit)),
            }
        })
        .boxed()
    }

    /// The answer to an operation refused by write access or by the limits, if it is.
    fn refusal(&self, operation: &mut Operation) -> Option<Response> {
        if let Some(denied) = self.write_refusal
            && operation.is(OperationType::Mutation)
        {
            let denied = denied.rejection();
            return Some(error_response(denied.message, denied.code));
        }
        self.schema.refusal(operation)
    }
}

fn timed_out(time_limit: Duration) -> Response {
    let message = format!(
        "the operation ran longer than {} s and was stopped",
        time_limit.as_secs_f64()
    );
    error_response(message, Code::Timeout)
}

fn error_response(message: String, code: Code) -> Response {
    Response::from_errors(vec![code.server_error(message)])
}
