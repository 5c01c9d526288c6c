//! The one writer: a task that owns the write connection and commits the writes queued
//! behind it together (group commit).
//!
//! SQLite takes one writer at a time, and under load most of a write's time went to
//! hand-offs: waiting for the pooled connection, then a round trip to the connection for
//! `BEGIN` and another for `COMMIT`, each one more turn in a busy scheduler. Here the
//! writes waiting in the queue run back to back in one transaction, each in a savepoint of
//! its own so a failing write rolls back alone; callers hear back only once the commit
//! that holds their change is done, and events go out after it. A write that fails for
//! any reason leaves the connection clean (rolled back, or replaced), so the next one
//! succeeds once the cause is gone.

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::FutureExt as _;
use futures_util::future::BoxFuture;
use sqlx::{AnyConnection, Connection as _};
use tokio::sync::{mpsc, oneshot};

use super::{Counters, WriteTx};
use crate::error::{Error, Result};
use crate::events::{Event, Events};

/// Writes taken into one transaction at most; enough to drain the queue of a few hundred
/// clients in a handful of commits, few enough that the first caller's answer is not held
/// long.
const MAX_GROUP: usize = 256;

/// How long a transaction keeps taking writes queued behind it. Every write of a group is
/// answered at its commit, and on PostgreSQL the group holds the lock every replica writes
/// under: a steady stream of writes must not keep it open.
const MAX_GROUP_TIME: Duration = Duration::from_millis(50);

/// Writes waiting beyond the one running; callers wait their turn to queue past this.
const QUEUE_DEPTH: usize = 4096;

/// How long `/ready` keeps saying writes fail after the last write that ran into an outage:
/// long enough for a load balancer to see it, short enough that, once the cause is gone, a
/// write soon finds out (a write that succeeds clears it at once).
const OUTAGE_SHOWN_FOR: Duration = Duration::from_secs(30);

/// What a write step is: a part of a transaction, given the transaction.
pub trait Step<T>:
    for<'a> FnOnce(&'a mut WriteTx) -> BoxFuture<'a, Result<T>> + Send + 'static
{
}

impl<T, F> Step<T> for F where
    F: for<'a> FnOnce(&'a mut WriteTx) -> BoxFuture<'a, Result<T>> + Send + 'static
{
}

/// The database as the writer sees it: how to connect, to begin and to commit on each
/// backend, and which of its errors mean that no write can succeed now.
pub(super) trait Store: Send + Sync + 'static {
    /// A fresh write connection, ready for [`Store::begin`].
    fn connect(&self) -> BoxFuture<'_, Result<AnyConnection>>;
    /// Starts a transaction that holds the database's write lock.
    fn begin<'a>(&'a self, conn: &'a mut AnyConnection) -> BoxFuture<'a, Result<()>>;
    /// Runs just before `commit`, in the transaction, with the events of every write kept.
    fn before_commit<'a>(
        &'a self,
        conn: &'a mut AnyConnection,
        events: &'a [Event],
    ) -> BoxFuture<'a, Result<()>>;
    /// Whether changes reach subscribers through the database rather than [`Events`].
    fn fans_out(&self) -> bool;
    /// The file the connection writes to, when it is one.
    fn file(&self) -> Option<&Path>;
    /// Whether the connection is a socket (which the writer's runtime must then watch).
    fn over_network(&self) -> bool;
    /// Why no write can succeed now, when `error` says so (the disk is full, the database
    /// is read-only or does not answer) rather than blaming the write itself.
    fn outage(&self, error: &sqlx::Error) -> Option<&'static str>;
}

/// `error`, as [`Error::Unavailable`] when `store` says it is an outage.
fn classify(store: &dyn Store, error: Error) -> Error {
    match &error {
        Error::Db(cause) => match store.outage(cause) {
            Some(reason) => Error::Unavailable(reason.to_owned()),
            None => error,
        },
        _ => error,
    }
}

/// The handle callers queue writes on; cloning shares the one writer.
#[derive(Clone)]
pub(super) struct Writer {
    queue: mpsc::Sender<Message>,
    health: Arc<Health>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").finish_non_exhaustive()
    }
}

enum Message {
    Write(Box<dyn Job>),
    Close(oneshot::Sender<()>),
}

