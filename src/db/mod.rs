//! The data layer: every SQL statement bookgraph runs lives under this module.
//! Callers get named functions over id batches; they never see SQL, pools or rows in flight.

pub mod add_book;
pub mod authors;
pub mod books;
pub mod bulk;
pub mod events;
pub mod export;
pub mod lookup;
pub mod models;
mod notify;
pub mod pages;
pub mod publishers;
mod readers;
mod retry;
mod scope;
mod sql;
mod stats;
mod version;
mod writer;

pub use scope::{MAX_ROWS_PER_REQUEST, OperationScope};
pub use stats::DbStats;

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::future::BoxFuture;
use sqlx::any::{AnyArguments, AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::query::QueryAs;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Any, AnyConnection, ConnectOptions as _, Connection as _, FromRow};

use readers::{Lender, Reader, Readers};
use sql::{Dialect, Sql};

use crate::error::{Error, Result};
use events::{Event, Events};

pub use writer::Step;
use writer::{Batch, Store as _, Writer};

/// How long a write waits for another process's write lock before giving up: SQLite's busy
/// timeout, PostgreSQL's `lock_timeout` (on [`WRITE_LOCK`] and on rows). Our own writes
/// queue on the single writer instead, so this only matters while another process (an
/// import, another replica) writes.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// How long [`Db::check`] waits for the database to answer.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// The writer's page cache, in SQLite's "negative means KiB" form: 64 MiB.
const WRITER_CACHE_KIB: &str = "-65536";

/// How many pages the write-ahead log grows by before the writer itself copies what is
/// left of them into the database file (SQLite's default is 1,000). Until then
/// [`checkpoint_beside_writer`] copies them, off the writer's path.
const WRITER_CHECKPOINT_PAGES: &str = "10000";

/// How often [`checkpoint_beside_writer`] looks for commits to copy.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// The PostgreSQL advisory lock of bookgraph's writes. Every write transaction holds it in
/// shared mode, so writers on every replica run side by side, kept right by row locks and
/// the count triggers' lock order (`migrations/postgres/0005_concurrent_writers.sql`); a
/// bulk import holds it exclusively ([`Db::write_alone`]), since its triggers stand
/// aside until it recounts. The number is arbitrary but fixed; other programs that write
/// to the same database take it too, shared for ordinary writes.
pub const WRITE_LOCK: i64 = 0x626f_6f6b_6772_6170;

/// Which database a handle runs on.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Backend {
    /// An embedded SQLite file, at this path.
    Sqlite(PathBuf),
    /// A PostgreSQL database, possibly shared with other bookgraph processes.
    Postgres,
}

