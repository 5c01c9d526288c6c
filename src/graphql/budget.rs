//! What an operation's nested lists put in its response, counted while the response is
//! built, so one that grows too large is refused before it is whole.
//!
//! The checks in [`super::limits`] judge a document before it runs and cannot know how long
//! a nested list without `first` is, nor that one author's books repeat under each of a
//! hundred publishers; the database's row budget counts each distinct row read once. This
//! counts what the client would receive: every parent's list, under every alias.

use std::sync::atomic::{AtomicU64, Ordering};

use async_graphql::{Response, SelectionField, Value};

use super::limits::LIST_FIELDS;
use crate::error::{Error, Result};

/// The values one operation's nested lists may still add to its response.
#[derive(Debug)]
pub struct ResponseBudget {
    limit: u64,
    spent: AtomicU64,
}

impl ResponseBudget {
    /// A budget of `limit` values.
    pub fn new(limit: u64) -> Self {
        ResponseBudget {
            limit,
            spent: AtomicU64::new(0),
        }
    }

    /// Charges the `items` that the nested list `field` resolved to, each with every value
    /// its selection holds; past the limit the list is refused.
    pub fn charge(&self, items: usize, field: SelectionField<'_>) -> Result<()> {
        // Walking the selection costs about what it charges, so an empty list walks nothing.
        if items == 0 {
            return Ok(());
        }
        let values = u64::try_from(items)
            .unwrap_or(u64::MAX)
            .saturating_mul(values_per_item(field));
        let before = self
            .spent
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |spent| {
                Some(spent.saturating_add(values))
            })
            .unwrap_or_else(|spent| spent);
        if before.saturating_add(values) > self.limit {
            return Err(Error::TooLarge(self.refusal()));
        }
        Ok(())
    }

    /// Makes `response` refuse the operation whole if its lists outgrew the budget: no
    /// `data` (async-graphql would send the part built before the limit, and a `null`
    /// wherever a list was stopped), and the budget's error once, not once per list it
    /// stopped. The error kept names the first list refused.
    pub fn settle(&self, response: &mut Response) {
        if self.spent.load(Ordering::Relaxed) <= self.limit {
            return;
        }
        response.data = Value::Null;
        let refusal = self.refusal();
        let mut kept = false;
        response
            .errors
            .retain(|error| error.message != refusal || !std::mem::replace(&mut kept, true));
    }

    fn refusal(&self) -> String {
        format!(
            "the response holds more than {} values (items of nested lists and the fields \
             selected in them); ask for fewer with `first`",
            self.limit
        )
    }
}

/// The values one item of `list` puts in the response: the item, and each field it selects
/// (every alias, through fragments), down through nested objects. A nested list counts as
/// one value here; its items are charged when it resolves, per parent. Fields that `@skip`
/// or `@include` would leave out count too: over-counting only ever refuses early.
fn values_per_item(list: SelectionField<'_>) -> u64 {
    list.selection_set()
        .map(|field| {
            if LIST_FIELDS.contains(&field.name()) {
                1
            } else {
                values_per_item(field)
            }
        })
        .fold(1, u64::saturating_add)
}
