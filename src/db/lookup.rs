//! Batched lookups: rows by primary key, and the children of many parents, each parent's in
//! order and at most `first` of them, in one statement whatever the number of ids.
//!
//! Each lookup's rows come back as one JSON value built by the database (see `sql`).

use serde::de::DeserializeOwned;

use super::Db;
use super::models::ChildrenOf;
use super::sql::{Sql, limit};
use crate::error::Result;

/// How to find rows by their ids.
pub(super) struct ById {
    /// The table.
    pub table: &'static str,
    /// The columns the row type reads, in its field order.
    pub columns: &'static str,
}

impl ById {
    /// The rows with these ids, in no particular order; unknown ids are skipped.
    pub(super) async fn fetch<R: DeserializeOwned>(&self, db: &Db, ids: &[i64]) -> Result<Vec<R>> {
        let dialect = db.dialect();
        let row = format!("{}({})", dialect.array(), self.columns);
        let mut query = Sql::new(format_args!(
            "{} select {} from {} where id in (select id from ids)",
            dialect.with_ids(),
            dialect.as_text(&dialect.aggregate(&row, None)),
            self.table,
        ));
        query.bind_ids(ids);
        query.fetch_json(db).await
    }
}

/// How to find the children of a batch of parents, in two forms of one relation: all
/// children of every parent in one select, or at most `first` of each parent by a
/// subquery run once per parent, which stops at its `limit` (a window numbering every
/// child of every parent would read them all to keep a few).
pub(super) struct Children {
    /// Every child of every parent whose id is in the table `ids`: the `from` and `where`
    /// of a select of the child rows as `c`.
    pub all_rows: &'static str,
    /// The parent id of a row of `all_rows`.
    pub parent: &'static str,
    /// One parent's children: a `select` of the child's columns and its sort columns for
    /// the parent whose id is `parent.id`, ending in the relation's `order by`.
    pub first_rows: &'static str,
    /// The columns of a child the row type reads, in its field order, qualified by `c.`.
    pub columns: &'static str,
    /// The relation's order, by columns qualified by `c.`, ending in a unique one.
    pub order: &'static str,
}

impl Children {
    /// Each parent's children in order, at most `first` of each when given. Parents
    /// without children may be left out.
    pub(super) async fn fetch<R: DeserializeOwned>(
        &self,
        db: &Db,
        parent_ids: &[i64],
        first: Option<i64>,
    ) -> Result<Vec<ChildrenOf<R>>> {
        match first {
            None => self.fetch_all(db, parent_ids).await,
            Some(first) => self.fetch_first(db, parent_ids, first).await,
        }
    }

    /// Every child: `[parent, child]` pairs, parent by parent, each parent's children in
    /// order.
    async fn fetch_all<R: DeserializeOwned>(
        &self,
        db: &Db,
        parent_ids: &[i64],
    ) -> Result<Vec<ChildrenOf<R>>> {
        let dialect = db.dialect();
        let pair = format!(
            "{array}({}, {array}({}))",
            self.parent,
            self.columns,
            array = dialect.array()
        );
        let order = format!("{}, {}", self.parent, self.order);
        let mut query = Sql::new(format_args!(
            "{} select {}",
            dialect.with_ids(),
            dialect.as_text(&format!(
                "({})",
                dialect.select_ordered(&pair, self.all_rows, &order)
            )),
        ));
        query.bind_ids(parent_ids);
        let pairs: Vec<(i64, R)> = query.fetch_json(db).await?;
        let mut families: Vec<ChildrenOf<R>> = Vec::new();
        for (parent, child) in pairs {
            match families.last_mut() {
                Some(family) if family.parent == parent => family.children.push(child),
                _ => families.push(ChildrenOf {
                    parent,
                    children: vec![child],
                }),
            }
        }
        Ok(families)
    }

    /// At most `first` children of each parent: `[parent, [child, …]]` for every parent.
    async fn fetch_first<R: DeserializeOwned>(
        &self,
        db: &Db,
        parent_ids: &[i64],
        first: i64,
    ) -> Result<Vec<ChildrenOf<R>>> {
        let dialect = db.dialect();
        let child = format!("{}({})", dialect.array(), self.columns);
        let children = dialect.select_presorted(
            &child,
            &format!("from ({} {}) as c", self.first_rows, limit(first)),
            self.order,
        );
        let mut query = Sql::new(format_args!(
            "{} {}",
            dialect.with_ids(),
            dialect.select_families(&children)
        ));
        query.bind_ids(parent_ids);
        query.fetch_json(db).await
    }
}
