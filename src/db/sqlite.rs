//! What bookgraph's SQLite connections share, readers and writer alike: the pragmas they
//! run with, the result codes we act on, and the checks that a file is a database we may
//! write. Nothing here opens a pool or knows about the writer.

use std::path::Path;

use sqlx::AnyConnection;

use super::BUSY_TIMEOUT;
use crate::error::Result;

/// What every SQLite connection of ours runs with.
pub(super) async fn sqlite_pragmas(conn: &mut AnyConnection) -> sqlx::Result<()> {
    // sqlx leaves SQLite in rollback-journal mode unless asked; WAL lets readers run
    // alongside the writer. In WAL mode synchronous=NORMAL never corrupts the database; a
    // power cut may lose the last commits, a process crash loses nothing.
    pragma(conn, "journal_mode", "wal").await?;
    pragma(conn, "synchronous", "normal").await?;
    pragma(conn, "foreign_keys", "on").await?;
    pragma(conn, "busy_timeout", &BUSY_TIMEOUT.as_millis().to_string()).await
}

pub(super) async fn pragma(conn: &mut AnyConnection, name: &str, value: &str) -> sqlx::Result<()> {
    let statement = format!("pragma {name} = {value}");
    sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
        .execute(conn)
        .await?;
    Ok(())
}

// SQLite's primary result codes (https://sqlite.org/rescode.html).
pub(super) const SQLITE_BUSY: i32 = 5;
pub(super) const SQLITE_LOCKED: i32 = 6;
pub(super) const SQLITE_READONLY: i32 = 8;
pub(super) const SQLITE_IOERR: i32 = 10;
pub(super) const SQLITE_FULL: i32 = 13;
pub(super) const SQLITE_CANTOPEN: i32 = 14;

/// The primary result code of an SQLite error: the low byte of its extended code.
pub(super) fn sqlite_result_code(error: &sqlx::Error) -> Option<i32> {
    let sqlx::Error::Database(error) = error else {
        return None;
    };
    Some(error.code()?.parse::<i32>().ok()? & 0xff)
}

/// Whether SQLite lets `conn` write: a file it may only read (opened with `mode=ro`, or
/// without write permission) opens fine and fails only at the first write.
pub(super) async fn sqlite_writable(conn: &mut AnyConnection) -> Result<bool> {
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

/// Fails unless the file at `path` starts with the header of an SQLite 3 database.
pub(super) fn check_header(path: &Path) -> std::io::Result<()> {
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
