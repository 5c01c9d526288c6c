//! The writes queued for the writer, type-erased so that writes of any result type share one
//! queue: one step ([`Queued`]) or many of one kind run together ([`Batched`]).

use std::any::Any;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt as _;
use futures_util::future::BoxFuture;
use tokio::sync::oneshot;

use super::{Batch, Step};
use crate::db::{OperationScope, WriteTx};
use crate::error::{Error, Result};

/// One queued write, type-erased so writes of any result type share the queue.
pub(super) trait Job: Send + Any {
    /// Whether its caller stopped waiting (a timed-out request): then it does not run.
    fn abandoned(&self) -> bool;
    /// Runs the step; the writer keeps or rolls back its changes by what it returns, then
    /// runs the jobs handed back, before any other.
    fn run<'a>(self: Box<Self>, tx: &'a mut WriteTx) -> BoxFuture<'a, (Ran, Vec<Box<dyn Job>>)>;
    /// Answers without running.
    fn refuse(self: Box<Self>, error: Error);
    /// Whether the job must run alone, excluding every other writer (see
    /// `Writer::write_alone`).
    fn alone(&self) -> bool {
        false
    }
    /// Takes `next` in, to run together with this job, or gives it back.
    fn absorb(&mut self, next: Box<dyn Job>) -> Option<Box<dyn Job>> {
        Some(next)
    }
}

/// A job that ran.
pub(super) enum Ran {
    /// Its changes stay if the transaction commits; tell its caller whether it did.
    Kept(Box<dyn FnOnce(Result<()>) + Send>),
    /// It failed: roll its changes back and tell its caller the error.
    Failed(Error, Box<dyn FnOnce(Error) + Send>),
}

/// One write and the caller waiting for its result.
pub(super) struct Queued<T, S> {
    pub(super) scope: OperationScope,
    pub(super) step: S,
    pub(super) reply: oneshot::Sender<Result<T>>,
    /// Whether it runs alone, excluding every other writer ([`Job::alone`]).
    pub(super) alone: bool,
}

impl<T: Send + 'static, S: Step<T>> Job for Queued<T, S> {
    fn abandoned(&self) -> bool {
        self.reply.is_closed()
    }

    fn run<'a>(self: Box<Self>, tx: &'a mut WriteTx) -> BoxFuture<'a, (Ran, Vec<Box<dyn Job>>)> {
        Box::pin((*self).run_alone(tx).map(|ran| (ran, Vec::new())))
    }

    fn refuse(self: Box<Self>, error: Error) {
        let _ = self.reply.send(Err(error));
    }

    fn alone(&self) -> bool {
        self.alone
    }
}

impl<T: Send + 'static, S: Step<T>> Queued<T, S> {
    fn run_alone<'a>(self, tx: &'a mut WriteTx) -> BoxFuture<'a, Ran> {
        let Queued {
            scope,
            step,
            reply,
            alone: _,
        } = self;
        tx.scope = scope;
        Box::pin(async move {
            // A panicking step must not take the writer, and every later write, with it.
            let outcome = AssertUnwindSafe(async move { step(tx).await })
                .catch_unwind()
                .await
                .unwrap_or(Err(Error::Internal("a write step panicked")));
            match outcome {
                // A caller that stopped waiting (its request timed out) was told the write
                // failed: then it must not happen.
                Ok(_) if reply.is_closed() => Ran::Failed(
                    Error::Internal("the caller stopped waiting"),
                    Box::new(|_| {}),
                ),
                Ok(value) => Ran::Kept(Box::new(move |committed: Result<()>| {
                    let _ = reply.send(committed.map(|()| value));
                })),
                Err(error) => Ran::Failed(
                    error,
                    Box::new(move |error| {
                        let _ = reply.send(Err(error));
                    }),
                ),
            }
        })
    }
}

/// `step`, with the signature of a [`Step`] given to the closure it is.
fn as_step<T, S: Step<T>>(step: S) -> S {
    step
}

/// Writes of one [`Batch`] kind, queued back to back, run as one job.
pub(super) struct Batched<B: Batch> {
    pub(super) items: Vec<B::Item>,
    /// The caller of each item, in the same order.
    pub(super) callers: Vec<Caller<B>>,
}

/// One caller of a [`Batched`] write.
pub(super) struct Caller<B: Batch> {
    pub(super) scope: OperationScope,
    pub(super) reply: oneshot::Sender<Result<B::Output>>,
}

