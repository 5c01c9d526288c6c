//! Batched one-to-many lookups: the children of many parents in one statement, in each
//! parent's order, optionally only the first few of each.

use sqlx::FromRow;
use sqlx::any::AnyRow;

use super::models::Owned;
use super::sql::Sql;
use super::{Db, push_id_list};
use crate::error::Result;

/// How to find the children of a batch of parents.
pub(super) struct Children {
    /// The expression giving a child row's parent id.
    pub owner: &'static str,
    /// The child's columns, as the row type reads them, qualified for `from`.
    pub columns: &'static [&'static str],
    /// The `from … where <parent> in ` text the parent ids follow.
    pub from: &'static str,
    /// Text after the id list, closing whatever `from` opened.
    pub then: &'static str,
    /// The children's order within one parent, ending in a unique column.
    pub order: &'static str,
}

impl Children {
    /// Each parent's children in order, at most `first` of each. Without `first`, a plain
    /// ordered select, which SQLite serves straight from an index; with it, a window
    /// numbers each parent's children so one statement still serves the whole batch.
    pub(super) async fn fetch<R>(
        &self,
        db: &Db,
        parent_ids: &[i64],
        first: Option<i64>,
    ) -> Result<Vec<Owned<R>>>
    where
        R: for<'r> FromRow<'r, AnyRow> + Send + Unpin,
    {
        let columns = self.columns.join(", ");
        let mut query = match first {
            None => Sql::new(format_args!(
                "select {} as owner_id, {columns} ",
                self.owner
            )),
            Some(_) => {
                let names = self
                    .columns
                    .iter()
                    .map(|column| column.rsplit('.').next().unwrap_or(column))
                    .collect::<Vec<_>>()
                    .join(", ");
                Sql::new(format_args!(
                    "select owner_id, {names} from (select {owner} as owner_id, {columns}, \
                     row_number() over (partition by {owner} order by {order}) as position ",
                    owner = self.owner,
                    order = self.order,
                ))
            }
        };
        query.push(self.from);
        push_id_list(&mut query, parent_ids);
        query.push(self.then);
        match first {
            None => query.push(format_args!(" order by {}, {}", self.owner, self.order)),
            Some(first) => query
                .push(") as t where t.position <= ")
                .push_bind(first)
                .push(" order by t.owner_id, t.position"),
        };
        Ok(query.build_query_as().fetch_all(db.read()).await?)
    }
}