/// What the writer knows about whether writes can succeed.
#[derive(Debug, Default)]
struct Health {
    /// A transaction is running now.
    busy: AtomicBool,
    /// The last outage a write ran into, until a write succeeds.
    outage: Mutex<Option<(Instant, String)>>,
    /// The file at the configured path is no longer the one open: writes would go into a
    /// file nobody will see again, so none are taken until a restart.
    file_replaced: AtomicBool,
}

impl Health {
    fn set_outage(&self, outage: Option<String>) {
        *self.outage.lock().unwrap_or_else(|e| e.into_inner()) =
            outage.map(|reason| (Instant::now(), reason));
    }
}

impl Writer {
    /// Starts the writer on `conn`, an open, migrated connection to `store`, or on one it
    /// opens itself at the first write.
    pub(super) fn start(
        store: Arc<dyn Store>,
        conn: Option<AnyConnection>,
        events: Events,
        counters: Counters,
    ) -> Result<Writer> {
        let identity = store.file().map(FileIdentity::of).transpose()?;
        let (queue, incoming) = mpsc::channel(QUEUE_DEPTH);
        let health = Arc::new(Health::default());
        let task = WriterTask {
            store,
            conn,
            events,
            counters,
            identity,
            health: Arc::clone(&health),
        };
        // A thread of its own, not a task among the requests': every statement is a round
        // trip to the connection, and each wake-up would otherwise wait its turn behind
        // the request tasks queued on the runtime's workers, with the write lock held.
        let mut runtime = tokio::runtime::Builder::new_current_thread();
        runtime.enable_time();
        // Without sockets to watch (SQLite), the thread sleeps on a futex between round
        // trips rather than in epoll, and is woken without a write to an eventfd.
        if task.store.over_network() {
            runtime.enable_io();
        }
        let runtime = runtime.build()?;
        std::thread::Builder::new()
            .name("bookgraph-writer".into())
            .spawn(move || runtime.block_on(task.run(incoming)))?;
        Ok(Writer { queue, health })
    }

    /// Runs `step` in a write transaction, committed before this returns. Statements are
    /// counted on `counters`.
    pub(super) async fn write<T: Send + 'static>(
        &self,
        counters: Counters,
        step: impl Step<T>,
    ) -> Result<T> {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(Queued {
            counters,
            step,
            reply,
        });
        if self.queue.send(Message::Write(job)).await.is_err() {
            return Err(closed());
        }
        answer.await.unwrap_or_else(|_| Err(closed()))
    }

    /// Whether a write transaction is running now.
    pub(super) fn is_busy(&self) -> bool {
        self.health.busy.load(Ordering::Relaxed)
    }

    /// Why writes cannot succeed now, if they cannot.
    pub(super) fn outage(&self) -> Option<String> {
        if self.health.file_replaced.load(Ordering::Relaxed) {
            return Some(FILE_REPLACED.to_owned());
        }
        let outage = self.health.outage.lock().unwrap_or_else(|e| e.into_inner());
        outage
            .as_ref()
            .filter(|(since, _)| since.elapsed() < OUTAGE_SHOWN_FOR)
            .map(|(_, reason)| reason.clone())
    }

    /// Lets the running transaction finish, then closes the connection.
    pub(super) async fn close(&self) {
        let (done, closed) = oneshot::channel();
        if self.queue.send(Message::Close(done)).await.is_ok() {
            let _ = closed.await;
        }
    }
}

fn closed() -> Error {
    Error::Unavailable("the database is closed".to_owned())
}

const FILE_REPLACED: &str =
    "the database file was deleted or replaced while serving; writes resume after a restart";

/// One queued write, type-erased so writes of any result type share the queue.
trait Job: Send {
    /// Whether its caller stopped waiting (a timed-out request): then it does not run.
    fn abandoned(&self) -> bool;
    /// Runs the step; the writer keeps or rolls back its changes by what it returns.
    fn run<'a>(self: Box<Self>, tx: &'a mut WriteTx) -> BoxFuture<'a, Ran>;
    /// Answers without running.
    fn refuse(self: Box<Self>, error: Error);
}

/// A job that ran.
enum Ran {
    /// Its changes stay if the transaction commits; tell its caller whether it did.
    Kept(Box<dyn FnOnce(Result<()>) + Send>),
    /// It failed: roll its changes back and tell its caller the error.
    Failed(Error, Box<dyn FnOnce(Error) + Send>),
}

struct Queued<T, S> {
    counters: Counters,
    step: S,
    reply: oneshot::Sender<Result<T>>,
}

