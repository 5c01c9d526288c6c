//! Batched lookups: rows by primary key, and the children of many parents, each parent's in
//! order and at most `first` of them, in one statement whatever the number of ids. Also the
//! one-row reads and deletes by primary key of write transactions, and whether the
//! catalogue holds anything yet.
//!
//! Each batched lookup's rows come back as one JSON value built by the database (see `sql`).

use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use sqlx::FromRow;
use sqlx::any::AnyRow;

use super::events::Event;
use super::models::{ChildrenOf, ListOrder, WithParent};
use super::sql::{Dialect, Sql, decode_json, limit};
use super::{Db, WriteTx};
use crate::error::{Entity, Error, Result};

/// How to find rows of type `R` by their ids.
pub struct ById<R> {
    /// What a row is, for errors.
    entity: Entity,
    /// The table or view, as SQL names it.
    table: &'static str,
    /// The columns `R` reads, in its field order.
    columns: &'static str,
    row: PhantomData<fn() -> R>,
}

impl<R> ById<R> {
    /// Rows of `table` (rows of `entity`) read as their `columns`, in `R`'s field order.
    pub(super) const fn new(entity: Entity, table: &'static str, columns: &'static str) -> Self {
        ById {
            entity,
            table,
            columns,
            row: PhantomData,
        }
    }
}

impl<R: DeserializeOwned> ById<R> {
    /// The rows with these distinct ids, in no particular order; unknown ids are skipped.
    /// The rows are joined to the ids: `id in (select …)` would have SQLite build a
    /// temporary index of the ids first, which costs a point lookup half as much again.
    #[tracing::instrument(level = "debug", skip_all, fields(table = self.table, ids = ids.len()))]
    pub async fn fetch(&self, db: &Db, ids: &[i64]) -> Result<Vec<R>> {
        let dialect = db.dialect();
        let row = format!("{}({})", dialect.array(), self.columns);
        let mut query = Sql::new(format_args!(
            "{} select {} from ids join {} using (id)",
            dialect.with_ids(),
            dialect.as_text(&dialect.aggregate(&row, None)),
            self.table,
        ));
        query.bind_ids(ids);
        query.fetch_json(db).await
    }
}

impl<R> ById<R>
where
    R: for<'r> FromRow<'r, AnyRow> + Send + Unpin,
{
    /// The row with this id, as the write transaction sees it; `NotFound` when there is none.
    pub(super) async fn find(&self, tx: &mut WriteTx, id: i64) -> Result<R> {
        self.find_locking(tx, id, "").await
    }

    /// [`ById::find`], the statement ending in `lock`: a row-locking clause.
    pub(super) async fn find_locking(
        &self,
        tx: &mut WriteTx,
        id: i64,
        lock: &'static str,
    ) -> Result<R> {
        let statement = format!(
            "select {} from {} where id = $1{lock}",
            self.columns, self.table
        );
        sqlx::query_as(sqlx::AssertSqlSafe(statement))
            .bind(id)
            .fetch_optional(tx.conn())
            .await?
            .ok_or(Error::NotFound {
                what: self.entity,
                id,
            })
    }

    /// Deletes the row with this id, and by cascade what refers to it.
    pub(super) async fn delete(&self, tx: &mut WriteTx, id: i64) -> Result<()> {
        let statement = format!("delete from {} where id = $1", self.table);
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .bind(id)
            .execute(tx.conn())
            .await?;
        Ok(())
    }

    /// Deletes the author or publisher `id` and its books, whose ids `books` selects
    /// (with `id` bound to `$1`). One with books is a conflict, worded by `in_use` from their
    /// number, unless `cascade`. Returns how many books went.
    pub(super) async fn delete_with_books(
        &self,
        tx: &mut WriteTx,
        id: i64,
        cascade: bool,
        books: &'static str,
        in_use: impl FnOnce(usize) -> String,
    ) -> Result<u64> {
        self.find(tx, id).await?;
        let book_ids: Vec<i64> = sqlx::query_scalar(books)
            .bind(id)
            .fetch_all(tx.conn())
            .await?;
        if !book_ids.is_empty() && !cascade {
            let message = format!(
                "{}; delete them first or pass cascade: true",
                in_use(book_ids.len())
            );
            return Err(Error::conflict(message, None));
        }
        // The ids as one JSON array, not a placeholder each: SQLite looks every `$n` up
        // among the statement's earlier ones, so a list's cost grew with its square, and
        // its variable limit would cut a huge publisher's list into several statements.
        if !book_ids.is_empty() {
            let mut query = Sql::new(format_args!(
                "{} delete from book where id in (select id from ids)",
                tx.dialect.with_ids()
            ));
            query.bind_ids(&book_ids);
            query.build().execute(tx.conn()).await?;
        }
        for book in &book_ids {
            tx.record(Event::BookDeleted(*book));
        }
        self.delete(tx, id).await?;
        Ok(book_ids.len() as u64)
    }
}

/// How to find the children of a batch of parents, in two forms of one relation: all
/// children of every parent in one select, or at most `first` of each parent by a
/// subquery run once per parent, which stops at its `limit` (a window numbering every
/// child of every parent would read them all to keep a few).
pub struct Children {
    /// Every child of every parent whose id is in the table `ids`: the `from` clause of a
    /// select of the child rows as `c`, joined to `ids` (see [`ById::fetch`]).
    pub(super) all_rows: &'static str,
    /// The parent id of a row of `all_rows`.
    pub(super) parent: &'static str,
    /// One parent's children: a `select` of the child's columns and its sort columns for
    /// the parent whose id is `parent.id`, ending in the relation's `order by`.
    pub(super) first_rows: &'static str,
    /// The columns of a child the row type reads, in its field order, qualified by `c.`.
    pub(super) columns: &'static str,
    /// The relation's order, by columns qualified by `c.`, ending in a unique one: the
    /// child row's [`ListOrder`], in SQL.
    pub(super) order: &'static str,
    /// Whether a child may have several parents (a book several publishers): the
    /// children of many parents then hold it more than once, and as parents of the next
    /// level they must be made distinct, or that level's lists would hold every child twice.
    pub(super) shared: bool,
}