/// How to open a catalogue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenOptions {
    /// Fail instead of creating a catalogue: an SQLite file, or the tables in an empty
    /// PostgreSQL database.
    pub must_exist: bool,
    /// Size of the reader pool; two per core when unset.
    pub readers: Option<u32>,
    /// Bytes an SQLite file may grow to; writes past it fail as on a full disk.
    pub max_size: Option<u64>,
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
    /// Opens the database at `url` (`sqlite:…` or `postgres://…`), creating an SQLite file
    /// and its directory when missing, and migrates it.
    pub async fn open(url: &str) -> Result<Db> {
        Self::open_with(url, OpenOptions::default()).await
    }

    /// Opens and migrates the database at `url` as `options` say.
    pub async fn open_with(url: &str, options: OpenOptions) -> Result<Db> {
        sqlx::any::install_default_drivers();
        let readers = options.readers.unwrap_or_else(reader_count).max(1);
        if is_postgres(url) {
            Self::connect_postgres(url, options.must_exist, readers).await
        } else {
            Self::connect_sqlite(url, options, readers).await
        }
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn connect_sqlite(url: &str, open: OpenOptions, readers: u32) -> Result<Db> {
        let options = SqliteConnectOptions::from_str(url)?;
        let file = options.get_filename().to_owned();
        let exists = file.exists();
        if open.must_exist && !exists {
            return Err(Error::NoCatalogue(format!(
                "no database file at {}",
                file.display()
            )));
        }
        if !exists {
            tracing::warn!(path = %file.display(), "no database file here: creating a new catalogue");
            if let Some(dir) = file.parent() {
                std::fs::create_dir_all(dir)?;
            }
        }
        // Only a missing file is created: asking for it always would also turn a URL's
        // `mode=ro` into read-write.
        let url = AnyConnectOptions::from_url(&options.create_if_missing(!exists).to_url_lossy())?;
        let store = Arc::new(SqliteStore {
            options: url.clone(),
            file: file.clone(),
            max_size: open.max_size,
        });
        // A pool retries a failing connection until its acquire timeout; connecting the
        // writer first makes a file that is not a database an error at once.
        let mut writer = store.connect().await?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&mut writer)
            .await?;
        let read_only = !sqlite_writable(&mut writer).await?;
        let readers = Readers::Sqlite(Arc::new(Lender::new(url, readers)));
        let stats = Arc::<DbStats>::default();
        let events = Events::default();
        tokio::spawn(checkpoint_beside_writer(
            readers.clone(),
            Arc::clone(&stats),
        ));
        Ok(Db {
            writer: Writer::start(store, Some(writer), events.clone(), Arc::clone(&stats))?,
            readers,
            stats,
            scope: OperationScope::default(),
            backend: Backend::Sqlite(file),
            events,
            read_only,
            listener: None,
        })
    }

    #[tracing::instrument(level = "debug", skip_all)]
    async fn connect_postgres(url: &str, must_exist: bool, readers: u32) -> Result<Db> {
        let options = AnyConnectOptions::from_str(url)?;
        let store = Arc::new(PostgresStore {
            options: options.clone(),
        });
        let mut writer = store.connect().await?;
        // The database itself always exists by now; what must exist is a catalogue in it.
        let migrated: i64 = sqlx::query_scalar(
            "select count(*) from information_schema.tables
             where table_schema = current_schema() and table_name = 'book_publisher'",
        )
        .fetch_one(&mut writer)
        .await?;
        if must_exist && migrated == 0 {
            return Err(Error::NoCatalogue(
                "no bookgraph catalogue in this database yet".to_owned(),
            ));
        }
        // Replicas starting together would race to create the tables; the migrator's own
        // lock (an advisory lock on PostgreSQL) lets one migrate and the others wait.
        sqlx::migrate!("./migrations/postgres")
            .run(&mut writer)
            .await?;
        let readers = Readers::Postgres(pool_options(readers).connect_with(options).await?);
        let stats = Arc::<DbStats>::default();
        let events = Events::default();
        let listener = notify::Listener::start(url, events.clone()).await?;
        // A socket answers on the runtime it was opened on: the writer opens its own on
        // its thread, so its round trips do not wait on this runtime's busy workers.
        writer.close().await?;
        Ok(Db {
            writer: Writer::start(store, None, events.clone(), Arc::clone(&stats))?,
            readers,
            stats,
            scope: OperationScope::default(),
            backend: Backend::Postgres,
            events,
            read_only: false,
            listener: Some(Arc::new(listener)),
        })
    }

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
        self.stats.count_statement();
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
        tokio::task::spawn_blocking(move || check_header(&file))
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

/// Copies committed pages from SQLite's write-ahead log into the database file, on a
/// reader connection, every [`CHECKPOINT_EVERY`] while writes commit; ends when the
/// readers close.
///
/// Left to SQLite, the connection that commits copies them once the log holds 1,000
/// pages: the writer then stalls, with every queued write behind it, while it copies
/// and waits twice for the disk to sync (about 9 ms each time under W1). A passive
/// checkpoint here takes no lock a writer or reader waits for; the writer still
/// checkpoints itself past [`WRITER_CHECKPOINT_PAGES`], by then mostly copied already,
/// which also lets the log start over from its beginning.
async fn checkpoint_beside_writer(readers: Readers, stats: Arc<DbStats>) {
    let mut copied = 0;
    while !readers.is_closed() {
        tokio::time::sleep(CHECKPOINT_EVERY).await;
        let commits = stats.commits.load(Ordering::Relaxed);
        if commits == copied {
            continue;
        }
        copied = commits;
        // A checkpoint that cannot run now (the file is read-only, another one runs)
        // leaves the pages to the next one, or to the writer's own.
        let checkpoint = async {
            sqlx::query("pragma wal_checkpoint(passive)")
                .execute(&mut *readers.reader().await?)
                .await
        };
        if let Err(error) = checkpoint.await {
            tracing::debug!(%error, "a checkpoint beside the writer failed");
        }
    }
}

/// Fails unless the file at `path` starts with the header of an SQLite 3 database.
fn check_header(path: &std::path::Path) -> std::io::Result<()> {
    const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";
    let mut header = [0; SQLITE_HEADER.len()];
    std::io::Read::read_exact(&mut std::fs::File::open(path)?, &mut header)?;
    if &header == SQLITE_HEADER {
        Ok(())
    } else {
        Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{} does not start with the SQLite header", path.display()),
        ))
    }
}

