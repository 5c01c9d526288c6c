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
//! succeeds once the cause is gone. Writes of one kind queued back to back can run
//! together, in a few statements for all of them ([`Batch`]).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use sqlx::{AnyConnection, Connection as _};
use tokio::sync::{mpsc, oneshot};

use super::events::{Event, Events};
use super::sql::Dialect;
use super::{DbStats, OperationScope, WriteTx};
use crate::error::{Error, Result};
use jobs::{Batched, Caller, Job, Queued, Ran};

/// Writes taken into one transaction at most; enough to drain the queue of a few hundred
/// clients in a handful of commits, few enough that the first caller's answer is not held
/// long.
const MAX_GROUP: usize = 256;

/// How long a transaction keeps taking writes queued behind it. Every write of a group is
/// answered at its commit, and the group holds its locks until then: a steady stream of
/// writes must not keep it open.
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

/// Writes of one kind that run together in a few statements, where one by one each would
/// take a few of its own: every statement is a round trip to the one connection, while
/// every other write waits.
///
/// Writes of the kind queued back to back run as one job. Whatever [`Batch::run_many`]
/// leaves to run alone, and every item when it fails, runs next through
/// [`Batch::run_one`], each in a savepoint of its own as any write: so one failing item
/// still fails alone.
pub(super) trait Batch: Send + 'static {
    /// What one caller asks for.
    type Item: Send + 'static;
    /// What that caller gets back.
    type Output: Send + 'static;
    /// Runs `items` together: for each, its output, or `None` for an item to run alone.
    /// Fails as a whole, leaving nothing of its own for the writer to keep.
    fn run_many<'a>(
        tx: &'a mut WriteTx,
        items: &'a [Self::Item],
    ) -> BoxFuture<'a, Result<Vec<Option<Self::Output>>>>;
    /// Runs one item alone.
    fn run_one<'a>(
        tx: &'a mut WriteTx,
        item: &'a Self::Item,
    ) -> BoxFuture<'a, Result<Self::Output>>;
}

