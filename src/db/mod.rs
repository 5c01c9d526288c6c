//! The data layer: every SQL statement bookgraph runs lives under this module.
//! Callers get named functions over id batches; they never see SQL, pools or rows in flight.
//!
//! This file is the [`Db`] handle and the map below. Opening a database is `open`'s job
//! (with `sqlite` for what every SQLite connection shares); reads go through `readers`,
//! writes through the one `writer` as steps on a `transaction`; `scope` counts what one
//! GraphQL operation takes. Statements are `sql`'s, and each table's are in its own module.

pub mod add_book;
pub mod authors;
pub mod books;
pub mod bulk;
pub mod events;
pub mod export;
mod fold;
pub mod lookup;
pub mod models;
mod notify;
mod open;
pub mod pages;
pub mod publishers;
mod readers;
mod retry;
mod scope;
mod sql;
mod sqlite;
mod stats;
mod transaction;
mod version;
mod writer;

pub use open::OpenOptions;
pub use scope::{MAX_ROWS_PER_REQUEST, OperationScope};
pub use stats::DbStats;
pub use transaction::WriteTx;
pub use writer::Step;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use readers::{Reader, Readers};
use sql::Dialect;

use crate::error::{Error, Result};
use events::Events;
use writer::{Batch, Writer};

/// How long a write waits for another process's write lock before giving up: SQLite's busy
/// timeout, PostgreSQL's `lock_timeout` (on [`WRITE_LOCK`] and on rows). Our own writes
/// queue on the single writer instead, so this only matters while another process (an
/// import, another replica) writes.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// How long [`Db::check`] waits for the database to answer.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// The PostgreSQL advisory lock of bookgraph's writes. Every write transaction holds it in
/// shared mode, so writers on every replica run side by side, kept right by row locks and
/// the count triggers' lock order (`migrations/postgres/0005_concurrent_writers.sql`, `0009`); a
/// bulk import holds it exclusively ([`Db::write_alone`]), since its triggers stand
/// aside until it recounts. The number is arbitrary but fixed; other programs that write
/// to the same database take it too, shared for ordinary writes.
pub const WRITE_LOCK: i64 = 0x626f_6f6b_6772_6170;

/// The PostgreSQL advisory lock that lets one replica at a time fold count parts into their
/// rows (`migrations/postgres/0009_count_parts.sql`); a session holding it puts folding off.
pub const FOLD_LOCK: i64 = WRITE_LOCK + 1;

/// Which database a handle runs on.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Backend {
    /// An embedded SQLite file, at this path.
    Sqlite(PathBuf),
    /// A PostgreSQL database, possibly shared with other bookgraph processes.
    Postgres,
}

/// Handle on one database: a pool of readers and one writer.
///
/// SQLite allows one writer at a time. Funnelling every write through one connection,
/// owned by one task that commits the writes queued behind it together (see
/// [`writer`]), makes concurrent `addBook` calls queue in memory (cheap, fair) instead of
/// busy-waiting on the file lock. PostgreSQL gets the same shape, one writer per replica;
/// the writers of several replicas run side by side, ordered only where they touch the same
/// rows (see [`WRITE_LOCK`]). Cloning is cheap; [`Db::in_scope`] gives a clone whose
/// statements count toward one operation.
#[derive(Clone, Debug)]
pub struct Db {
    readers: Readers,
    writer: Writer,
    /// Process-wide statistics, shared by every handle on this database.
    stats: Arc<DbStats>,
    /// The operation this handle's statements count toward. The handle [`Db::open`]
    /// returns has one of its own that nothing reads: start-up, the command line and
    /// anything else outside a GraphQL operation.
    scope: OperationScope,
    backend: Backend,
    events: Events,
    /// The database refused a write at start-up: it is served for reading only.
    read_only: bool,
    /// Keeps the PostgreSQL listener that relays other processes' changes running.
    listener: Option<Arc<notify::Listener>>,
}

impl Db {
    /// A handle on the same database whose statements, reads and writes, count toward
    /// `scope`, so one operation's statements are counted apart from everyone else's.
    pub fn in_scope(&self, scope: &OperationScope) -> Db {
        Db {
            scope: scope.clone(),
            ..self.clone()
        }
    }

    /// The operation this handle's statements count toward.
    pub fn scope(&self) -> &OperationScope {
        &self.scope
    }

    /// Committed changes, as they happen.
    pub fn events(&self) -> &Events {
        &self.events
    }

    /// Process-wide statistics, shared by every handle on this database.
    pub fn stats(&self) -> &DbStats {
        &self.stats
    }

    /// Connections busy now in the reader pool, and the writer's (0 or 1).
    pub fn connections_in_use(&self) -> (u32, u32) {
        (self.readers.busy(), u32::from(self.writer.is_busy()))
    }

