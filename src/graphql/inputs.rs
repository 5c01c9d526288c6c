//! Filter and order arguments of the top-level lists, and their translation into the data
//! layer's terms.

use async_graphql::{Enum, ID, InputObject};

use super::ids::parse_id;
use crate::db::authors::{self, AuthorOrder as AuthorSort};
use crate::db::books::{self, BookOrder as BookSort};
use crate::db::pages::SortOrder;
use crate::db::publishers::{self, PublisherOrder as PublisherSort};
use crate::error::{Error, Result};
use crate::names::{MAX_NAME_CHARS, MAX_TITLE_CHARS, search_key};

/// Sort direction.
#[derive(Enum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OrderDirection {
    /// Smallest first.
    #[default]
    Asc,
    /// Largest first.
    Desc,
}

/// What authors can be ordered by.
#[derive(Enum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AuthorOrderField {
    /// Last name, then first name.
    #[default]
    Name,
    /// Number of books.
    BookCount,
}

/// What books can be ordered by.
#[derive(Enum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BookOrderField {
    /// Title.
    #[default]
    Title,
}

/// What publishers can be ordered by.
#[derive(Enum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PublisherOrderField {
    /// Name.
    #[default]
    Name,
    /// Number of books.
    BookCount,
    /// Number of distinct authors.
    AuthorCount,
}

/// Ties are broken by the default order (name or title, ascending), then by id.
#[derive(InputObject, Clone, Copy, Debug, Default)]
pub struct AuthorOrder {
    /// What to order by.
    pub field: AuthorOrderField,
    /// Which way.
    #[graphql(default)]
    pub direction: OrderDirection,
}

/// Ties are broken by id.
#[derive(InputObject, Clone, Copy, Debug, Default)]
pub struct BookOrder {
    /// What to order by.
    pub field: BookOrderField,
    /// Which way.
    #[graphql(default)]
    pub direction: OrderDirection,
}

/// Ties are broken by the default order (name, ascending), then by id.
#[derive(InputObject, Clone, Copy, Debug, Default)]
pub struct PublisherOrder {
    /// What to order by.
    pub field: PublisherOrderField,
    /// Which way.
    #[graphql(default)]
    pub direction: OrderDirection,
}

/// Which authors to list.
#[derive(InputObject, Clone, Debug, Default)]
pub struct AuthorFilter {
    /// Case-insensitive substring of the author's full name.
    pub name_contains: Option<String>,
}

/// Which books to list; every condition given must hold.
#[derive(InputObject, Clone, Debug, Default)]
pub struct BookFilter {
    /// Case-insensitive substring of the title.
    pub title_contains: Option<String>,
    /// Only books by this author.
    pub author_id: Option<ID>,
    /// Only books published by this publisher.
    pub publisher_id: Option<ID>,
}

/// Which publishers to list.
#[derive(InputObject, Clone, Debug, Default)]
pub struct PublisherFilter {
    /// Case-insensitive substring of the publisher's name.
    pub name_contains: Option<String>,
}

impl OrderDirection {
    /// Whether larger values come first.
    pub fn descending(self) -> bool {
        self == OrderDirection::Desc
    }
}

/// A top-level list's `orderBy` argument, in the data layer's terms.
pub trait ListOrder: Copy {
    /// The data layer's orders for the list.
    type Sort: SortOrder;
    /// The data layer's order.
    fn sort(self) -> Self::Sort;
    /// Whether larger values come first.
    fn descending(self) -> bool;
    /// The list its cursors belong to ([`super::cursor_lists`]).
    fn cursor_list(self) -> String;
}

/// `ListOrder` for an order input whose data-layer order is `$sort`.
macro_rules! list_order {
    ($order:ty, $sort:ty) => {
        impl ListOrder for $order {
            type Sort = $sort;
            fn sort(self) -> $sort {
                self.field.into()
            }
            fn descending(self) -> bool {
                self.direction.descending()
            }
            fn cursor_list(self) -> String {
                <$order>::cursor_list(self)
            }
        }
    };
}

list_order!(AuthorOrder, AuthorSort);
list_order!(BookOrder, BookSort);
list_order!(PublisherOrder, PublisherSort);

impl From<AuthorOrderField> for AuthorSort {
    fn from(field: AuthorOrderField) -> AuthorSort {
        match field {
            AuthorOrderField::Name => AuthorSort::Name,
            AuthorOrderField::BookCount => AuthorSort::BookCount,
        }
    }
}

impl From<BookOrderField> for BookSort {
    fn from(field: BookOrderField) -> BookSort {
        match field {
            BookOrderField::Title => BookSort::Title,
        }
    }
}

impl From<PublisherOrderField> for PublisherSort {
    fn from(field: PublisherOrderField) -> PublisherSort {
        match field {
            PublisherOrderField::Name => PublisherSort::Name,
            PublisherOrderField::BookCount => PublisherSort::BookCount,
            PublisherOrderField::AuthorCount => PublisherSort::AuthorCount,
        }
    }
}

impl AuthorFilter {
    /// The data layer's filter; a needle no name could hold is refused.
    pub fn parse(&self) -> Result<authors::AuthorFilter> {
        Ok(authors::AuthorFilter {
            // The needle is matched against "first last".
            name_contains: needle(
                "filter.nameContains",
                &self.name_contains,
                2 * MAX_NAME_CHARS + 1,
            )?,
        })
    }
}

impl BookFilter {
    /// The data layer's filter; malformed ids and needles no title could hold are refused.
    pub fn parse(&self) -> Result<books::BookFilter> {
        let id =
            |argument, id: &Option<ID>| id.as_ref().map(|id| parse_id(argument, id)).transpose();
        Ok(books::BookFilter {
            title_contains: needle(
                "filter.titleContains",
                &self.title_contains,
                MAX_TITLE_CHARS,
            )?,
            author_id: id("filter.authorId", &self.author_id)?,
            publisher_id: id("filter.publisherId", &self.publisher_id)?,
        })
    }
}

impl PublisherFilter {
    /// The data layer's filter; a needle no name could hold is refused.
    pub fn parse(&self) -> Result<publishers::PublisherFilter> {
        Ok(publishers::PublisherFilter {
            name_contains: needle("filter.nameContains", &self.name_contains, MAX_NAME_CHARS)?,
        })
    }
}

/// The matching key of a substring filter on a field of at most `max_chars`, or
/// `BAD_USER_INPUT` naming `field`.
fn needle(field: &str, raw: &Option<String>, max_chars: usize) -> Result<Option<String>> {
    raw.as_deref()
        .map(|raw| search_key(raw, max_chars))
        .transpose()
        .map_err(|error| Error::bad_input(field, error.to_string()))
}