impl<B: Batch> Caller<B> {
    /// The write of `item` for this caller as a job of its own, run through
    /// [`Batch::run_one`].
    fn alone(self, item: B::Item) -> Queued<B::Output, impl Step<B::Output>> {
        Queued {
            scope: self.scope,
            step: as_step(move |tx| Box::pin(async move { B::run_one(tx, &item).await })),
            reply: self.reply,
            alone: false,
        }
    }
}

impl<B: Batch> Batched<B> {
    /// Every item as a job of its own, for callers still waiting.
    fn alone(self) -> Vec<Box<dyn Job>> {
        self.callers
            .into_iter()
            .zip(self.items)
            .filter(|(caller, _)| !caller.reply.is_closed())
            .map(|(caller, item)| Box::new(caller.alone(item)) as Box<dyn Job>)
            .collect()
    }

    async fn run_together(mut self, tx: &mut WriteTx) -> (Ran, Vec<Box<dyn Job>>) {
        let waiting: Vec<bool> = self.callers.iter().map(|c| !c.reply.is_closed()).collect();
        if waiting.iter().filter(|w| **w).count() < 2 {
            let mut alone = self.callers.into_iter().zip(self.items);
            return match alone.find(|(caller, _)| !caller.reply.is_closed()) {
                Some((caller, item)) => (caller.alone(item).run_alone(tx).await, Vec::new()),
                None => (Ran::Kept(Box::new(|_| {})), Vec::new()),
            };
        }
        // Callers that stopped waiting were told their write failed: they are left out.
        if waiting.contains(&false) {
            let mut keep = waiting.iter();
            self.items.retain(|_| *keep.next().unwrap_or(&false));
            self.callers.retain(|caller| !caller.reply.is_closed());
        }
        let scope = self.callers[0].scope.clone();
        let before = scope.statement_count();
        tx.scope = scope;
        let outcome = AssertUnwindSafe(B::run_many(tx, &self.items))
            .catch_unwind()
            .await
            .unwrap_or(Err(Error::Internal("a batch of writes panicked")));
        // Every caller's operation ran these statements.
        let ran = self.callers[0].scope.statement_count() - before;
        for caller in &self.callers[1..] {
            caller.scope.count_statements(ran);
        }
        let outputs = match outcome {
            Ok(outputs) if outputs.len() != self.items.len() => Err(Error::Inconsistent(
                "a batch of writes lost track of its items",
            )),
            // A caller that stopped waiting meanwhile must not see its write happen.
            Ok(_) if self.callers.iter().any(|c| c.reply.is_closed()) => {
                Err(Error::Internal("a caller stopped waiting"))
            }
            outcome => outcome,
        };
        let outputs = match outputs {
            Ok(outputs) => outputs,
            // Nothing of the batch stays (the writer rolls it back): each item runs
            // alone, and fails alone if it must.
            Err(error) => return (Ran::Failed(error, Box::new(|_| {})), self.alone()),
        };
        let mut answers = Vec::with_capacity(outputs.len());
        let mut alone = Vec::new();
        for ((caller, item), output) in self.callers.into_iter().zip(self.items).zip(outputs) {
            match output {
                Some(output) => answers.push((caller.reply, output)),
                None => alone.push(Box::new(caller.alone(item)) as Box<dyn Job>),
            }
        }
        let answer = Box::new(move |committed: Result<()>| {
            for (reply, output) in answers {
                let answer = match &committed {
                    Ok(()) => Ok(output),
                    Err(error) => Err(error.copy_for_another_caller()),
                };
                let _ = reply.send(answer);
            }
        });
        (Ran::Kept(answer), alone)
    }
}

impl<B: Batch> Job for Batched<B> {
    fn abandoned(&self) -> bool {
        self.callers.iter().all(|caller| caller.reply.is_closed())
    }

    fn run<'a>(self: Box<Self>, tx: &'a mut WriteTx) -> BoxFuture<'a, (Ran, Vec<Box<dyn Job>>)> {
        Box::pin(self.run_together(tx))
    }

    fn refuse(self: Box<Self>, error: Error) {
        for caller in self.callers {
            let _ = caller.reply.send(Err(error.copy_for_another_caller()));
        }
    }

    fn absorb(&mut self, next: Box<dyn Job>) -> Option<Box<dyn Job>> {
        if !(&*next as &dyn Any).is::<Batched<B>>() {
            return Some(next);
        }
        let next: Box<dyn Any> = next;
        if let Ok(next) = next.downcast::<Batched<B>>() {
            self.items.extend(next.items);
            self.callers.extend(next.callers);
        }
        None
    }
}
