//! CSV -> catalogue: every row goes through the same find-or-create as `addBook` (in
//! batches, see `db::bulk`), and the whole file is one transaction, so a bad row anywhere
//! leaves the database untouched.

use std::collections::VecDeque;
use std::io::{self, Read};

use tokio::sync::mpsc;

use crate::book_entry::CatalogueEntry;
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

/// Longest record an import reads, in bytes, its line ending included. The longest valid
/// record is four names of at most 1,100 characters in all, under 4.5 KB of UTF-8 before
/// quoting; the rest is room for quotes and for white space that normalising removes.
pub const MAX_RECORD_BYTES: u64 = 64 * 1024;

/// Imports CSV from `input` into `db`, all or nothing.
///
/// The file is read and checked here, a batch at a time, while the writer adds the batches
/// in one transaction: a bad line anywhere rolls back everything before it.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn import_csv(db: &Db, input: impl Read) -> Result<ImportSummary> {
    let mut reader = csv_reader(input);
    let header = reader.headers().map_err(|error| csv_error(error, 1))?;
    if header.iter().ne(HEADER) {
        return Err(Error::Csv {
            line: 1,
            message: format!("the header must be {}", HEADER.join(",")),
        });
    }
    let (batches, incoming) = mpsc::channel(1);
    let written = db.write_alone(move |tx| Box::pin(add_batches(tx, incoming)));
    let (written, ()) = tokio::join!(written, send_batches(reader, batches));
    written
}

/// What the reader of the file hands the writer.
enum Batch {
    Entries(Vec<CatalogueEntry>),
    /// The whole file was read: only then may the import commit.
    End,
}

/// Parses `reader`'s records into batches for [`add_batches`], stopping at the first bad
/// one (sent as the last batch) or when the writer stops listening.
async fn send_batches<R: Read>(
    mut reader: csv::Reader<CsvInput<R>>,
    batches: mpsc::Sender<Result<Batch>>,
) {
    let mut batch = Vec::with_capacity(ENTRIES_PER_BATCH);
    let mut record = csv::StringRecord::new();
    loop {
        let entry = next_record(&mut reader, &mut record).and_then(|more| {
            more.then(|| parse_record(&record, reader.get_ref().line()))
                .transpose()
        });
        let more = match entry {
            Ok(Some(entry)) => {
                batch.push(entry);
                true
            }
            Ok(None) => false,
            Err(error) => {
                let _ = batches.send(Err(error)).await;
                return;
            }
        };
        if batch.len() == ENTRIES_PER_BATCH || (!more && !batch.is_empty()) {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(ENTRIES_PER_BATCH));
            if batches.send(Ok(Batch::Entries(full))).await.is_err() {
                return;
            }
        }
        if !more {
            let _ = batches.send(Ok(Batch::End)).await;
            return;
        }
    }
}

/// Adds every batch that arrives, in one write transaction.
async fn add_batches(
    tx: &mut WriteTx,
    mut incoming: mpsc::Receiver<Result<Batch>>,
) -> Result<ImportSummary> {
    let mut adder = BulkAdder::load(tx).await?;
    let mut summary = ImportSummary::default();
    loop {
        // A reader that stops without saying the file ended (it panicked) must not leave
        // half a file committed.
        let batch = incoming.recv().await.unwrap_or(Err(Error::Internal(
            "the import stopped before the end of its file",
        )))?;
        match batch {
            Batch::Entries(entries) => {
                let created = adder.add(tx, &entries).await?;
                summary.add(entries.len(), created);
            }
            Batch::End => break,
        }
    }
    adder.finish(tx).await?;
    Ok(summary)
}

fn csv_reader<R: Read>(input: R) -> csv::Reader<CsvInput<R>> {
    csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(CsvInput::new(input))
}

/// Reads the next record into `record`; `false` at the end of the input.
fn next_record<R: Read>(
    reader: &mut csv::Reader<CsvInput<R>>,
    record: &mut csv::StringRecord,
) -> Result<bool> {
    let start = reader.position().byte();
    reader.get_mut().record_starts(start);
    let line = reader.get_ref().line();
    reader
        .read_record(record)
        .map_err(|error| csv_error(error, line))
}

/// Entries resolved together: large enough to make multi-row inserts pay, small enough
/// to keep memory flat however long the file.
const ENTRIES_PER_BATCH: usize = 5000;

