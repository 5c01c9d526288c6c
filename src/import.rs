//! CSV -> catalogue: every row goes through the same find-or-create as `addBook` (in
//! batches, see `db::bulk`), and the whole file is one transaction, so a bad row anywhere
//! leaves the database untouched.

use std::io::Read;

use tokio::sync::mpsc;

use crate::book_entry::BookEntry;
use crate::db::bulk::{BulkAdder, Created};
use crate::db::{Db, WriteTx};
use crate::error::{Error, Result};

/// The header every catalogue CSV starts with, in this order.
pub const HEADER: [&str; 4] = ["first_name", "last_name", "title", "publisher"];

/// What an import created; rows that matched existing data count nowhere.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// Data rows read.
    pub rows: u64,
    /// New authors.
    pub authors: u64,
    /// New books.
    pub books: u64,
    /// New publishers.
    pub publishers: u64,
    /// New book–publisher links.
    pub links: u64,
}

impl std::fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} rows: created {} authors, {} books, {} publishers, {} links",
            self.rows, self.authors, self.books, self.publishers, self.links
        )
    }
}

/// Imports CSV from `input` into `db`, all or nothing.
///
/// The file is read and checked here, a batch at a time, while the writer adds the batches
/// in one transaction: a bad line anywhere rolls back everything before it.
#[tracing::instrument(skip_all)]
pub async fn import_csv(db: &Db, input: impl Read) -> Result<ImportSummary> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(input);
    let header = reader.headers().map_err(csv_error)?;
    if header.iter().ne(HEADER) {
        return Err(Error::Csv {
            line: 1,
            message: format!("the header must be {}", HEADER.join(",")),
        });
    }
    let (batches, incoming) = mpsc::channel(1);
    let written = db.write(move |tx| Box::pin(add_batches(tx, incoming)));
    let (written, ()) = tokio::join!(written, send_batches(reader, batches));
    written
}

/// Parses `reader`'s records into batches for [`add_batches`], stopping at the first bad
/// one (sent as the last batch) or when the writer stops listening.
async fn send_batches(
    reader: csv::Reader<impl Read>,
    batches: mpsc::Sender<Result<Vec<BookEntry>>>,
) {
    let mut batch = Vec::with_capacity(ENTRIES_PER_BATCH);
    for record in reader.into_records() {
        match record
            .map_err(csv_error)
            .and_then(|record| parse_record(&record))
        {
            Ok(entry) => batch.push(entry),
            Err(error) => {
                let _ = batches.send(Err(error)).await;
                return;
            }
        }
        if batch.len() == ENTRIES_PER_BATCH {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(ENTRIES_PER_BATCH));
            if batches.send(Ok(full)).await.is_err() {
                return;
            }
        }
    }
    if !batch.is_empty() {
        let _ = batches.send(Ok(batch)).await;
    }
}

/// Adds every batch that arrives, in one write transaction.
async fn add_batches(
    tx: &mut WriteTx,
    mut incoming: mpsc::Receiver<Result<Vec<BookEntry>>>,
) -> Result<ImportSummary> {
    let mut adder = BulkAdder::load(tx).await?;
    let mut summary = ImportSummary::default();
    while let Some(batch) = incoming.recv().await {
        let batch = batch?;
        let created = adder.add(tx, &batch).await?;
        summary.add(batch.len(), created);
    }
    adder.finish(tx).await?;
    Ok(summary)
}

/// Entries resolved together: large enough to make multi-row inserts pay, small enough
/// to keep memory flat however long the file.
const ENTRIES_PER_BATCH: usize = 5000;

fn parse_record(record: &csv::StringRecord) -> Result<BookEntry> {
    let line = record.position().map_or(0, csv::Position::line);
    BookEntry::parse(&record[0], &record[1], &record[2], &record[3]).map_err(|(field, error)| {
        Error::Csv {
            line,
            message: format!("{} {error}", field.csv_column()),
        }
    })
}

impl ImportSummary {
    fn add(&mut self, rows: usize, created: Created) {
        self.rows += rows as u64;
        self.authors += created.authors;
        self.books += created.books;
        self.publishers += created.publishers;
        self.links += created.links;
    }
}

/// The csv crate's errors carry the line they happened on; keep it in front.
fn csv_error(error: csv::Error) -> Error {
    let line = error.position().map_or(0, csv::Position::line);
    let message = match error.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => {
            format!("expected {expected_len} fields, found {len}")
        }
        csv::ErrorKind::Utf8 { .. } => "not valid UTF-8".to_owned(),
        csv::ErrorKind::Io(io) => io.to_string(),
        _ => error.to_string(),
    };
    Error::Csv { line, message }
}
