//! What one GraphQL operation has taken from the database: the statements it ran, and the
//! rows its nested lists read against [`MAX_ROWS_PER_REQUEST`]. Nothing here touches a
//! connection; the handle that runs the statements counts them in.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

/// Rows one request may read through nested lists.
pub const MAX_ROWS_PER_REQUEST: u64 = 100_000;

/// The statement count and row budget of one operation, shared by every clone.
///
/// Created once per operation by [`crate::graphql::BookSchema::operation`], which both
/// transports go through, and attached to the operation's [`super::Db`] with
/// [`super::Db::in_scope`]: the loaders, resolvers and writes of the operation all count
/// into it, and nobody else's statements do.
#[derive(Clone, Debug, Default)]
pub struct OperationScope(Arc<Taken>);

#[derive(Debug, Default)]
struct Taken {
    statements: AtomicU64,
    /// Rows the operation's one-to-many lookups returned.
    rows: AtomicU64,
}

impl OperationScope {
    /// How many statements the operation has run (its writes included).
    pub fn statement_count(&self) -> u64 {
        self.0.statements.load(Ordering::Relaxed)
    }

    /// Charges `rows` to the operation's read budget; past [`MAX_ROWS_PER_REQUEST`] the
    /// operation is refused. Nested lists without `first` have no size of their own, so
    /// this is what stops `books { publishers { books … } }` from fanning out over the
    /// whole catalogue again and again.
    pub fn charge_rows(&self, rows: usize) -> Result<()> {
        let rows = rows as u64;
        let total = self.0.rows.fetch_add(rows, Ordering::Relaxed) + rows;
        if total > MAX_ROWS_PER_REQUEST {
            return Err(Error::TooLarge(format!(
                "the request reads more than {MAX_ROWS_PER_REQUEST} rows; ask for fewer with `first`"
            )));
        }
        Ok(())
    }

    /// Starts the statement count and the row budget again from zero: a subscription is
    /// one operation, and each of its events is a read of its own.
    pub fn restart(&self) {
        self.0.statements.store(0, Ordering::Relaxed);
        self.0.rows.store(0, Ordering::Relaxed);
    }

    /// Counts `statements` more run for the operation.
    pub(super) fn count_statements(&self, statements: u64) {
        self.0.statements.fetch_add(statements, Ordering::Relaxed);
    }
}
