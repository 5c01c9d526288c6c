//! CSV -> catalogue: every row goes through the same find-or-create as `addBook` (in
//! batches, see `db::bulk`), and the whole file is one transaction, so a bad row anywhere
//! leaves the database untouched.

use std::io::{self, Read};

use crate::book_entry::CatalogueEntry;
use crate::db::Db;
use crate::db::bulk::{BulkAdder, Created};
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

/// Longest record an import reads, in bytes, its line ending included. The longest valid
/// record is four names of at most 1,100 characters in all, under 4.5 KB of UTF-8 before
/// quoting; the rest is room for quotes and for white space that normalising removes.
pub const MAX_RECORD_BYTES: u64 = 64 * 1024;

/// Imports CSV from `input` into `db`, all or nothing.
#[tracing::instrument(skip_all)]
pub async fn import_csv(db: &Db, input: impl Read) -> Result<ImportSummary> {
    let mut reader = csv_reader(input);
    let header = reader.headers().map_err(csv_error)?;
    if header.iter().ne(HEADER) {
        return Err(Error::Csv {
            line: 1,
            message: format!("the header must be {}", HEADER.join(",")),
        });
    }
    let mut tx = db.begin_write().await?;
    let mut adder = BulkAdder::load(&mut tx).await?;
    let mut summary = ImportSummary::default();
    let mut batch = Vec::with_capacity(ENTRIES_PER_BATCH);
    let mut record = csv::StringRecord::new();
    loop {
        let more = next_record(&mut reader, &mut record)?;
        if more {
            batch.push(parse_record(&record)?);
        }
        if batch.len() == ENTRIES_PER_BATCH || (!more && !batch.is_empty()) {
            let created = adder.add(&mut tx, &batch).await?;
            summary.add(batch.len(), created);
            batch.clear();
        }
        if !more {
            break;
        }
    }
    adder.finish(&mut tx).await?;
    tx.commit().await?;
    Ok(summary)
}

fn csv_reader<R: Read>(input: R) -> csv::Reader<RecordBound<R>> {
    csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(RecordBound::new(input))
}

/// Reads the next record into `record`; `false` at the end of the input.
fn next_record<R: Read>(
    reader: &mut csv::Reader<RecordBound<R>>,
    record: &mut csv::StringRecord,
) -> Result<bool> {
    let start = reader.position().clone();
    reader.get_mut().record_starts(&start);
    reader.read_record(record).map_err(csv_error)
}

/// Entries resolved together: large enough to make multi-row inserts pay, small enough
/// to keep memory flat however long the file.
const ENTRIES_PER_BATCH: usize = 5000;

fn parse_record(record: &csv::StringRecord) -> Result<CatalogueEntry> {
    let line = record.position().map_or(0, csv::Position::line);
    CatalogueEntry::parse(&record[0], &record[1], &record[2], &record[3]).map_err(
        |(field, error)| Error::Csv {
            line,
            message: format!("{} {error}", field.csv_column()),
        },
    )
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
        csv::ErrorKind::Io(io) => match io.get_ref().and_then(|e| e.downcast_ref::<TooLong>()) {
            Some(TooLong { line }) => {
                return Error::Csv {
                    line: *line,
                    message: format!("the record is longer than {MAX_RECORD_BYTES} bytes"),
                };
            }
            None => io.to_string(),
        },
        _ => error.to_string(),
    };
    Error::Csv { line, message }
}

/// The import's input as the csv reader sees it, refusing to hand over more than
/// [`MAX_RECORD_BYTES`] of one record. The csv crate grows its record buffer until the record
/// ends, so a check on the parsed record would come only after a 1 GiB line was in memory
/// (5 GB at the peak, with the copies it makes); here it stops one byte past the bound.
struct RecordBound<R> {
    input: R,
    /// Bytes handed to the csv reader so far.
    read: u64,
    /// Where the record being parsed starts: its byte offset and line.
    start: (u64, u64),
}

impl<R> RecordBound<R> {
    fn new(input: R) -> Self {
        RecordBound {
            input,
            read: 0,
            start: (0, 1),
        }
    }

    /// Notes that the csv reader's next record starts at `position`.
    fn record_starts(&mut self, position: &csv::Position) {
        self.start = (position.byte(), position.line());
    }
}

impl<R: Read> Read for RecordBound<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // The csv reader asks for more only once it has parsed everything handed over so
        // far, so all of it since the record's start belongs to that record.
        // Handing over no more than one byte past the bound makes the bound exact: a record
        // that long is still unfinished when the reader comes back for more.
        let (byte, line) = self.start;
        let in_record = self.read.saturating_sub(byte);
        if in_record > MAX_RECORD_BYTES {
            return Err(io::Error::new(io::ErrorKind::InvalidData, TooLong { line }));
        }
        let room = usize::try_from(MAX_RECORD_BYTES + 1 - in_record).unwrap_or(usize::MAX);
        let len = buf.len().min(room);
        let read = self.input.read(&mut buf[..len])?;
        self.read += read as u64;
        Ok(read)
    }
}

/// A record longer than [`MAX_RECORD_BYTES`], starting on `line`.
#[derive(Debug, thiserror::Error)]
#[error("the record starting on line {line} is longer than {MAX_RECORD_BYTES} bytes")]
struct TooLong {
    line: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The records of `csv` after its header, or the first error.
    fn records(csv: &[u8]) -> Result<Vec<csv::StringRecord>> {
        let mut reader = csv_reader(csv);
        reader.headers().map_err(csv_error)?;
        let mut records = Vec::new();
        let mut record = csv::StringRecord::new();
        while next_record(&mut reader, &mut record)? {
            records.push(record.clone());
        }
        Ok(records)
    }

    #[test]
    fn a_record_within_the_bound_is_read_and_one_beyond_it_is_refused() {
        let row = |bytes: u64| {
            let title = "t".repeat(usize::try_from(bytes).unwrap() - "A,B,,P".len());
            format!("A,B,{title},P")
        };
        for end in ["\n", "\r\n"] {
            let at_bound = format!(
                "a,b,c,d\nA,B,C,P{end}{}{end}A,B,C,P{end}",
                row(MAX_RECORD_BYTES - 1)
            );
            assert_eq!(records(at_bound.as_bytes()).unwrap().len(), 3, "{end:?}");
            let beyond = format!("a,b,c,d\n{}{end}", row(MAX_RECORD_BYTES + 1));
            assert_eq!(
                records(beyond.as_bytes()).unwrap_err().to_string(),
                format!("line 2: the record is longer than {MAX_RECORD_BYTES} bytes"),
                "{end:?}"
            );
        }
    }

    #[test]
    fn a_quoted_record_over_many_lines_is_refused_by_the_line_it_starts_on() {
        let lines = "x\n".repeat(usize::try_from(MAX_RECORD_BYTES).unwrap());
        let csv = format!("a,b,c,d\nA,B,C,P\nA,B,\"{lines}\",P\n");
        assert_eq!(
            records(csv.as_bytes()).unwrap_err().to_string(),
            format!("line 3: the record is longer than {MAX_RECORD_BYTES} bytes")
        );
    }
}