impl<T: Send + 'static, S: Step<T>> Job for Queued<T, S> {
    fn abandoned(&self) -> bool {
        self.reply.is_closed()
    }

    fn run<'a>(self: Box<Self>, tx: &'a mut WriteTx) -> BoxFuture<'a, Ran> {
        let Queued {
            counters,
            step,
            reply,
        } = *self;
        tx.counters = counters;
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

    fn refuse(self: Box<Self>, error: Error) {
        let _ = self.reply.send(Err(error));
    }
}

/// Device and inode of the database file, to tell when its path names another file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileIdentity {
    path: PathBuf,
    device: u64,
    inode: u64,
}

impl FileIdentity {
    fn of(path: &Path) -> Result<FileIdentity> {
        use std::os::unix::fs::MetadataExt as _;
        let metadata = std::fs::metadata(path)?;
        Ok(FileIdentity {
            path: path.to_owned(),
            device: metadata.dev(),
            inode: metadata.ino(),
        })
    }

    fn still_there(&self) -> bool {
        FileIdentity::of(&self.path).is_ok_and(|now| now == *self)
    }
}

struct WriterTask {
    store: Arc<dyn Store>,
    /// `None` after a failure left the connection in doubt; the next write reconnects.
    conn: Option<AnyConnection>,
    events: Events,
    /// Process-wide statistics; each job brings its request's own counters.
    counters: Counters,
    identity: Option<FileIdentity>,
    health: Arc<Health>,
}

/// Callers of the writes kept so far in a transaction, told once it commits or fails.
type Kept = Vec<Box<dyn FnOnce(Result<()>) + Send>>;

impl WriterTask {
    async fn run(mut self, mut incoming: mpsc::Receiver<Message>) {
        while let Some(message) = incoming.recv().await {
            match message {
                Message::Write(first) => {
                    self.health.busy.store(true, Ordering::Relaxed);
                    let closing = self.commit_group(first, &mut incoming).await;
                    self.health.busy.store(false, Ordering::Relaxed);
                    if let Some(done) = closing {
                        return self.close(done).await;
                    }
                }
                Message::Close(done) => return self.close(done).await,
            }
        }
    }

    /// Closes the connection (checkpointing SQLite's log); writes still queued are
    /// answered as refused when the queue drops.
    async fn close(&mut self, done: oneshot::Sender<()>) {
        if let Some(conn) = self.conn.take() {
            let _ = conn.close().await;
        }
        let _ = done.send(());
    }

    /// Runs `first` and whatever queued behind it in one transaction, and answers them all.
    /// Returns a request to close that arrived meanwhile.
    async fn commit_group(
        &mut self,
        first: Box<dyn Job>,
        incoming: &mut mpsc::Receiver<Message>,
    ) -> Option<oneshot::Sender<()>> {
        if first.abandoned() {
            return None;
        }
        let started = Instant::now();
        let mut tx = match self.begin().await {
            Ok(tx) => tx,
            Err(error) => {
                let error = self.outage_seen(error);
                tracing::error!(%error, "a write transaction could not begin");
                // Writes queued behind it get attempts of their own, which succeed once
                // the cause is gone.
                first.refuse(error);
                return None;
            }
        };
        let mut kept: Kept = Vec::new();
        let mut events = Vec::new();
        let mut next = Some(first);
        let mut closing = None;
        if let Err(error) = execute(&mut tx.conn, "savepoint write").await {
            let error = self.outage_seen(error);
            if let Some(job) = next {
                job.refuse(error.copy_for_another_caller());
            }
            self.fail(tx, kept, error).await;
            return closing;
        }
        // Each job runs in the savepoint `write`. Ending one job's savepoint and opening
        // the next one's is one round trip to the connection; the commit ends the last.
        let mut taken = 1;
        while let Some(job) = next.take() {
            let ran = if job.abandoned() {
                None
            } else {
                Some(job.run(&mut tx).await)
            };
            if taken < MAX_GROUP && started.elapsed() < MAX_GROUP_TIME && closing.is_none() {
                match incoming.try_recv() {
                    Ok(Message::Write(job)) => {
                        taken += 1;
                        next = Some(job);
                    }
                    Ok(Message::Close(done)) => closing = Some(done),
                    Err(_) => {}
                }
            }
            let boundary = match (&ran, next.is_some()) {
                // A job that did not run left the savepoint empty: the next one uses it.
                (None, _) | (Some(Ran::Kept(_)), false) => None,
                (Some(Ran::Kept(_)), true) => Some("release write; savepoint write"),
                (Some(Ran::Failed(..)), true) => {
                    Some("rollback to write; release write; savepoint write")
                }
                (Some(Ran::Failed(..)), false) => Some("rollback to write"),
            };
            if let Some(boundary) = boundary
                && let Err(error) = execute(&mut tx.conn, boundary).await
            {
                // A step's own error can say why the savepoint is gone: SQLite rolls back
                // the whole transaction on some failures (I/O, a full disk).
                let error = match ran {
                    Some(Ran::Failed(failure, answer)) => {
                        let failure = self.outage_seen(failure);
                        let error = match failure {
                            Error::Unavailable(_) => failure,
                            _ => self.outage_seen(error),
                        };
                        answer(error.copy_for_another_caller());
                        error
                    }
                    Some(Ran::Kept(answer)) => {
                        let error = self.outage_seen(error);
                        answer(Err(error.copy_for_another_caller()));
                        error
                    }
                    None => self.outage_seen(error),
                };
                if let Some(job) = next {
                    job.refuse(error.copy_for_another_caller());
                }
                self.fail(tx, kept, error).await;
                return closing;
            }
            match ran {
                Some(Ran::Kept(answer)) => {
                    events.append(&mut tx.pending);
                    kept.push(answer);
                }
                Some(Ran::Failed(error, answer)) => {
                    tx.pending.clear();
                    answer(self.outage_seen(error));
                }
                None => {}
            }
        }
        let committed = async {
            self.store.before_commit(&mut tx.conn, &events).await?;
            execute(&mut tx.conn, "commit").await
        }
        .await;
        match committed {
            Ok(()) => {
                // Only a write that went through shows the cause of an outage is gone.
                if !kept.is_empty() {
                    self.health.set_outage(None);
                }
                self.conn = Some(tx.conn);
                if !self.store.fans_out() {
                    self.events.publish(events);
                }
                for answer in kept {
                    answer(Ok(()));
                }
            }
            Err(error) => self.fail(tx, kept, error).await,
        }
        closing
    }

