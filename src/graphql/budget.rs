//! What an operation's nested lists put in its response, counted while the response is
//! built, so one that grows too large is refused before it is whole.
//!
//! The checks in [`super::limits`] judge a document before it runs and cannot know how long
//! a nested list without `first` is, nor that one author's books repeat under each of a
//! hundred publishers; the database's row budget counts each distinct row read once. This
//! counts what the client would receive: every parent's list, under every alias.

use std::sync::atomic::{AtomicU64, Ordering};

use async_graphql::{Response, Value};

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

    /// Charges `values` more to the response (see `types`); past the limit the list that
    /// adds them is refused.
    pub fn charge(&self, values: u64) -> Result<()> {
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
