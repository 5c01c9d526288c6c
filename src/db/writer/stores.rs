//! The database as the writer sees it on each backend: how to connect, begin and commit,
//! and which errors mean no write can succeed now ([`Store`]).

use std::path::PathBuf;

use futures_util::future::BoxFuture;
use sqlx::any::AnyConnectOptions;
use sqlx::{AnyConnection, Connection as _};

use super::Store;
use crate::db::events::Event;
use crate::db::sql::Dialect;
use crate::db::sqlite::{
    SQLITE_BUSY, SQLITE_CANTOPEN, SQLITE_FULL, SQLITE_IOERR, SQLITE_LOCKED, SQLITE_READONLY,
    pragma, sqlite_pragmas, sqlite_result_code,
};
use crate::db::{BUSY_TIMEOUT, WRITE_LOCK, notify, version};
use crate::error::Result;

/// The writer's page cache, in SQLite's "negative means KiB" form: 64 MiB.
const WRITER_CACHE_KIB: &str = "-65536";

/// How many pages the write-ahead log grows by before the writer itself copies what is
/// left of them into the database file (SQLite's default is 1,000). Until then a reader
/// connection copies them, off the writer's path (see `checkpoint_beside_writer`).
const WRITER_CHECKPOINT_PAGES: &str = "10000";

/// The SQLite file, as the writer sees it.
pub(in crate::db) struct SqliteStore {
    pub(in crate::db) options: AnyConnectOptions,
    pub(in crate::db) file: PathBuf,
    pub(in crate::db) max_size: Option<u64>,
}

impl Store for SqliteStore {
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
        Box::pin(version::replace_and_commit(conn, Dialect::Sqlite, ""))
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
pub(in crate::db) struct PostgresStore {
    pub(in crate::db) options: AnyConnectOptions,
}

impl Store for PostgresStore {
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
    /// listener, this one's included, relays them to its subscribers. They are sent in the
    /// commit's round trip: the lot holds its row locks until the commit is done.
    fn commit<'a>(
        &'a self,
        conn: &'a mut AnyConnection,
        events: &'a [Event],
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let notify_sql = notify::announcements(events)?;
            version::replace_and_commit(conn, Dialect::Postgres, &notify_sql).await
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
    /// in the triggers' order (migrations/postgres/0005, 0009), and a lot of `addBook`s sorts
    /// them, so writes wait for each other's commits instead.
    fn one_write_per_transaction(&self) -> bool {
        true
    }
}