    /// The connection in a new write transaction, reconnecting if the last one was lost.
    async fn begin(&mut self) -> Result<WriteTx> {
        if let Some(identity) = &self.identity
            && !identity.still_there()
        {
            if !self.health.file_replaced.swap(true, Ordering::Relaxed) {
                tracing::error!(
                    path = %identity.path.display(),
                    "the database file was deleted or replaced while serving: refusing writes until restarted"
                );
            }
            return Err(Error::Unavailable(FILE_REPLACED.to_owned()));
        }
        let mut conn = match self.conn.take() {
            Some(conn) => conn,
            None => self.store.connect().await?,
        };
        if let Err(error) = self.store.begin(&mut conn).await {
            self.conn = restore(conn).await;
            return Err(error);
        }
        Ok(WriteTx {
            conn,
            counters: self.counters.clone(),
            records_events: self.store.fans_out() || self.events.has_subscribers(),
            pending: Vec::new(),
        })
    }

    /// Rolls back a transaction that failed as a whole, and answers every write kept in it.
    async fn fail(&mut self, tx: WriteTx, kept: Kept, error: Error) {
        let error = self.outage_seen(error);
        tracing::error!(%error, writes = kept.len(), "a write transaction failed and was rolled back");
        self.conn = restore(tx.conn).await;
        for answer in kept {
            answer(Err(error.copy_for_another_caller()));
        }
    }

    /// `error` as its caller should see it, noting an outage for `/ready`.
    fn outage_seen(&self, error: Error) -> Error {
        let error = classify(&*self.store, error);
        if let Error::Unavailable(reason) = &error {
            self.health.set_outage(Some(reason.clone()));
        }
        error
    }
}

async fn execute(conn: &mut AnyConnection, statement: &'static str) -> Result<()> {
    sqlx::raw_sql(statement).execute(conn).await?;
    Ok(())
}

/// `conn` back in autocommit mode, or `None` when even a rollback fails: then it is closed
/// and the next write opens a fresh one.
async fn restore(mut conn: AnyConnection) -> Option<AnyConnection> {
    match execute(&mut conn, "rollback").await {
        // The database answered: the connection is sound, with no transaction open
        // (rolled back now, or none was: "no transaction is active").
        Ok(()) | Err(Error::Db(sqlx::Error::Database(_))) => Some(conn),
        Err(_) => {
            let _ = conn.close().await;
            None
        }
    }
}
