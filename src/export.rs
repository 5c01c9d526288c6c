//! Catalogue -> CSV in the import format, so an export imports back unchanged.

use std::io::Write;

use crate::db::Db;
use crate::db::export::for_each_flat_row;
use crate::error::{Error, Result};
use crate::import::HEADER;

/// Writes the catalogue as CSV (header first, RFC 4180 quoting) to `output`, calling
/// `progress` after each row; returns the number of data rows.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn export_csv(db: &Db, output: impl Write, mut progress: impl FnMut()) -> Result<u64> {
    let mut writer = csv::Writer::from_writer(output);
    writer.write_record(HEADER).map_err(write_error)?;
    let mut rows = 0;
    for_each_flat_row(db, |row| {
        writer
            .write_record([&row.first_name, &row.last_name, &row.title, &row.publisher])
            .map_err(write_error)?;
        rows += 1;
        progress();
        Ok(())
    })
    .await?;
    writer.flush()?;
    Ok(rows)
}

fn write_error(error: csv::Error) -> Error {
    match error.into_kind() {
        csv::ErrorKind::Io(io) => Error::Io(io),
        other => Error::CsvWrite(format!("{other:?}")),
    }
}