/// `answer`'s result, or an error once [`CHECK_TIMEOUT`] has passed without one.
async fn answer_in_time<T>(answer: impl Future<Output = sqlx::Result<T>>) -> Result<T> {
    match tokio::time::timeout(CHECK_TIMEOUT, answer).await {
        Ok(answer) => Ok(answer?),
        Err(_) => Err(Error::NotReady("the database did not answer in time")),
    }
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres:") || url.starts_with("postgresql:")
}

/// What every SQLite connection of ours runs with.
async fn sqlite_pragmas(conn: &mut AnyConnection) -> sqlx::Result<()> {
    // sqlx leaves SQLite in rollback-journal mode unless asked; WAL lets readers run
    // alongside the writer. In WAL mode synchronous=NORMAL never corrupts the database; a
    // power cut may lose the last commits, a process crash loses nothing.
    pragma(conn, "journal_mode", "wal").await?;
    pragma(conn, "synchronous", "normal").await?;
    pragma(conn, "foreign_keys", "on").await?;
    pragma(conn, "busy_timeout", &BUSY_TIMEOUT.as_millis().to_string()).await
}

async fn pragma(conn: &mut AnyConnection, name: &str, value: &str) -> sqlx::Result<()> {
    let statement = format!("pragma {name} = {value}");
    sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
        .execute(conn)
        .await?;
    Ok(())
}

/// A pool of at most `connections`.
///
/// Without sqlx's test before each acquire: it costs a round trip to the connection (its
/// worker thread on SQLite, the server on PostgreSQL) before every statement, to find
/// broken connections that the statement itself reports just as well; sqlx drops a
/// connection whose statement failed on I/O.
fn pool_options(connections: u32) -> AnyPoolOptions {
    AnyPoolOptions::new()
        .max_connections(connections)
        .test_before_acquire(false)
}

/// Two readers per core. Each SQLite connection runs its statements on a thread of its own,
/// so a reader waiting for its turn on a core, or handing rows back, leaves another to run:
/// under 32 clients, two per core served point lookups and deep queries 5–15 % faster than
/// one more than the cores, and one per core 25 % slower (measured on 2 cores).
fn reader_count() -> u32 {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    u32::try_from(cores * 2).unwrap_or(u32::MAX)
}

/// A write transaction, as a write step sees it; the writer begins and ends it.
pub struct WriteTx {
    conn: AnyConnection,
    /// The operation of the running step, whose statements these are.
    scope: OperationScope,
    stats: Arc<DbStats>,
    /// Whether anyone may hear of changes: changes go out through PostgreSQL to every
    /// replica, or someone subscribes here (a command-line import on SQLite collects
    /// nothing).
    records_events: bool,
    /// Changes of the running step, announced after commit if it is kept.
    pending: Vec<Event>,
    /// The SQL dialect of the connection.
    dialect: Dialect,
}

impl WriteTx {
    /// The connection, counting the one statement about to run on it.
    fn conn(&mut self) -> &mut AnyConnection {
        self.scope.count_statements(1);
        self.stats.count_statement();
        &mut self.conn
    }

    /// Notes a change to announce after commit.
    fn record(&mut self, event: Event) {
        if self.records_events {
            self.pending.push(event);
        }
    }
}

/// The SQLite file, as the writer sees it.
struct SqliteStore {
    options: AnyConnectOptions,
    file: PathBuf,
    max_size: Option<u64>,
}

