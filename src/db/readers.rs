//! The reader connections, lent one statement at a time.
//!
//! On SQLite, readers are lent from a list of our own rather than from sqlx's pool. The pool
//! tests every connection it takes back with a round trip to the connection's worker
//! thread, from a task spawned for it: after every statement, two more hand-offs between
//! threads than the statement itself needs, a third of the work of a point lookup. A
//! reader never holds a transaction, so a connection whose statement was abandoned halfway
//! is fit for the next one as it is: its worker finishes with the abandoned statement
//! before it takes the next.
//!
//! PostgreSQL readers stay in sqlx's pool, whose test on release is what finds connections
//! the server has dropped, and drains a statement abandoned halfway.

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, PoisonError};

use sqlx::any::AnyConnectOptions;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, ConnectOptions as _, Connection as _};
use tokio::sync::{Semaphore, SemaphorePermit};

use super::sqlite::{pragma, sqlite_pragmas};

/// Where readers come from.
#[derive(Clone, Debug)]
pub(super) enum Readers {
    Sqlite(Arc<Lender>),
    Postgres(AnyPool),
}

/// One reader, for one statement; it goes back when dropped.
pub(super) enum Reader<'a> {
    Lent(Lent<'a>),
    Pooled(PoolConnection<Any>),
}

impl Readers {
    /// A reader, once one is free.
    pub(super) async fn reader(&self) -> sqlx::Result<Reader<'_>> {
        match self {
            Readers::Sqlite(lender) => Ok(Reader::Lent(lender.lend().await?)),
            Readers::Postgres(pool) => Ok(Reader::Pooled(pool.acquire().await?)),
        }
    }

    /// Readers busy with a statement now.
    pub(super) fn busy(&self) -> u32 {
        match self {
            Readers::Sqlite(lender) => lender.busy(),
            Readers::Postgres(pool) => pool
                .size()
                .saturating_sub(u32::try_from(pool.num_idle()).unwrap_or(u32::MAX)),
        }
    }

    /// Whether [`Readers::close`] has been called.
    pub(super) fn is_closed(&self) -> bool {
        match self {
            Readers::Sqlite(lender) => lender.permits.is_closed(),
            Readers::Postgres(pool) => pool.is_closed(),
        }
    }

    /// Lends no more readers, waits for those lent, and closes every connection.
    pub(super) async fn close(&self) {
        match self {
            Readers::Sqlite(lender) => lender.close().await,
            Readers::Postgres(pool) => pool.close().await,
        }
    }
}

impl Deref for Reader<'_> {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        match self {
            Reader::Lent(lent) => lent
                .conn
                .as_ref()
                .expect("a lent reader has its connection"),
            Reader::Pooled(conn) => conn,
        }
    }
}

impl DerefMut for Reader<'_> {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match self {
            Reader::Lent(lent) => lent
                .conn
                .as_mut()
                .expect("a lent reader has its connection"),
            Reader::Pooled(conn) => conn,
        }
    }
}

/// How much of the database file readers map into memory: 256 MiB. Mapped pages are read
/// in place and shared by all readers (and with the OS's cache), where each reader's own
/// page cache would copy them, once per reader.
const MMAP_BYTES: &str = "268435456";

/// Up to `size` SQLite connections, opened as first needed and then kept.
pub(super) struct Lender {
    options: AnyConnectOptions,
    idle: Mutex<Vec<AnyConnection>>,
    permits: Semaphore,
    size: u32,
}

impl std::fmt::Debug for Lender {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Lender")
            .field("size", &self.size)
            .field("busy", &self.busy())
            .finish_non_exhaustive()
    }
}

/// A connection lent for one statement.
pub(super) struct Lent<'a> {
    conn: Option<AnyConnection>,
    idle: &'a Mutex<Vec<AnyConnection>>,
    _permit: SemaphorePermit<'a>,
}

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(conn);
        }
    }
}

impl Lender {
    /// Lends up to `size` connections to the SQLite database `options` name.
    pub(super) fn new(options: AnyConnectOptions, size: u32) -> Lender {
        Lender {
            options,
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(size as usize),
            size,
        }
    }

    async fn lend(&self) -> sqlx::Result<Lent<'_>> {
        let permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| sqlx::Error::PoolClosed)?;
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let conn = match idle {
            Some(conn) => conn,
            None => self.open().await?,
        };
        Ok(Lent {
            conn: Some(conn),
            idle: &self.idle,
            _permit: permit,
        })
    }

    async fn open(&self) -> sqlx::Result<AnyConnection> {
        let mut conn = self.options.connect().await?;
        sqlite_pragmas(&mut conn).await?;
        pragma(&mut conn, "mmap_size", MMAP_BYTES).await?;
        Ok(conn)
    }

    fn busy(&self) -> u32 {
        self.size
            .saturating_sub(u32::try_from(self.permits.available_permits()).unwrap_or(u32::MAX))
    }

    async fn close(&self) {
        // Every permit taken back means every connection is idle again.
        let all = self.permits.acquire_many(self.size).await;
        self.permits.close();
        drop(all);
        let idle = std::mem::take(&mut *self.idle.lock().unwrap_or_else(PoisonError::into_inner));
        for conn in idle {
            if let Err(error) = conn.close().await {
                tracing::debug!(%error, "a reader did not close cleanly");
            }
        }
    }
}