impl Children {
    /// Each parent's children in order, at most `first` of each when given, for distinct
    /// `parent_ids`. Parents without children may be left out.
    #[tracing::instrument(level = "debug", skip_all, fields(parents = parent_ids.len()))]
    pub async fn fetch<R: DeserializeOwned + ListOrder>(
        &self,
        db: &Db,
        parent_ids: &[i64],
        first: Option<i64>,
    ) -> Result<Vec<ChildrenOf<R>>> {
        let dialect = db.dialect();
        let mut query = Sql::new(format_args!(
            "{} {}",
            dialect.with_ids(),
            self.select(dialect, first)
        ));
        query.bind_ids(parent_ids);
        Self::decode(query.fetch_text(db).await?, first)
    }

    /// The select of the children of every parent in the common table `ids`, at most
    /// `first` of each when given, as one JSON text column that [`Children::decode`] reads.
    pub(super) fn select(&self, dialect: Dialect, first: Option<i64>) -> String {
        match first {
            // Every child. The statement leaves the order to us: each parent's few
            // children sorted apart cost SQLite a temporary B-tree of every row, a third of
            // the statement, where sorting them here costs almost nothing.
            None => {
                let row = format!("{}({}, {})", dialect.array(), self.parent, self.columns);
                format!(
                    "select {}",
                    dialect.as_text(&format!(
                        "({})",
                        dialect.select_unordered(&row, self.all_rows)
                    ))
                )
            }
            // `[parent, [child, …]]` for every parent.
            Some(first) => {
                let child = format!("{}({})", dialect.array(), self.columns);
                let children = dialect.select_presorted(
                    &child,
                    &format!("from ({} {}) as c", self.first_rows, limit(first)),
                    self.order,
                );
                dialect.select_families(&children)
            }
        }
    }

    /// The select of the distinct ids of the children of every parent in the common table
    /// `ids`, at most `first` of each when given: the parents of the level below.
    pub(super) fn select_ids(&self, dialect: Dialect, first: Option<i64>) -> String {
        let distinct = if self.shared { "distinct " } else { "" };
        match first {
            None => format!("select {distinct}c.id {}", self.all_rows),
            Some(first) => dialect.select_elements_of_parents(
                &format!(
                    "(select {} from ({} {}) as c)",
                    dialect.aggregate("c.id", None),
                    self.first_rows,
                    limit(first)
                ),
                self.shared,
            ),
        }
    }

    /// The children that [`Children::select`] with the same `first` answered.
    pub(super) fn decode<R: DeserializeOwned + ListOrder>(
        json: Option<String>,
        first: Option<i64>,
    ) -> Result<Vec<ChildrenOf<R>>> {
        match first {
            None => Ok(families(decode_json::<Vec<WithParent<R>>>(json)?)),
            Some(_) => decode_json(json),
        }
    }
}

/// `rows` gathered by parent, each parent's children in their list order. Plans walk the
/// children parent by parent, so runs of one parent are gathered as they come and only the
/// runs are sorted, not every row.
fn families<R: ListOrder>(rows: Vec<WithParent<R>>) -> Vec<ChildrenOf<R>> {
    let mut runs: Vec<ChildrenOf<R>> = Vec::new();
    for WithParent { parent, row } in rows {
        match runs.last_mut() {
            Some(run) if run.parent == parent => run.children.push(row),
            _ => runs.push(ChildrenOf {
                parent,
                children: vec![row],
            }),
        }
    }
    runs.sort_by_key(|run| run.parent);
    let mut families: Vec<ChildrenOf<R>> = Vec::with_capacity(runs.len());
    for run in runs {
        match families.last_mut() {
            Some(family) if family.parent == run.parent => family.children.extend(run.children),
            _ => families.push(run),
        }
    }
    for family in &mut families {
        family.children.sort_by(R::cmp_listed);
    }
    families
}

/// Whether the catalogue holds no author and no publisher yet.
pub async fn is_empty(db: &Db) -> Result<bool> {
    let rows: i64 = sqlx::query_scalar(
        "select (select count(*) from (select 1 from author limit 1) as a)
            + (select count(*) from (select 1 from publisher limit 1) as p)",
    )
    .fetch_one(&mut *db.read().await?)
    .await?;
    Ok(rows == 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::models::BookRow;

    fn child(parent: i64, id: i64, title: &str) -> WithParent<BookRow> {
        let row = BookRow {
            id,
            author_id: parent,
            title: title.to_owned(),
        };
        WithParent { parent, row }
    }

    #[test]
    fn families_gather_each_parents_children_in_list_order_wherever_they_come() {
        let rows = vec![
            child(7, 1, "zebra"),
            child(7, 2, "Apple"),
            child(3, 3, "b"),
            child(7, 4, "mango"),
            child(3, 5, "A"),
        ];
        let families = families(rows);
        let families: Vec<(i64, Vec<&str>)> = families
            .iter()
            .map(|family| {
                let titles = family.children.iter().map(|book| book.title.as_str());
                (family.parent, titles.collect())
            })
            .collect();
        assert_eq!(
            families,
            [(3, vec!["A", "b"]), (7, vec!["Apple", "mango", "zebra"])]
        );
    }
}
