//! Opening a database: connecting to SQLite or PostgreSQL, migrating, and starting the
//! readers, the writer and, on SQLite, the checkpointer beside it. What a connection runs
//! with is `sqlite`'s; what the writer does with its connection is `writer`'s.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions as _, Connection as _};

use super::events::Events;
use super::readers::{Lender, Readers};
use super::sqlite::sqlite_writable;
use super::writer::stores::{PostgresStore, SqliteStore};
use super::writer::{Store as _, Writer};
use super::{Backend, Db, DbStats, OperationScope, fold, notify};
use crate::error::{Error, Result};

/// How often [`checkpoint_beside_writer`] looks for commits to copy.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

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
        let options_with = |create: bool| {
            AnyConnectOptions::from_url(&options.clone().create_if_missing(create).to_url_lossy())
        };
        let first = SqliteStore {
            options: options_with(!exists)?,
            file: file.clone(),
            max_size: open.max_size,
        };
        // A pool retries a failing connection until its acquire timeout; connecting the
        // writer first makes a file that is not a database an error at once.
        let mut writer = first.connect().await?;
        // Only this first connection may create the file: a reader opened after it was
        // deleted (or a writer reconnecting just as it goes) would start an empty catalogue
        // in its place.
        let url = options_with(false)?;
        let store = Arc::new(SqliteStore {
            options: url.clone(),
            ..first
        });
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
        let readers = pool_options(readers).after_connect(|conn, _| {
            Box::pin(async move {
                sqlx::raw_sql(READER_PLANNER_SETTINGS).execute(conn).await?;
                Ok(())
            })
        });
        let pool = readers.connect_with(options).await?;
        let stats = Arc::<DbStats>::default();
        let events = Events::default();
        let listener = notify::Listener::start(url, events.clone()).await?;
        // A socket answers on the runtime it was opened on: the writer opens its own on
        // its thread, so its round trips do not wait on this runtime's busy workers.
        writer.close().await?;
        let db = Db {
            writer: Writer::start(store, None, events.clone(), Arc::clone(&stats))?,
            readers: Readers::Postgres(pool.clone()),
            stats,
            scope: OperationScope::default(),
            backend: Backend::Postgres,
            events,
            read_only: false,
            listener: Some(Arc::new(listener)),
        };
        // Only once the handle is whole: the task ends when its readers close.
        tokio::spawn(fold::fold_beside_writer(pool, Arc::clone(&db.stats)));
        Ok(db)
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
/// checkpoints itself past `WRITER_CHECKPOINT_PAGES` (`writer/stores.rs`), by then mostly
/// copied already, which also lets the log start over from its beginning.
async fn checkpoint_beside_writer(readers: Readers, stats: Arc<DbStats>) {
    let mut copied = 0;
    while !readers.is_closed() {
        tokio::time::sleep(CHECKPOINT_EVERY).await;
        let commits = stats.commits.get();
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

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres:") || url.starts_with("postgresql:")
}

/// What PostgreSQL readers set for their session. A batched look-up binds its ids as one
/// JSON array, which PostgreSQL estimates at 100 rows whatever its length; at the default
/// random page cost (4, for spinning disks) it then hash-joins a scan of the whole child
/// table rather than look up each parent's rows in their index: 9.3 against 2.5 ms for
/// the books of 100 authors out of 27,361.
const READER_PLANNER_SETTINGS: &str = "set random_page_cost = 1.1";

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

#[cfg(test)]
mod tests {
    use super::*;

    /// No reader is open before the first statement needs one (the checkpointer borrows
    /// one only after a commit, and opening commits nothing), so the check opens one after
    /// the file is gone: it must find the file missing, not create an empty one.
    #[tokio::test]
    async fn a_reader_opened_after_the_file_is_deleted_does_not_create_it_again() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let file = dir.path().join("deleted.db");
        let db = Db::open(&format!("sqlite:{}", file.display()))
            .await
            .expect("the catalogue opens");
        std::fs::remove_file(&file).expect("delete the database file");

        assert!(db.check().await.is_err(), "a deleted file checked fit");
        assert!(!file.exists(), "a reader created the file again");
    }
}
