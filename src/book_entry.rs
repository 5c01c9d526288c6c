//! A book as one CSV row or one `addBook` call describes it: author, title, publisher.
//! Parsing here is the only gate between raw text and the find-or-create logic.

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

impl BookEntry {
    /// Normalises and checks each part; the first unusable part is reported.
    pub fn parse(
        author_first_name: &str,
        author_last_name: &str,
        title: &str,
        publisher_name: &str,
    ) -> Result<BookEntry, EntryError> {
        let part = |field: EntryField, raw: &str, max: usize| {
            Name::parse(raw, max).map_err(|error| (field, error))
        };
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

/// What recording a book entry changed.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "AddBookOutcome")]
pub enum AddOutcome {
    /// A new book was created and linked to the publisher.
    Created,
    /// The author already had a book of this title; the publisher was added to it.
    PublisherAdded,
    /// That book was already published by that publisher; nothing changed.
    AlreadyExisted,
}
