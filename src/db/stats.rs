//! Process-wide statistics of the data layer, for `/metrics`.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Batch sizes worth telling apart, from single lookups to the largest batch allowed.
const BATCH_BOUNDS: [f64; 10] = [
    1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 500.0, 1000.0, 10000.0,
];

/// What the data layer has done since the process started.
#[derive(Debug)]
pub struct DbStats {
    statements: Counter,
    /// Write transactions committed, including those whose writes all failed (they commit
    /// the data version alone). Beside the mutations' count it tells how many writes a
    /// transaction holds; SQLite's checkpointer and PostgreSQL's fold of count parts watch
    /// it for new commits.
    pub(super) commits: Counter,
    batch_sizes: Histogram,
}

impl Default for DbStats {
    fn default() -> Self {
        DbStats {
            statements: Counter::default(),
            commits: Counter::default(),
            batch_sizes: Histogram::new(BATCH_BOUNDS),
        }
    }
}

impl DbStats {
    /// Counts `statements` SQL statements executed.
    pub(super) fn count_statements(&self, statements: u64) {
        self.statements.inc_by(statements);
    }

    /// Records the number of ids bound to one batched lookup statement.
    pub fn observe_batch(&self, ids: usize) {
        #[expect(clippy::cast_precision_loss, reason = "batches are far below 2^52 ids")]
        self.batch_sizes.observe(ids as f64);
    }

    /// Registers the statistics with `registry`; they keep counting into it.
    pub fn register(&self, registry: &mut Registry) {
        // prometheus-client adds `_total` to a counter's name and a full stop to its help.
        registry.register(
            "bookgraph_sql_statements",
            "SQL statements executed",
            self.statements.clone(),
        );
        registry.register(
            "bookgraph_write_transactions",
            "Write transactions committed, each with one write or a group of them",
            self.commits.clone(),
        );
        registry.register(
            "bookgraph_dataloader_batch_size",
            "Ids bound to one batched lookup statement",
            self.batch_sizes.clone(),
        );
    }
}