impl writer::Store for SqliteStore {
    fn connect(&self) -> BoxFuture<'_, Result<AnyConnection>> {
        Box::pin(async move {
            let mut conn = AnyConnection::connect_with(&self.options).await?;
            sqlite_pragmas(&mut conn).await?;
            // Large writes (imports) would spill SQLite's default 2 MB page cache to disk
            // in the middle of their transaction; the one writer gets room.
            pragma(&mut conn, "cache_size", WRITER_CACHE_KIB).await?;
            // A statement that changes many rows inside a savepoint (a batch of `addBook`s,
            // with the counts its triggers keep) journals the pages it changes, so it can
            // fail alone; past 64 KiB SQLite spills that journal to a temporary file,
            // created, written and deleted again for every such statement. In memory it
            // takes at most the pages one statement changes.
            pragma(&mut conn, "temp_store", "memory").await?;
            pragma(&mut conn, "wal_autocheckpoint", WRITER_CHECKPOINT_PAGES).await?;
            if let Some(bytes) = self.max_size {
                let page_size: i64 = sqlx::query_scalar("pragma page_size")
                    .fetch_one(&mut conn)
                    .await?;
                let pages = bytes / page_size.max(1).unsigned_abs();
                pragma(&mut conn, "max_page_count", &pages.to_string()).await?;
            }
            Ok(conn)
        })
    }

    /// IMMEDIATE: a deferred transaction that reads and then writes fails at once with
    /// SQLITE_BUSY when another process wrote in between, whatever the busy timeout.
    /// One round trip for both statements; the savepoint is not opened when `begin` fails.
    /// Every write is alone here: SQLite's write lock admits one writer.
    fn begin<'a>(&'a self, conn: &'a mut AnyConnection, _: bool) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            sqlx::raw_sql("begin immediate; savepoint write")
                .execute(conn)
                .await?;
            Ok(())
        })
    }

    fn commit<'a>(
        &'a self,
        conn: &'a mut AnyConnection,
        _: &'a [Event],
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(version::replace_and_commit(conn, Dialect::Sqlite))
    }

    fn fans_out(&self) -> bool {
        false
    }

    fn file(&self) -> Option<&std::path::Path> {
        Some(&self.file)
    }

    fn over_network(&self) -> bool {
        false
    }

    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn outage(&self, error: &sqlx::Error) -> Option<&'static str> {
        if matches!(error, sqlx::Error::Io(_) | sqlx::Error::WorkerCrashed) {
            return Some("the database does not answer");
        }
        match sqlite_result_code(error)? {
            SQLITE_FULL => Some("the database or its disk is full"),
            SQLITE_READONLY => Some("the database is read-only"),
            SQLITE_IOERR => Some("the database's storage failed to read or write"),
            SQLITE_CANTOPEN => Some("the database file cannot be opened"),
            SQLITE_BUSY | SQLITE_LOCKED => Some("another process holds the database's write lock"),
            _ => None,
        }
    }

    /// Grouped: the one writer holds the file's lock either way, and a commit per group
    /// instead of per write is most of what SQLite's writes cost.
    fn one_write_per_transaction(&self) -> bool {
        false
    }
}

/// The PostgreSQL database, as the writer sees it.
struct PostgresStore {
    options: AnyConnectOptions,
}

impl writer::Store for PostgresStore {
    fn connect(&self) -> BoxFuture<'_, Result<AnyConnection>> {
        Box::pin(async move { Ok(AnyConnection::connect_with(&self.options).await?) })
    }

    /// Holds [`WRITE_LOCK`] until commit or rollback, in shared mode or, `alone`,
    /// exclusively, waiting for it at most [`BUSY_TIMEOUT`] (behind an import, or an
    /// import behind the writes in flight); one round trip for all four statements.
    fn begin<'a>(&'a self, conn: &'a mut AnyConnection, alone: bool) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let lock = if alone {
                "pg_advisory_xact_lock"
            } else {
                "pg_advisory_xact_lock_shared"
            };
            let begin = format!(
                "begin; set local lock_timeout = {}; select {lock}({WRITE_LOCK}); savepoint write",
                BUSY_TIMEOUT.as_millis()
            );
            sqlx::raw_sql(sqlx::AssertSqlSafe(begin))
                .execute(&mut *conn)
                .await?;
            Ok(())
        })
    }

    /// Notifications go out when, and only if, the transaction commits; every replica's
    /// listener, this one's included, relays them to its subscribers.
    fn commit<'a>(
        &'a self,
        conn: &'a mut AnyConnection,
        events: &'a [Event],
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            notify::announce(conn, events).await?;
            version::replace_and_commit(conn, Dialect::Postgres).await
        })
    }

    fn fans_out(&self) -> bool {
        true
    }

    fn file(&self) -> Option<&std::path::Path> {
        None
    }

    fn over_network(&self) -> bool {
        true
    }

    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn outage(&self, error: &sqlx::Error) -> Option<&'static str> {
        let code = match error {
            sqlx::Error::Database(error) => error.code()?,
            sqlx::Error::Io(_) | sqlx::Error::Tls(_) => {
                return Some("the database server does not answer");
            }
            _ => return None,
        };
        // SQLSTATE classes: 53 insufficient resources, 08 connection, 57 operator
        // intervention (shutdown, restart); 25006 a read-only transaction (a standby).
        match code.get(..2) {
            Some("53") => Some("the database server is out of disk, memory or connections"),
            Some("08") => Some("the connection to the database server failed"),
            Some("57") => Some("the database server is shutting down or restarting"),
            _ if code == "55P03" => Some("another process holds the database's write lock"),
            _ if code == "25006" => Some("the database is read-only"),
            _ => None,
        }
    }

    /// Alone: a transaction holds the row locks of all its writes until it commits, in
    /// whatever order they came, and another replica's transaction taking the same rows in
    /// another order would deadlock with it (PostgreSQL finds out only after its
    /// `deadlock_timeout`, a second by default, stalling both). One write takes its rows
    /// in the triggers' order (migrations/postgres/0005), and a lot of `addBook`s sorts
    /// them, so writes wait for each other's commits instead.
    fn one_write_per_transaction(&self) -> bool {
        true
    }
}

