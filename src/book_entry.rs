//! A book as one CSV row or one `addBook` call describes it: author, title, publisher; and
//! the other rows a catalogue CSV holds. Parsing here is the only gate between raw text and
//! the find-or-create logic.

use crate::names::{MAX_NAME_CHARS, MAX_TITLE_CHARS, Name, NameError};

/// A validated request to record that an author's book is published by a publisher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookEntry {
    /// The author's first name.
    pub author_first_name: Name,
    /// The author's last name.
    pub author_last_name: Name,
    /// The book's title.
    pub title: Name,
    /// The publisher's name.
    pub publisher_name: Name,
}

/// The four parts of a [`BookEntry`], to name the one that failed to parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryField {
    /// `authorFirstName` / `first_name`.
    AuthorFirstName,
    /// `authorLastName` / `last_name`.
    AuthorLastName,
    /// `title` / `title`.
    Title,
    /// `publisherName` / `publisher`.
    PublisherName,
}

impl EntryField {
    /// The field's name in the GraphQL `AddBookInput`.
    pub fn input_name(self) -> &'static str {
        match self {
            EntryField::AuthorFirstName => "authorFirstName",
            EntryField::AuthorLastName => "authorLastName",
            EntryField::Title => "title",
            EntryField::PublisherName => "publisherName",
        }
    }

    /// The field's column in the CSV header.
    pub fn csv_column(self) -> &'static str {
        match self {
            EntryField::AuthorFirstName => "first_name",
            EntryField::AuthorLastName => "last_name",
            EntryField::Title => "title",
            EntryField::PublisherName => "publisher",
        }
    }
}

/// Which part of an entry is unusable, and why.
pub type EntryError = (EntryField, NameError);

/// `raw` as the name in `field`, or why it cannot be.
fn part(field: EntryField, raw: &str, max: usize) -> Result<Name, EntryError> {
    Name::parse(raw, max).map_err(|error| (field, error))
}

impl BookEntry {
    /// Normalises and checks each part; the first unusable part is reported.
    pub fn parse(
        author_first_name: &str,
        author_last_name: &str,
        title: &str,
        publisher_name: &str,
    ) -> Result<BookEntry, EntryError> {
        Ok(BookEntry {
            author_first_name: part(
                EntryField::AuthorFirstName,
                author_first_name,
                MAX_NAME_CHARS,
            )?,
            author_last_name: part(EntryField::AuthorLastName, author_last_name, MAX_NAME_CHARS)?,
            title: part(EntryField::Title, title, MAX_TITLE_CHARS)?,
            publisher_name: part(EntryField::PublisherName, publisher_name, MAX_NAME_CHARS)?,
        })
    }
}

/// One row of a catalogue CSV. Most rows are books; authors and publishers without books
/// (which `createAuthor`, `createPublisher` and cascading deletes leave) get rows of their
/// own, so that an export holds the whole catalogue and imports back into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogueEntry {
    /// A book, as `addBook` records it.
    Book(BookEntry),
    /// An author alone: title and publisher empty.
    Author {
        /// The author's first name.
        first_name: Name,
        /// The author's last name.
        last_name: Name,
    },
    /// A publisher alone: every other field empty.
    Publisher(Name),
}

impl CatalogueEntry {
    /// Reads a CSV row's fields. Any other combination of empty fields is read as a book,
    /// and its first empty part reported.
    pub fn parse(
        first_name: &str,
        last_name: &str,
        title: &str,
        publisher: &str,
    ) -> Result<CatalogueEntry, EntryError> {
        let blank = |raw: &str| raw.trim().is_empty();
        let no_author = blank(first_name) && blank(last_name);
        match (no_author, blank(title), blank(publisher)) {
            (false, true, true) => Ok(CatalogueEntry::Author {
                first_name: part(EntryField::AuthorFirstName, first_name, MAX_NAME_CHARS)?,
                last_name: part(EntryField::AuthorLastName, last_name, MAX_NAME_CHARS)?,
            }),
            (true, true, false) => Ok(CatalogueEntry::Publisher(part(
                EntryField::PublisherName,
                publisher,
                MAX_NAME_CHARS,
            )?)),
            _ => {
                BookEntry::parse(first_name, last_name, title, publisher).map(CatalogueEntry::Book)
            }
        }
    }

    /// The first and last name of the author the row names, if it names one.
    pub fn author(&self) -> Option<(&Name, &Name)> {
        match self {
            CatalogueEntry::Book(book) => Some((&book.author_first_name, &book.author_last_name)),
            CatalogueEntry::Author {
                first_name,
                last_name,
            } => Some((first_name, last_name)),
            CatalogueEntry::Publisher(_) => None,
        }
    }

    /// The publisher the row names, if it names one.
    pub fn publisher(&self) -> Option<&Name> {
        match self {
            CatalogueEntry::Book(book) => Some(&book.publisher_name),
            CatalogueEntry::Publisher(name) => Some(name),
            CatalogueEntry::Author { .. } => None,
        }
    }

    /// The book the row records, if it records one.
    pub fn book(&self) -> Option<&BookEntry> {
        match self {
            CatalogueEntry::Book(book) => Some(book),
            _ => None,
        }
    }
}

/// What recording a book entry changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddOutcome {
    /// A new book was created and linked to the publisher.
    Created,
    /// The author already had a book of this title; the publisher was added to it.
    PublisherAdded,
    /// That book was already published by that publisher; nothing changed.
    AlreadyExisted,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_fields_name_an_author_or_a_publisher_alone_and_anything_else_must_be_a_book() {
        let kind = |row: [&str; 4]| match CatalogueEntry::parse(row[0], row[1], row[2], row[3]) {
            Ok(CatalogueEntry::Book(_)) => "book".to_owned(),
            Ok(CatalogueEntry::Author { .. }) => "author".to_owned(),
            Ok(CatalogueEntry::Publisher(_)) => "publisher".to_owned(),
            Err((field, _)) => format!("{} is wrong", field.csv_column()),
        };
        let cases = [
            (["Ada", "Lovelace", "Notes", "Taylor"], "book"),
            (["Ada", "Lovelace", "", ""], "author"),
            ([" ", "", " ", "Taylor"], "publisher"),
            (["Ada", "", "", ""], "last_name is wrong"),
            (["", "", "", ""], "first_name is wrong"),
            (["Ada", "Lovelace", "Notes", ""], "publisher is wrong"),
            (["Ada", "Lovelace", "", "Taylor"], "title is wrong"),
            (["", "", "Notes", "Taylor"], "first_name is wrong"),
        ];
        for (row, expected) in cases {
            assert_eq!(kind(row), expected, "{row:?}");
        }
    }
}
