//! Process-wide statistics of the data layer, for `/metrics`.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::metrics::{Histogram, single};

/// Batch sizes worth telling apart, from single lookups to the largest batch allowed.
const BATCH_BOUNDS: &[f64] = &[
    1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 500.0, 1000.0, 10000.0,
];

/// What the data layer has done since the process started.
#[derive(Debug)]
pub struct DbStats {
    pub(super) statements: AtomicU64,
    /// Write transactions committed.
    pub(super) commits: AtomicU64,
    batch_sizes: Histogram,
}

impl Default for DbStats {
    fn default() -> Self {
        DbStats {
            statements: AtomicU64::new(0),
            commits: AtomicU64::new(0),
            batch_sizes: Histogram::new(BATCH_BOUNDS),
        }
    }
}

impl DbStats {
    /// Records the number of keys one DataLoader batch looked up.
    pub fn observe_batch(&self, keys: usize) {
        #[expect(
            clippy::cast_precision_loss,
            reason = "batches are far below 2^52 keys"
        )]
        self.batch_sizes.observe(keys as f64);
    }

    /// Appends the statistics in Prometheus' text format.
    pub fn write(&self, out: &mut String) {
        single(
            out,
            "bookgraph_sql_statements_total",
            "SQL statements executed.",
            "counter",
            self.statements.load(Ordering::Relaxed),
        );
        self.batch_sizes.write(
            out,
            "bookgraph_dataloader_batch_size",
            "Keys per DataLoader batch.",
        );
    }
}