// SQLite's primary result codes (https://sqlite.org/rescode.html).
const SQLITE_BUSY: i32 = 5;
const SQLITE_LOCKED: i32 = 6;
const SQLITE_READONLY: i32 = 8;
const SQLITE_IOERR: i32 = 10;
const SQLITE_FULL: i32 = 13;
const SQLITE_CANTOPEN: i32 = 14;

/// The primary result code of an SQLite error: the low byte of its extended code.
fn sqlite_result_code(error: &sqlx::Error) -> Option<i32> {
    let sqlx::Error::Database(error) = error else {
        return None;
    };
    Some(error.code()?.parse::<i32>().ok()? & 0xff)
}

/// Whether SQLite lets `conn` write: a file it may only read (opened with `mode=ro`, or
/// without write permission) opens fine and fails only at the first write.
async fn sqlite_writable(conn: &mut AnyConnection) -> Result<bool> {
    let version: i64 = sqlx::query_scalar("pragma user_version")
        .fetch_one(&mut *conn)
        .await?;
    sqlx::raw_sql("begin immediate").execute(&mut *conn).await?;
    // Setting the value it has changes nothing, but still needs the right to write.
    let probe = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "pragma user_version = {version}"
    )))
    .execute(&mut *conn)
    .await;
    sqlx::raw_sql("rollback").execute(&mut *conn).await?;
    match probe {
        Ok(_) => Ok(true),
        Err(error) if sqlite_result_code(&error) == Some(SQLITE_READONLY) => Ok(false),
        Err(error) => Err(error.into()),
    }
}

/// Runs `update`, which returns the row as it is now, and announces that row with `changed`
/// unless it equals `before`: a rename to the same spelling changes nothing.
async fn update_row<R>(
    tx: &mut WriteTx,
    before: &R,
    update: QueryAs<'_, Any, R, AnyArguments>,
    changed: fn(R) -> Event,
) -> Result<R>
where
    R: for<'r> FromRow<'r, AnyRow> + Clone + PartialEq + Send + Unpin,
{
    let after = update.fetch_one(tx.conn()).await?;
    if after != *before {
        tx.record(changed(after.clone()));
    }
    Ok(after)
}

/// The id of the row `find` selects, or else of the row `insert` creates (`true`).
///
/// Looking first costs one statement when the row exists, the usual case for authors and
/// publishers (`addBook` mostly adds books of known ones), where inserting first costs
/// two. The insert still says `on conflict do nothing`, so a row that a writer outside
/// this process inserted between the two statements is found by a second look instead of
/// failing on the unique index.
async fn find_or_insert(
    tx: &mut WriteTx,
    find: impl Fn() -> Sql,
    insert: Sql,
) -> Result<(i64, bool)> {
    if let Some(id) = find()
        .build_query_scalar()
        .fetch_optional(tx.conn())
        .await?
    {
        return Ok((id, false));
    }
    if let Some(id) = insert
        .build_query_scalar()
        .fetch_optional(tx.conn())
        .await?
    {
        return Ok((id, true));
    }
    let id = find().build_query_scalar().fetch_one(tx.conn()).await?;
    Ok((id, false))
}

/// Appends `(id, id, …)` to `query`. SQLite has no `= any($1)` over an array, so batched
/// lookups bind one placeholder per id; callers keep lists under SQLite's limit of
/// 32,766 variables (PostgreSQL's is 65,535).
fn push_id_list(query: &mut Sql, ids: &[i64]) {
    query.push("(");
    query.push_list(ids, ", ", |query, id| {
        query.push_bind(*id);
    });
    query.push(")");
}

/// Appends a `like` pattern matching `needle` anywhere, with LIKE's wildcards escaped so a
/// search for "100%" finds exactly that.
fn push_contains(query: &mut Sql, column: &str, needle: &str) {
    let escaped = needle
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    query.push(format_args!(" {column} like "));
    query.push_bind(format!("%{escaped}%"));
    query.push(" escape '\\'");
}

/// Whether the catalogue holds no author and no publisher yet.
pub async fn is_empty(db: &Db) -> Result<bool> {
    let rows: i64 = sqlx::query_scalar(
        "select (select count(*) from (select 1 from author limit 1) as a)
            + (select count(*) from (select 1 from publisher limit 1) as p)",
    )
    .fetch_one(&mut *db.read().await?)
    .await?;
    Ok(rows == 0)
}