/// The entry `record`, which starts on `line`, describes.
fn parse_record(record: &csv::StringRecord, line: u64) -> Result<CatalogueEntry> {
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

/// `error`, which the record starting on `line` caused. The csv crate's own positions are
/// not used: after a record ended by `\r\n` they name the line before.
fn csv_error(error: csv::Error, line: u64) -> Error {
    let message = match error.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => {
            format!("expected {expected_len} fields, found {len}")
        }
        csv::ErrorKind::Utf8 { .. } => "not valid UTF-8".to_owned(),
        csv::ErrorKind::Io(io) if io.get_ref().is_some_and(|e| e.is::<TooLong>()) => {
            format!("the record is longer than {MAX_RECORD_BYTES} bytes")
        }
        csv::ErrorKind::Io(io) => io.to_string(),
        _ => error.to_string(),
    };
    Error::Csv { line, message }
}

/// The import's input as the csv reader sees it: it refuses to hand over more than
/// [`MAX_RECORD_BYTES`] of one record, and knows the line each record starts on.
///
/// The csv crate grows its record buffer until the record ends, so a check on the parsed
/// record would come only after a 1 GiB line was in memory (5 GB at the peak, with the
/// copies it makes); here it stops one byte past the bound.
struct CsvInput<R> {
    input: R,
    /// Bytes handed to the csv reader so far.
    read: u64,
    /// Offsets of the line feeds handed over at or after the current record's start.
    line_feeds: VecDeque<u64>,
    /// Line feeds before the current record's start.
    lines_before: u64,
    /// Where the current record starts: its byte offset and line.
    start: (u64, u64),
}

impl<R> CsvInput<R> {
    fn new(input: R) -> Self {
        CsvInput {
            input,
            read: 0,
            line_feeds: VecDeque::new(),
            lines_before: 0,
            start: (0, 1),
        }
    }

    /// Notes that the csv reader's next record starts at byte `start`.
    fn record_starts(&mut self, start: u64) {
        while self.line_feeds.front().is_some_and(|&at| at < start) {
            self.line_feeds.pop_front();
            self.lines_before += 1;
        }
        // csv ends a record at the `\r` of `\r\n` and leaves the `\n` to the next one.
        let leftover = self.line_feeds.front() == Some(&start);
        self.start = (start, self.lines_before + 1 + u64::from(leftover));
    }

    /// The line the current record starts on.
    fn line(&self) -> u64 {
        self.start.1
    }
}

impl<R: Read> Read for CsvInput<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // The csv reader asks for more only once it has parsed everything handed over so
        // far, so all of it since the record's start belongs to that record.
        // Handing over no more than one byte past the bound makes the bound exact: a record
        // that long is still unfinished when the reader comes back for more.
        let in_record = self.read.saturating_sub(self.start.0);
        if in_record > MAX_RECORD_BYTES {
            return Err(io::Error::new(io::ErrorKind::InvalidData, TooLong));
        }
        let room = usize::try_from(MAX_RECORD_BYTES + 1 - in_record).unwrap_or(usize::MAX);
        let len = buf.len().min(room);
        let read = self.input.read(&mut buf[..len])?;
        let handed = &buf[..read];
        let offset = self.read;
        self.line_feeds.extend(
            (0..read)
                .filter(|&at| handed[at] == b'\n')
                .map(|at| offset + at as u64),
        );
        self.read += read as u64;
        Ok(read)
    }
}

/// A record longer than [`MAX_RECORD_BYTES`].
#[derive(Debug, thiserror::Error)]
#[error("a record is longer than {MAX_RECORD_BYTES} bytes")]
struct TooLong;

#[cfg(test)]
mod tests {
    use super::*;

    /// The records of `csv` after its header, or the first error.
    fn records(csv: &[u8]) -> Result<Vec<csv::StringRecord>> {
        let mut reader = csv_reader(csv);
        reader.headers().map_err(|error| csv_error(error, 1))?;
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
    fn each_record_knows_its_line_whatever_the_line_endings() {
        for end in ["\n", "\r\n"] {
            let csv = format!("a,b,c,d{end}A,B,C,P{end}A,B,\"two{end}lines\",P{end}A,B,C,P{end}");
            let mut reader = csv_reader(csv.as_bytes());
            reader.headers().unwrap();
            let mut record = csv::StringRecord::new();
            let mut lines = Vec::new();
            while next_record(&mut reader, &mut record).unwrap() {
                lines.push(reader.get_ref().line());
            }
            assert_eq!(lines, [2, 3, 5], "{end:?}");
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