/// The database as the writer sees it: how to connect, to begin and to commit on each
/// backend, and which of its errors mean that no write can succeed now.
pub(super) trait Store: Send + Sync + 'static {
    /// A fresh write connection, ready for [`Store::begin`].
    fn connect(&self) -> BoxFuture<'_, Result<AnyConnection>>;
    /// Starts a transaction that holds the database's write lock, with the savepoint
    /// `write` open for its first write; `alone`: a lock that no other writer, of any
    /// process, holds meanwhile (see [`Writer::write_alone`]).
    fn begin<'a>(&'a self, conn: &'a mut AnyConnection, alone: bool) -> BoxFuture<'a, Result<()>>;
    /// Commits the transaction, with what must be written with it: the events of every
    /// write kept, the new data version. The transaction stays open when this fails.
    fn commit<'a>(
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
    /// The SQL dialect of the connection.
    fn dialect(&self) -> Dialect;
    /// Why no write can succeed now, when `error` says so (the disk is full, the database
    /// is read-only or does not answer) rather than blaming the write itself.
    fn outage(&self, error: &sqlx::Error) -> Option<&'static str>;
    /// Whether each write (one job: a step, or a lot of [`Batch`] items) commits in a
    /// transaction of its own rather than in a group with the writes queued behind it.
    fn one_write_per_transaction(&self) -> bool;
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
        stats: Arc<DbStats>,
    ) -> Result<Writer> {
        let identity = store.file().map(FileIdentity::of).transpose()?;
        let (queue, incoming) = mpsc::channel(QUEUE_DEPTH);
        let health = Arc::new(Health::default());
        let task = WriterTask {
            store,
            conn,
            events,
            stats,
            identity,
            health: Arc::clone(&health),
            backlog: VecDeque::new(),
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
    /// counted toward `scope`.
    pub(super) async fn write<T: Send + 'static>(
        &self,
        scope: OperationScope,
        step: impl Step<T>,
    ) -> Result<T> {
        self.queue_step(scope, step, false).await
    }

    /// Runs `step` as [`Writer::write`] does, in a transaction that no other writer, in
    /// this process or another, writes beside (an import, whose triggers stand aside).
    pub(super) async fn write_alone<T: Send + 'static>(
        &self,
        scope: OperationScope,
        step: impl Step<T>,
    ) -> Result<T> {
        self.queue_step(scope, step, true).await
    }

    async fn queue_step<T: Send + 'static>(
        &self,
        scope: OperationScope,
        step: impl Step<T>,
        alone: bool,
    ) -> Result<T> {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(Queued {
            scope,
            step,
            reply,
            alone,
        });
        if self.queue.send(Message::Write(job)).await.is_err() {
            return Err(closed());
        }
        answer.await.unwrap_or_else(|_| Err(closed()))
    }

    /// Runs `item` in a write transaction, together with the writes of its kind queued
    /// beside it (see [`Batch`]), committed before this returns.
    pub(super) async fn write_batched<B: Batch>(
        &self,
        scope: OperationScope,
        item: B::Item,
    ) -> Result<B::Output> {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(Batched::<B> {
            items: vec![item],
            callers: vec![Caller { scope, reply }],
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
    /// Process-wide statistics; each job brings its operation's own scope.
    stats: Arc<DbStats>,
    identity: Option<FileIdentity>,
    health: Arc<Health>,
    /// Writes taken from the queue that a transaction left for the next one (see
    /// [`Store::one_write_per_transaction`]); they run before any still queued.
    backlog: VecDeque<Box<dyn Job>>,
}

/// Callers of the writes kept so far in a transaction, told once it commits or fails.
type Kept = Vec<Box<dyn FnOnce(Result<()>) + Send>>;

impl WriterTask {
    async fn run(mut self, mut incoming: mpsc::Receiver<Message>) {
        loop {
            let message = match self.backlog.pop_front() {
                Some(job) => Message::Write(job),
                None => match incoming.recv().await {
                    Some(message) => message,
                    None => return,
                },
            };
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
        // A job to run alone is the first of its transaction: it is queued through
        // `write_alone` (never absorbed into a batch), and SQLite's one writer already
        // excludes every other.
        let mut tx = match self.begin(first.alone()).await {
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
        let mut ready: VecDeque<_> = std::iter::once(first)
            .chain(self.backlog.drain(..))
            .collect();
        let mut closing = None;
        // Set once the transaction takes no more writes: those ready then wait for the next.
        let mut sealed = false;
        // Each job runs in the savepoint `write`, which `begin` opened for the first. Ending one job's savepoint and opening
        // the next one's is one round trip to the connection; the commit ends the last.
        let mut taken = 1;
        while !sealed && let Some(mut job) = ready.pop_front() {
            // Writes that can run together with this one join it (see `Batch`).
            take_queued(&mut ready, incoming, &mut taken, started, &mut closing);
            while let Some(next) = ready.pop_front() {
                if let Some(next) = job.absorb(next) {
                    ready.push_front(next);
                    break;
                }
            }
            let ran = if job.abandoned() {
                None
            } else {
                let (ran, then) = job.run(&mut tx).await;
                for job in then.into_iter().rev() {
                    ready.push_front(job);
                }
                Some(ran)
            };
            sealed = self.store.one_write_per_transaction();
            if !sealed {
                take_queued(&mut ready, incoming, &mut taken, started, &mut closing);
            }
            let boundary = match (&ran, !sealed && !ready.is_empty()) {
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
                refuse_all(ready, &error);
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
        self.backlog = ready;
        let committed = self.store.commit(&mut tx.conn, &events).await;
        match committed {
            Ok(()) => {
                self.stats.commits.inc();
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
    async fn begin(&mut self, alone: bool) -> Result<WriteTx> {
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
        if let Err(error) = self.store.begin(&mut conn, alone).await {
            self.conn = restore(conn).await;
            return Err(error);
        }
        Ok(WriteTx {
            conn,
            // Each job puts its own operation's scope here before it runs.
            scope: OperationScope::default(),
            stats: Arc::clone(&self.stats),
            records_events: self.store.fans_out() || self.events.has_subscribers(),
            dialect: self.store.dialect(),
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

/// Moves the writes queued now into `ready`, while the group may still grow: up to
/// [`MAX_GROUP`] taken and [`MAX_GROUP_TIME`] since it `started`, and no request to close.
fn take_queued(
    ready: &mut VecDeque<Box<dyn Job>>,
    incoming: &mut mpsc::Receiver<Message>,
    taken: &mut usize,
    started: Instant,
    closing: &mut Option<oneshot::Sender<()>>,
) {
    while *taken < MAX_GROUP && started.elapsed() < MAX_GROUP_TIME && closing.is_none() {
        match incoming.try_recv() {
            Ok(Message::Write(job)) => {
                *taken += 1;
                ready.push_back(job);
            }
            Ok(Message::Close(done)) => *closing = Some(done),
            Err(_) => break,
        }
    }
}

/// Answers every job in `ready` with `error`, unrun.
fn refuse_all(ready: VecDeque<Box<dyn Job>>, error: &Error) {
    for job in ready {
        job.refuse(error.copy_for_another_caller());
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

mod jobs;
pub(super) mod stores;
#[cfg(test)]
mod tests;
