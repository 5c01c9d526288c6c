//! The data layer: every SQL statement bookgraph runs lives under this module.
//! Callers get named functions over id batches; they never see SQL, pools or rows in flight.

pub mod add_book;
pub mod authors;
pub mod books;
pub mod bulk;
pub mod export;
pub mod models;
pub mod pages;
pub mod publishers;
mod stats;

pub use stats::DbStats;

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection, Transaction};

use crate::error::{Error, Result};
use crate::events::{Event, Events};

/// How long a connection waits for another process's write lock before giving up. Our own
/// writes queue on the single writer connection instead, so this only matters when a second
/// process (an import, say) writes to the same file.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Rows one request may read through nested lists.
pub const MAX_ROWS_PER_REQUEST: u64 = 100_000;

/// The writer's page cache, in SQLite's "negative means KiB" form: 64 MiB.
const WRITER_CACHE_KIB: &str = "-65536";

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
    counters: Counters,
    file: PathBuf,
    events: Events,
}

/// Statements run through one handle (a request's), and the process-wide statistics.
#[derive(Clone, Debug, Default)]
struct Counters {
    scoped: Arc<AtomicU64>,
    /// Rows the handle's one-to-many lookups returned: the request's read budget.
    rows: Arc<AtomicU64>,
    stats: Arc<DbStats>,
}

impl Counters {
    fn count_statement(&self) {
        self.scoped.fetch_add(1, Ordering::Relaxed);
        self.stats.statements.fetch_add(1, Ordering::Relaxed);
    }
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
        let file = options.get_filename().to_owned();
        let options = options
            // sqlx leaves SQLite in rollback-journal mode unless asked; WAL lets readers
            // run alongside the writer.
            .journal_mode(SqliteJournalMode::Wal)
            // In WAL mode NORMAL never corrupts the database; a power cut may lose the last
            // commits, a process crash loses nothing.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        // Large writes (imports) would spill SQLite's default 2 MB page cache to disk in
        // the middle of their transaction; the one writer gets room, readers keep the default.
        let writer_options = options.clone().pragma("cache_size", WRITER_CACHE_KIB);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(60))
            .connect_with(writer_options)
            .await?;
        sqlx::migrate!("./migrations").run(&writer).await?;
        let readers = SqlitePoolOptions::new()
            .max_connections(reader_count())
            .connect_with(options)
            .await?;
        Ok(Db {
            readers,
            writer,
            counters: Counters::default(),
            file,
            events: Events::default(),
        })
    }

    /// A handle on the same pools whose statement counter starts at zero, so one request's
    /// statements can be counted apart from everyone else's.
    pub fn scoped(&self) -> Db {
        Db {
            counters: Counters {
                scoped: Arc::default(),
                rows: Arc::default(),
                stats: Arc::clone(&self.counters.stats),
            },
            ..self.clone()
        }
    }

    /// How many statements this handle (and its clones) has run.
    pub fn statement_count(&self) -> u64 {
        self.counters.scoped.load(Ordering::Relaxed)
    }

    /// Committed changes, as they happen.
    pub fn events(&self) -> &Events {
        &self.events
    }

    /// Charges `rows` to this handle's read budget; past [`MAX_ROWS_PER_REQUEST`] the
    /// request is refused. Nested lists without `first` have no size of their own, so this
    /// is what stops `books { publishers { books … } }` from fanning out over the whole
    /// catalogue again and again.
    pub fn charge_rows(&self, rows: usize) -> Result<()> {
        let rows = rows as u64;
        let total = self.counters.rows.fetch_add(rows, Ordering::Relaxed) + rows;
        if total > MAX_ROWS_PER_REQUEST {
            return Err(Error::TooLarge(format!(
                "the request reads more than {MAX_ROWS_PER_REQUEST} rows; ask for fewer with `first`"
            )));
        }
        Ok(())
    }

    /// Process-wide statistics, shared by every handle on this database.
    pub fn stats(&self) -> &DbStats {
        &self.counters.stats
    }

    /// Connections busy now in the reader pool and in the writer pool.
    pub fn connections_in_use(&self) -> (u32, u32) {
        let busy = |pool: &SqlitePool| {
            pool.size()
                .saturating_sub(u32::try_from(pool.num_idle()).unwrap_or(u32::MAX))
        };
        (busy(&self.readers), busy(&self.writer))
    }

    /// Bytes the database takes on disk, write-ahead log included.
    pub fn size_on_disk(&self) -> u64 {
        let mut wal = self.file.clone().into_os_string();
        wal.push("-wal");
        [self.file.as_os_str(), wal.as_os_str()]
            .iter()
            .filter_map(|path| std::fs::metadata(path).ok())
            .map(|metadata| metadata.len())
            .sum()
    }

    /// The reader pool, counting the one statement about to run on it.
    fn read(&self) -> &SqlitePool {
        self.counters.count_statement();
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
            counters: self.counters.clone(),
            events: self.events.clone(),
            pending: Vec::new(),
        })
    }

    /// Whether the database is fit to serve: a reader connection answers, and the file it
    /// has open is still at its path and still starts with SQLite's 16-byte header.
    ///
    /// Pooled connections keep the file open and serve from their page cache, so they go
    /// on answering after the file is deleted, replaced by a directory or overwritten; only
    /// a fresh look at the path tells. One pooled statement, one `open` and a 16-byte read:
    /// cheap enough for load balancers to poll.
    pub async fn check(&self) -> Result<()> {
        sqlx::query("select 1").execute(self.read()).await?;
        let file = self.file.clone();
        tokio::task::spawn_blocking(move || check_header(&file))
            .await
            .map_err(std::io::Error::other)??;
        Ok(())
    }

    /// Waits for every connection to close, checkpointing the write-ahead log.
    pub async fn close(&self) {
        self.readers.close().await;
        self.writer.close().await;
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

/// One more reader than cores: a reader parked on I/O leaves the cores busy.
fn reader_count() -> u32 {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    u32::try_from(cores + 1).unwrap_or(u32::MAX)
}

/// A write transaction on the writer connection. Dropping it without [`WriteTx::commit`]
/// rolls everything back.
pub struct WriteTx {
    tx: Transaction<'static, Sqlite>,
    counters: Counters,
    events: Events,
    /// Changes to announce once the transaction commits.
    pending: Vec<Event>,
}

impl WriteTx {
    /// The connection, counting the one statement about to run on it.
    fn conn(&mut self) -> &mut SqliteConnection {
        self.counters.count_statement();
        &mut self.tx
    }

    /// Makes every write of this transaction durable and visible.
    pub async fn commit(self) -> Result<()> {
        self.tx.commit().await?;
        self.events.publish(self.pending);
        Ok(())
    }

    /// Notes a change to announce after commit (only while anyone subscribes, so bulk
    /// imports collect nothing).
    fn record(&mut self, event: Event) {
        if self.events.has_subscribers() {
            self.pending.push(event);
        }
    }
}

/// Appends `(id, id, …)` to `query`. SQLite has no `= any($1)` over an array, so batched
/// lookups bind one placeholder per id; callers keep lists under SQLite's limit of
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
