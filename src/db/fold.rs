//! Folds PostgreSQL's count parts into their rows' columns while a replica writes
//! (`fold_count_parts`, migrations/postgres/0009), so that an ordering by a count reads its
//! rows through the columns' indexes and adds up the parts of few rows
//! ([`super::pages::CountParts`]).

use std::sync::Arc;
use std::time::Duration;

use sqlx::AnyPool;

use super::{DbStats, FOLD_LOCK, WRITE_LOCK};

/// How often [`fold_beside_writer`] looks for commits whose parts to fold.
const FOLD_EVERY: Duration = Duration::from_secs(1);

/// Folds the parts every [`FOLD_EVERY`] while this replica commits writes, on a reader of
/// `pool`; ends when the pool closes.
pub(super) async fn fold_beside_writer(pool: AnyPool, stats: Arc<DbStats>) {
    let mut folded = 0;
    while !pool.is_closed() {
        tokio::time::sleep(FOLD_EVERY).await;
        let commits = stats.commits.get();
        if commits == folded {
            continue;
        }
        // One replica folds at a time ([`FOLD_LOCK`]). Parts left unfolded (the lock taken
        // elsewhere, on a standby, over a lost connection) cost reads a little time, never a
        // wrong count: the views add them up. They are tried again at the next turn.
        match sqlx::query_scalar::<_, bool>("select fold_count_parts($1, $2)")
            .bind(WRITE_LOCK)
            .bind(FOLD_LOCK)
            .fetch_one(&pool)
            .await
        {
            Ok(true) => folded = commits,
            Ok(false) => {}
            Err(error) => tracing::debug!(%error, "count parts not folded"),
        }
    }
}