    /// Whether the database refused to write at start-up (a file opened read-only, say):
    /// then it serves reads only.
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// Bytes the database takes: the SQLite file and its write-ahead log, or the
    /// PostgreSQL database as its server counts it.
    pub async fn size(&self) -> Result<u64> {
        let Backend::Sqlite(file) = &self.backend else {
            let bytes: i64 = answer_in_time(async {
                sqlx::query_scalar("select pg_database_size(current_database())")
                    .fetch_one(&mut *self.readers.reader().await?)
                    .await
            })
            .await?;
            return Ok(u64::try_from(bytes).unwrap_or(0));
        };
        let mut wal = file.clone().into_os_string();
        wal.push("-wal");
        Ok([file.as_os_str(), wal.as_os_str()]
            .iter()
            .filter_map(|path| std::fs::metadata(path).ok())
            .map(|metadata| metadata.len())
            .sum())
    }

    /// The SQL dialect of the backend.
    fn dialect(&self) -> Dialect {
        match self.backend {
            Backend::Sqlite(_) => Dialect::Sqlite,
            Backend::Postgres => Dialect::Postgres,
        }
    }

    /// A reader, counting the one statement about to run on it.
    async fn read(&self) -> sqlx::Result<Reader<'_>> {
        self.scope.count_statements(1);
        self.stats.count_statements(1);
        self.readers.reader().await
    }

    /// Runs `step` in a write transaction and commits it before returning; a failing step
    /// changes nothing. Writes queue behind one writer, which commits the steps queued
    /// together, each in a savepoint of its own (see [`writer`]). On PostgreSQL a step that
    /// loses a race with another replica's write runs again, a few times (see [`retry`]),
    /// which is why it must be `Clone`: each run starts from the step as it was given.
    pub async fn write<T: Send + 'static>(&self, step: impl Step<T> + Clone) -> Result<T> {
        self.retrying(|| self.writer.write(self.scope.clone(), step.clone()))
            .await
    }

    /// Runs `step` once, as [`Db::write`] runs it, but with no other write beside it on any
    /// replica (on PostgreSQL, [`WRITE_LOCK`] held exclusively): for an import, whose count
    /// triggers stand aside until it recounts, and which reads its file as it goes, so
    /// cannot start again.
    pub async fn write_alone<T: Send + 'static>(&self, step: impl Step<T>) -> Result<T> {
        self.writer.write_alone(self.scope.clone(), step).await
    }

    /// Runs `item` as [`Db::write`] runs a step, together with the writes of its kind
    /// queued beside it: in fewer statements than one by one, each item still kept or
    /// rolled back alone (see [`writer::Batch`]).
    async fn write_batched<B: Batch>(&self, item: B::Item) -> Result<B::Output>
    where
        B::Item: Clone,
    {
        self.retrying(|| {
            self.writer
                .write_batched::<B>(self.scope.clone(), item.clone())
        })
        .await
    }

    /// `attempt`'s outcome, run again after a lost race on PostgreSQL; once on SQLite.
    async fn retrying<T, F>(&self, mut attempt: impl FnMut() -> F) -> Result<T>
    where
        F: std::future::Future<Output = Result<T>>,
    {
        match self.backend {
            Backend::Sqlite(_) => attempt().await,
            Backend::Postgres => retry::retrying(attempt).await,
        }
    }

    /// Whether the database is fit to serve: a reader connection answers and, on SQLite,
    /// the file it has open is still at its path and still starts with SQLite's header.
    ///
    /// Pooled connections keep the file open and serve from their page cache, so they go
    /// on answering after the file is deleted, replaced by a directory or overwritten; only
    /// a fresh look at the path tells. One pooled statement, one `open` and a 16-byte read:
    /// cheap enough for load balancers to poll. A database server that does not answer
    /// within [`CHECK_TIMEOUT`] is unfit too, so a probe gets its answer before its own
    /// timeout instead of waiting out the pool's.
    /// On PostgreSQL the listener that relays other replicas' changes must be connected too:
    /// without it, subscribers here would miss them. Writes must not be failing for want of
    /// storage, nor going into a file that was deleted or replaced.
    pub async fn check(&self) -> Result<()> {
        if let Some(reason) = self.writer.outage() {
            return Err(Error::Unavailable(reason));
        }
        answer_in_time(async {
            sqlx::query("select 1")
                .execute(&mut *self.read().await?)
                .await
        })
        .await?;
        if let Some(listener) = &self.listener
            && !listener.is_connected()
        {
            return Err(Error::NotReady(
                "the change notification listener is not connected",
            ));
        }
        let Backend::Sqlite(file) = self.backend.clone() else {
            return Ok(());
        };
        tokio::task::spawn_blocking(move || sqlite::check_header(&file))
            .await
            .map_err(std::io::Error::other)??;
        Ok(())
    }

    /// Waits for every connection to close, checkpointing SQLite's write-ahead log.
    pub async fn close(&self) {
        if let Some(listener) = &self.listener {
            listener.stop();
        }
        self.writer.close().await;
        self.readers.close().await;
    }
}

/// `answer`'s result, or an error once [`CHECK_TIMEOUT`] has passed without one.
async fn answer_in_time<T>(answer: impl Future<Output = sqlx::Result<T>>) -> Result<T> {
    match tokio::time::timeout(CHECK_TIMEOUT, answer).await {
        Ok(answer) => Ok(answer?),
        Err(_) => Err(Error::NotReady("the database did not answer in time")),
    }
}
