//! A write transaction as a write step sees it, and the building blocks of steps that
//! want a row found or created, or updated and announced. The writer begins and ends the
//! transaction (see `writer`); nothing here commits.

use std::sync::Arc;

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::QueryAs;
use sqlx::{Any, AnyConnection, FromRow};

use super::events::Event;
use super::sql::{Dialect, Sql};
use super::{DbStats, OperationScope};
use crate::error::Result;

/// A write transaction, as a write step sees it; the writer begins and ends it.
pub struct WriteTx {
    pub(super) conn: AnyConnection,
    /// The operation of the running step, whose statements these are.
    pub(super) scope: OperationScope,
    pub(super) stats: Arc<DbStats>,
    /// Whether anyone may hear of changes: changes go out through PostgreSQL to every
    /// replica, or someone subscribes here (a command-line import on SQLite collects
    /// nothing).
    pub(super) records_events: bool,
    /// Changes of the running step, announced after commit if it is kept.
    pub(super) pending: Vec<Event>,
    /// The SQL dialect of the connection.
    pub(super) dialect: Dialect,
}

impl WriteTx {
    /// The connection, counting the one statement about to run on it.
    pub(super) fn conn(&mut self) -> &mut AnyConnection {
        self.conn_for(1)
    }

    /// The connection, counting the `statements` about to run on it in one call.
    pub(super) fn conn_for(&mut self, statements: u64) -> &mut AnyConnection {
        self.scope.count_statements(statements);
        self.stats.count_statements(statements);
        &mut self.conn
    }

    /// Notes a change to announce after commit.
    pub(super) fn record(&mut self, event: Event) {
        if self.records_events {
            self.pending.push(event);
        }
    }
}

/// Runs `update`, which returns the row as it is now, and announces that row with `changed`
/// unless it equals `before`: a rename to the same spelling changes nothing.
pub(super) async fn update_row<R>(
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
pub(super) async fn find_or_insert(
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
