//! The catalogue's data version: a token that every write transaction replaces just before
//! it commits, in the same transaction, so that a reader can tell whether the catalogue
//! changed since it last looked, whoever wrote (this server, `bookgraph import` in another
//! process, another replica). HTTP caching builds its ETags on it; nothing else reads it.
//!
//! Replaced in the writer's commit path rather than by triggers on every table: one
//! statement per transaction instead of one per row written (an import writes millions),
//! and every write of ours goes through the writer. Writes made behind bookgraph's back
//! (an `sqlite3` session) do not change it.
//!
//! On PostgreSQL the token is sixteen, one replaced per transaction, so that replicas'
//! commits do not queue on one row's lock (migrations/postgres/0006).

use sqlx::{AnyConnection, AssertSqlSafe};

use super::Db;
use super::sql::Dialect;
use crate::error::Result;

/// Runs `before_commit` (statements, each ending in `;`), gives the data version a new
/// random token and commits, in one round trip to the connection: in the write transaction,
/// so the token changes exactly when, and only if, the transaction's changes are committed.
/// When any of it fails, nothing is committed and the transaction stays open.
pub(super) async fn replace_and_commit(
    conn: &mut AnyConnection,
    dialect: Dialect,
    before_commit: &str,
) -> Result<()> {
    let replace = match dialect {
        Dialect::Sqlite => "update data_version set token = lower(hex(randomblob(16)))",
        // One row of the sixteen (migrations/postgres/0006), drawn once for the statement.
        Dialect::Postgres => {
            "update data_version set token = gen_random_uuid()::text
             where id = (select 1 + floor(random() * 16)::integer)"
        }
    };
    sqlx::raw_sql(AssertSqlSafe(format!("{before_commit}{replace}; commit")))
        .execute(conn)
        .await?;
    Ok(())
}

impl Db {
    /// The catalogue's data version now. A response built from reads that all began after
    /// this was read reflects the catalogue at this version, or at a later one, in which
    /// case the version has changed by the time anyone asks again.
    pub async fn data_version(&self) -> Result<String> {
        let read = match self.dialect() {
            Dialect::Sqlite => "select token from data_version",
            Dialect::Postgres => "select md5(string_agg(token, ',' order by id)) from data_version",
        };
        let token = sqlx::query_scalar(read)
            .fetch_one(&mut *self.read().await?)
            .await?;
        Ok(token)
    }
}
