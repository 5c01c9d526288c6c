//! Runs a request's DataLoader batches inside the request's own future.
//!
//! async-graphql's DataLoader collects keys for a fixed delay (1 ms by default) in a
//! spawned task. On a busy machine a resolver may enqueue its key after that delay and
//! split a level into two statements. Here the batch tasks are polled only after the
//! request future has been polled, so every resolver that could run has already enqueued
//! its key when a batch takes them: one statement per level, always, with no delay.

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use futures_util::StreamExt as _;
use futures_util::future::BoxFuture;
use futures_util::stream::FuturesUnordered;
use futures_util::task::ArcWake;

/// Batch tasks a request's DataLoader started and its future has not run yet.
#[derive(Clone, Default)]
pub struct BatchQueue(Arc<Mutex<Vec<BoxFuture<'static, ()>>>>);

impl BatchQueue {
    /// Queues `batch` to run inside the request it belongs to; the DataLoader's spawner.
    pub fn spawn(&self, batch: BoxFuture<'static, ()>) {
        self.lock().push(batch);
    }

    fn take(&self) -> Vec<BoxFuture<'static, ()>> {
        std::mem::take(&mut *self.lock())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<BoxFuture<'static, ()>>> {
        // A panic while holding this lock can only come from `Vec::push`; the queue is
        // still whole, so a poisoned lock is safe to use.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Drives `request` and the batches in `queue` together until `request` completes.
///
/// Batches run only once `request` is quiescent: polled and not asking to be polled again.
/// async-graphql resolves sibling fields in a `FuturesUnordered`, which yields after a
/// couple of children that woke themselves, so one poll does not always reach every
/// sibling; re-polling until no self-wake is left lets all of them enqueue their keys.
pub async fn run_batched<F: Future>(queue: BatchQueue, request: F) -> F::Output {
    let mut request = pin!(request);
    let mut batches = FuturesUnordered::new();
    poll_fn(|cx| {
        for _ in 0..MAX_POLLS_PER_WAKE {
            let woken = Arc::new(WakeFlag {
                woken: AtomicBool::new(false),
                outer: cx.waker().clone(),
            });
            let waker = futures_util::task::waker(Arc::clone(&woken));
            if let Poll::Ready(output) = request.as_mut().poll(&mut Context::from_waker(&waker)) {
                return Poll::Ready(output);
            }
            if woken.woken.load(Ordering::Acquire) {
                continue;
            }
            batches.extend(queue.take());
            let mut finished_any = false;
            while let Poll::Ready(Some(())) = batches.poll_next_unpin(cx) {
                finished_any = true;
            }
            // A finished batch has woken the resolvers waiting on it: poll them now.
            if !finished_any {
                return Poll::Pending;
            }
        }
        // Give other tasks a turn; we are woken to continue right away.
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await
}

/// Polls of a request in one wake-up before it lets other tasks run.
const MAX_POLLS_PER_WAKE: usize = 10_000;

/// A waker that notes whether it was used, and passes the wake-up on.
struct WakeFlag {
    woken: AtomicBool,
    outer: Waker,
}

impl ArcWake for WakeFlag {
    fn wake_by_ref(flag: &Arc<Self>) {
        flag.woken.store(true, Ordering::Release);
        flag.outer.wake_by_ref();
    }
}
