//! What runs an operation sent over a socket: write access as over HTTP; queries and
//! mutations through the one execution path HTTP takes (`graphql::execute`), under the time
//! limit; subscriptions as a stream of events, with loaders of their own.

use std::sync::Arc;
use std::time::Duration;

use async_graphql::parser::types::OperationType;
use async_graphql::{Request, Response, ServerError};
use futures_util::StreamExt as _;
use futures_util::stream::{self, BoxStream};
use tokio::sync::Semaphore;

use crate::db::Db;
use crate::error::Code;
use crate::graphql::is_request_error;
use crate::graphql::{self, BookSchema, Operation};
use crate::http::access::Denied;

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
        if let Some(denied) = self.write_refusal
            && operation.is(OperationType::Mutation)
        {
            let denied = denied.rejection();
            let refused = error_response(denied.message, denied.code);
            return stream::once(async { Reply::Refused(refused.errors) }).boxed();
        }
        if operation.is(OperationType::Subscription) {
            return self.subscribe(operation);
        }
        // A query or mutation runs as over HTTP (`graphql::execute`) and answers once: it
        // keeps the time limit, and dropping it on time-out rolls back any write it had
        // begun. It takes a turn as over HTTP.
        let takes_turn = self.schema.takes_turn(&mut operation);
        let (schema, db) = (self.schema.clone(), self.db.clone());
        let (time_limit, executions) = (self.time_limit, Arc::clone(&self.executions));
        stream::once(async move {
            let running = async {
                let _turn = if takes_turn {
                    Some(executions.acquire().await)
                } else {
                    None
                };
                graphql::execute(&schema, &db, operation).await
            };
            match tokio::time::timeout(time_limit, running).await {
                Ok(response) if is_request_error(&response) => Reply::Refused(response.errors),
                Ok(response) => Reply::Next(response),
                Err(_) => Reply::Next(timed_out(time_limit)),
            }
        })
        .boxed()
    }

    /// The events of a subscription; its one request resolves every event, so no turn and
    /// no time limit applies.
    fn subscribe(&self, operation: Operation) -> BoxStream<'static, Reply> {
        graphql::subscribe(&self.schema, &self.db, operation)
            .enumerate()
            .map(|(n, response)| {
                // Only the first response can be a request error: the rest are events.
                if n == 0 && is_request_error(&response) {
                    Reply::Refused(response.errors)
                } else {
                    Reply::Next(response)
                }
            })
            .boxed()
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
