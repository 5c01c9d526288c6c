//! The catalogue as commands reach it: opened from the database flags, and loaded from a
//! CSV file. `serve` and the one-shot commands share these steps.

use std::path::Path;

use anyhow::Context as _;

use super::DatabaseArgs;
use super::progress::progress_bar;
use super::redact::without_password;
use crate::db::{Db, OpenOptions};
use crate::import::{ImportSummary, import_csv};

/// Opens the catalogue; only commands that write may create it.
pub(super) async fn open(database: &DatabaseArgs, create: bool) -> anyhow::Result<Db> {
    let options = OpenOptions {
        must_exist: !create,
        readers: database.pool_size,
        max_size: database.max_database_mib.map(|mib| mib << 20),
    };
    Db::open_with(&database.url, options)
        .await
        .with_context(|| format!("opening database {}", without_password(&database.url)))
}

/// Loads the CSV file at `path` into `db`, all rows or none, with a progress bar.
pub(super) async fn import_file(db: &Db, path: &Path) -> anyhow::Result<ImportSummary> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let size = file.metadata().map(|metadata| metadata.len()).unwrap_or(0);
    let bar = progress_bar(size, "importing {bar:40} {bytes}/{total_bytes} {eta}");
    let summary = import_csv(db, std::io::BufReader::new(bar.wrap_read(file)))
        .await
        .with_context(|| format!("importing {}", path.display()));
    bar.finish_and_clear();
    summary
}
