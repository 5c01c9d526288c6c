//! The data layer: every SQL statement bookgraph runs lives under this module.
//! Callers get named functions over id batches; they never see SQL, pools or rows in flight.

pub mod add_book;
pub mod authors;
pub mod books;
pub mod export;
pub mod models;
pub mod pages;
pub mod publishers;

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection, Transaction};

use crate::error::{Error, Result};

/// How long a connection waits for another process's write lock before giving up. Our own
/// writes queue on the single writer connection instead, so this only matters when a second
/// process (an import, say) writes to the same file.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Handle on one SQLite database: a pool of readers and one dedicated writer connection.
///
/// SQLite allows one writer at a time. Funnelling every write transaction through a single
/// connection makes concurrent `addBook` calls queue in the pool (cheap, fair) instead of
/// busy-waiting on the file lock, which is what a shared pool with `BEGIN IMMEDIATE` does.
/// Cloning is cheap; [`Db::scoped`] gives a clone with its own statement counter.
#[derive(Clone, Debug)]
pub struct Db {
    readers: SqlitePool,
    writer: SqlitePool,
    statements: Arc<AtomicU64>,
}

impl Db {
    /// Opens the SQLite database at `url`, creating the file (and its directory) when
    /// missing, and migrates it.
    pub async fn open(url: &str) -> Result<Db> {
        let options = SqliteConnectOptions::from_str(url)?;
        if let Some(dir) = options.get_filename().parent() {
            std::fs::create_dir_all(dir)?;
        }
        Self::connect(options.create_if_missing(true)).await
    }

    /// Opens and migrates the existing SQLite database at `url`; a missing file is an error.
    pub async fn open_existing(url: &str) -> Result<Db> {
        let options = SqliteConnectOptions::from_str(url)?;
        if !options.get_filename().exists() {
            return Err(Error::Io(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("no database file at {}", options.get_filename().display()),
            )));
        }
        Self::connect(options.create_if_missing(false)).await
    }

    #[tracing::instrument(skip_all, fields(file = %options.get_filename().display()))]
    async fn connect(options: SqliteConnectOptions) -> Result<Db> {
        let options = options
            // sqlx leaves SQLite in rollback-journal mode unless asked; WAL lets readers
            // run alongside the writer.
            .journal_mode(SqliteJournalMode::Wal)
            // In WAL mode NORMAL never corrupts the database; a power cut may lose the last
            // commits, a process crash loses nothing.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations").run(&writer).await?;
        let readers = SqlitePoolOptions::new()
            .max_connections(reader_count())
            .connect_with(options)
            .await?;
        Ok(Db {
            readers,
            writer,
            statements: Arc::default(),
        })
    }

    /// A handle on the same pools whose statement counter starts at zero, so one request's
    /// statements can be counted apart from everyone else's.
    pub fn scoped(&self) -> Db {
        Db {
            statements: Arc::default(),
            ..self.clone()
        }
    }

    /// How many statements this handle (and its clones) has run.
    pub fn statement_count(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// The reader pool, counting the one statement about to run on it.
    fn read(&self) -> &SqlitePool {
        self.statements.fetch_add(1, Ordering::Relaxed);
        &self.readers
    }

    /// Starts a write transaction that holds SQLite's write lock from its first statement.
    ///
    /// A deferred transaction that reads and then writes fails at once with SQLITE_BUSY
    /// when another connection wrote in between, whatever the busy timeout; IMMEDIATE
    /// takes the lock up front so that cannot happen.
    pub async fn begin_write(&self) -> Result<WriteTx> {
        let tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        Ok(WriteTx {
            tx,
            statements: Arc::clone(&self.statements),
        })
    }

    /// Answers when the database does: a round trip on a reader connection.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("select 1").execute(self.read()).await?;
        Ok(())
    }

    /// Waits for every connection to close, checkpointing the write-ahead log.
    pub async fn close(&self) {
        self.readers.close().await;
        self.writer.close().await;
    }
}

/// One more reader than cores: a reader parked on I/O leaves the cores busy.
fn reader_count() -> u32 {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    u32::try_from(cores + 1).unwrap_or(u32::MAX)
}

/// A write transaction on the writer connection. Dropping it without [`WriteTx::commit`]
/// rolls everything back.
pub struct WriteTx {
    tx: Transaction<'static, Sqlite>,
    statements: Arc<AtomicU64>,
}

impl WriteTx {
    /// The connection, counting the one statement about to run on it.
    fn conn(&mut self) -> &mut SqliteConnection {
        self.statements.fetch_add(1, Ordering::Relaxed);
        &mut self.tx
    }

    /// Makes every write of this transaction durable and visible.
    pub async fn commit(self) -> Result<()> {
        self.tx.commit().await?;
        Ok(())
    }
}

/// Appends `(id, id, …)` to `query`. SQLite has no `= any($1)` over an array, so batched
/// lookups bind one placeholder per id; `Loaders` keeps batches under SQLite's limit of
/// 32,766 variables.
fn push_id_list(query: &mut QueryBuilder<Sqlite>, ids: &[i64]) {
    query.push("(");
    let mut list = query.separated(", ");
    for id in ids {
        list.push_bind(*id);
    }
    query.push(")");
}

/// Appends a `like` pattern matching `needle` anywhere, with LIKE's wildcards escaped so a
/// search for "100%" finds exactly that.
fn push_contains(query: &mut QueryBuilder<Sqlite>, column: &str, needle: &str) {
    let escaped = needle
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    query.push(format_args!(" {column} like "));
    query.push_bind(format!("%{escaped}%"));
    query.push(" escape '\\'");
}

/// Finishes a windowed one-to-many lookup whose subquery `t` numbers each parent's children
/// in `position`: keeps the first `first` of each parent and returns them in order. One
/// statement serves every parent of a batch, however many children each has.
fn push_first_and_order(query: &mut QueryBuilder<Sqlite>, first: Option<i64>) {
    if let Some(first) = first {
        query.push(" where t.position <= ").push_bind(first);
    }
    query.push(" order by t.owner_id, t.position");
}

/// Whether the catalogue holds no author and no publisher yet.
pub async fn is_empty(db: &Db) -> Result<bool> {
    let any: bool = sqlx::query_scalar(
        "select exists (select 1 from author) or exists (select 1 from publisher)",
    )
    .fetch_one(db.read())
    .await?;
    Ok(!any)
}
