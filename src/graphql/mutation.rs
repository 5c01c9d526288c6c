//! The mutation root: every change to the catalogue, one transaction each. Resolvers hand
//! one data-layer step to the writer, which commits it; a failure anywhere rolls it all
//! back, so a failed call changes nothing.

mod authors;
mod books;
mod publishers;

use async_graphql::{Context, MergedObject};

use crate::db::{Db, Step};
use crate::error::{Error, Result};
use crate::names::Name;

pub use authors::AuthorMutations;
pub use books::{AddBookInput, BookMutations};
pub use publishers::PublisherMutations;

/// Entry points for changing the catalogue.
#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct MutationRoot(BookMutations, AuthorMutations, PublisherMutations);

/// `raw` normalised as a stored name, or `BAD_USER_INPUT` naming `field`.
fn parse_name(field: &str, raw: &str, max_chars: usize) -> Result<Name> {
    Name::parse(raw, max_chars).map_err(|error| Error::bad_input(field, error.to_string()))
}

/// Runs `step` as one write transaction on the request's database (again, on PostgreSQL,
/// if it lost a race with another replica: so it must be `Clone`).
async fn write<T: Send + 'static>(ctx: &Context<'_>, step: impl Step<T> + Clone) -> Result<T> {
    ctx.data_unchecked::<Db>().write(step).await
}
