//! Keyset pagination shared by every top-level list.
//!
//! A page continues strictly after the sort key of the last row seen, not after a row
//! count, so rows added or removed before the cursor neither repeat nor vanish from the
//! pages that follow. Every ordering ends in the primary key, which makes keys unique.

use std::fmt;

use serde::de::{self, DeserializeOwned, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use super::Db;
use super::lookup::Children;
use super::models::{ChildrenOf, ListOrder};
use super::sql::{Dialect, Sql, decode_json, limit};
use crate::error::{Error, Result};

/// One column of an ordering, as named in the listed subquery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortColumn {
    /// Column of the subquery aliased `t`.
    pub column: &'static str,
    /// Whether larger values come first.
    pub descending: bool,
    /// Counts are integers, names and titles text.
    pub kind: SortKind,
}

/// The SQL type of a sort column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKind {
    /// An integer: a count or the id.
    Int,
    /// A case-folded name or title.
    Text,
}

impl SortColumn {
    /// A column in the given direction.
    pub const fn new(column: &'static str, kind: SortKind, descending: bool) -> Self {
        SortColumn {
            column,
            descending,
            kind,
        }
    }
}

/// One value of a row's sort key: a JSON number or string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum SortValue {
    /// Value of an integer column.
    Int(i64),
    /// Value of a text column.
    Text(String),
}

// By hand rather than `#[serde(untagged)]`, which buffers each value and formats an error
// message for every variant it rules out: that was 3 % of a page's CPU, read for every row.
impl<'de> Deserialize<'de> for SortValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SortValueVisitor;

        impl Visitor<'_> for SortValueVisitor {
            type Value = SortValue;

            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("an integer or a string")
            }

            fn visit_i64<E: de::Error>(self, value: i64) -> Result<SortValue, E> {
                Ok(SortValue::Int(value))
            }

            fn visit_u64<E: de::Error>(self, value: u64) -> Result<SortValue, E> {
                i64::try_from(value)
                    .map(SortValue::Int)
                    .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(value), &self))
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<SortValue, E> {
                Ok(SortValue::Text(value.to_owned()))
            }

            fn visit_string<E: de::Error>(self, value: String) -> Result<SortValue, E> {
                Ok(SortValue::Text(value))
            }
        }

        deserializer.deserialize_any(SortValueVisitor)
    }
}

/// A row's position in an ordering: one value per sort column.
pub type SortKey = Vec<SortValue>;

/// Which slice of a list to fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageArgs {
    /// At most this many rows.
    pub first: i64,
    /// Only rows strictly after this key; it must match the ordering's columns.
    pub after: Option<SortKey>,
    /// Whether to read each row's sort key too: cursors are made of them, and a page read
    /// without its keys costs the database and the decoding a good part less.
    pub with_keys: bool,
}

/// Rows of one page, and whether more rows follow.
#[derive(Debug)]
pub struct Page<T> {
    /// The rows, in order.
    pub rows: Vec<T>,
    /// Each row's sort key, in the same order, when [`PageArgs::with_keys`] asked for them.
    pub keys: Option<Vec<SortKey>>,
    /// Whether at least one more row follows the last one.
    pub has_next_page: bool,
}

/// An order a top-level list can be in.
pub trait SortOrder: Copy + Send {
    /// Its sort columns, ending in a unique one; ties fall back to the list's usual order.
    fn columns(self, descending: bool) -> Vec<SortColumn>;
}

/// What a top-level list reads: the rows of one table that a filter keeps. Implemented by
/// each table's filter type, so that paging and counting are written once.
pub trait Filter: Sync {
    /// The listed row.
    type Row: DeserializeOwned;
    /// The orders the rows can be listed in: only columns of `TABLE` can sort them.
    type Order: SortOrder;
    /// The row's columns and every sort column, `id` among them, qualified by the alias of
    /// `TABLE`.
    const SELECT: &'static str;
    /// The table or view, with the alias that `SELECT` and the conditions use.
    const TABLE: &'static str;
    /// The row type's columns, in its field order.
    const COLUMNS: &'static [&'static str];
    /// Where PostgreSQL keeps parts of this table's counts, if it has counts.
    const COUNT_PARTS: Option<CountParts> = None;
    /// Appends the `where` clause keeping the rows this filter matches.
    fn push_where(&self, query: &mut Sql);
}

/// A table whose counts PostgreSQL keeps in its columns and in parts that concurrent writers
/// add to, summed by the view a [`Filter`]'s `TABLE` names (migrations/postgres/0009).
///
/// An ordering by a count reads its rows through the columns' indexes, which order rows
/// without their parts: it takes the first rows by the columns alone, as many more as
/// there are parts, with every row that has parts, and orders those by their sums. A row
/// without parts that belongs in the page is among them: the rows that come before it by
/// the columns alone but not by the sums all have parts. Parts stay few, folded into the
/// columns while replicas write.
pub struct CountParts {
    /// The table itself, under the alias of the `TABLE` view, so that `SELECT` and the
    /// filter read it too.
    pub table: &'static str,
    /// The table of parts.
    pub parts: &'static str,
    /// The column of `parts` naming a row of `table`.
    pub id: &'static str,
    /// The columns of `SELECT` that are counts.
    pub counts: &'static [&'static str],
}

/// One page of the rows `filter` keeps, in `order` (larger values first when `descending`),
/// each with its sort key.
#[tracing::instrument(level = "debug", skip_all, fields(table = F::TABLE))]
pub async fn page<F: Filter>(
    db: &Db,
    filter: &F,
    order: F::Order,
    descending: bool,
    page: &PageArgs,
) -> Result<Page<F::Row>> {
    let (listed, rows) = Listed::new(db.dialect(), filter, &order.columns(descending), page)?;
    let query = rows.wrap(|rows| format!("select {}", listed.page_of(rows)));
    read_page(query.fetch_text(db).await?, page)
}

/// [`page`], and in the same statement the children along `children` of the page's rows,
/// at most `first` of each when given: one statement, where the page and then the first
/// level below it would be two, each a hand-off to the database and back.
#[tracing::instrument(level = "debug", skip_all, fields(table = F::TABLE))]
pub async fn page_with_children<F: Filter, C: DeserializeOwned + ListOrder>(
    db: &Db,
    filter: &F,
    order: F::Order,
    descending: bool,
    page: &PageArgs,
    children: &Children,
    first: Option<i64>,
) -> Result<WithChildren<F::Row, C>> {
    let dialect = db.dialect();
    let (listed, rows) = Listed::new(dialect, filter, &order.columns(descending), page)?;
    let query = rows.wrap(|rows| {
        // Materialized, the rows are read once for the page and for its parents.
        format!(
            "with page as materialized ({rows}), ids(id) as ({})
             select {}, ({})",
            listed.ids_of(page),
            listed.page_of(&format!(
                "select * from page as t order by {}",
                listed.order_by
            )),
            children.select(dialect, first),
        )
    });
    let (rows, families): (Option<String>, Option<String>) = query
        .build_query_as()
        .fetch_one(&mut *db.read().await?)
        .await?;
    Ok(WithChildren {
        page: read_page(rows, page)?,
        children: Children::decode(families, first)?,
    })
}

/// A relation's lists: at most `first` children of each parent, all when `None`.
#[derive(Clone, Copy)]
pub struct Along<'a> {
    /// How the database finds the children.
    pub children: &'a Children,
    /// The most children of each parent.
    pub first: Option<i64>,
}

/// The lists along `below` of the children along `children` of the rows of the page that
/// [`page_with_children`] reads with the same arguments: the level under that statement's,
/// read without its answer, so that the two can run side by side on two readers. `None`
/// when those children are more than `max_parents`, as for a batch of the loader.
#[tracing::instrument(level = "debug", skip_all, fields(table = F::TABLE))]
pub async fn children_below_page<F: Filter, C: DeserializeOwned + ListOrder>(
    db: &Db,
    (filter, order, descending): (&F, F::Order, bool),
    page: &PageArgs,
    children: Along<'_>,
    below: Along<'_>,
    max_parents: usize,
) -> Result<Option<BelowPage<C>>> {
    let dialect = db.dialect();
    let (listed, rows) = Listed::new(dialect, filter, &order.columns(descending), page)?;
    let most = i64::try_from(max_parents)
        .unwrap_or(i64::MAX)
        .saturating_add(1);
    let query = rows.wrap(|rows| {
        // In `parents`, a `with` of its own names the page's rows `ids`, for the first
        // relation; after it, `ids` are their children, for `below`. The children pass
        // through one JSON array: SQLite's planner then drives the join from them, as from
        // ids bound as one, where from a common table of theirs it scanned a whole link
        // table.
        format!(
            "with page as materialized ({rows}),
                parents(list) as (select {} from (with ids(id) as ({}) {} {}) as c),
                ids(id) as ({})
             select ({}), ({})",
            dialect.aggregate("id", None),
            listed.ids_of(page),
            children.children.select_ids(dialect, children.first),
            limit(most),
            dialect.elements("(select list from parents)"),
            dialect.as_text("select list from parents"),
            below.children.select(dialect, below.first),
        )
    });
    let (parents, families): (Option<String>, Option<String>) = query
        .build_query_as()
        .fetch_one(&mut *db.read().await?)
        .await?;
    let parents: Vec<i64> = decode_json(parents)?;
    if parents.len() > max_parents {
        return Ok(None);
    }
    Ok(Some(BelowPage {
        parents,
        children: Children::decode(families, below.first)?,
    }))
}

/// The children of the children of a page's rows along two relations.
#[derive(Debug)]
pub struct BelowPage<C> {
    /// Every child of the page's rows along the first relation: the parents below.
    pub parents: Vec<i64>,
    /// Each parent's children along the second relation, in its order.
    pub children: Vec<ChildrenOf<C>>,
}

/// A page, and the children of its rows along one relation.
#[derive(Debug)]
pub struct WithChildren<T, C> {
    /// The page.
    pub page: Page<T>,
    /// Each row's children, in the relation's order.
    pub children: Vec<ChildrenOf<C>>,
}

/// How a page's rows become one JSON value.
struct Listed {
    /// The ordering, by columns of `t`.
    order_by: String,
    /// One row of the answer, from the columns of `t`: its columns, and its sort key when
    /// the page asks for keys.
    row: String,
    dialect: Dialect,
}

impl Listed {
    /// The page's JSON value, and the select of its rows: one more than asked for, in
    /// order, with every column of the table's select and the values bound.
    ///
    /// The filtered select is wrapped as a subquery so computed sort columns such as counts
    /// can be compared in `where`, which PostgreSQL (unlike SQLite) refuses on a select
    /// alias.
    fn new<F: Filter>(
        dialect: Dialect,
        filter: &F,
        order: &[SortColumn],
        page: &PageArgs,
    ) -> Result<(Listed, Sql)> {
        let columns = format!("{}(t.{})", dialect.array(), F::COLUMNS.join(", t."));
        let row = if page.with_keys {
            let sort_columns: Vec<&str> = order.iter().map(|column| column.column).collect();
            let keys = format!("{}(t.{})", dialect.array(), sort_columns.join(", t."));
            format!("{}({columns}, {keys})", dialect.array())
        } else {
            columns
        };
        let order_by = order
            .iter()
            .map(|column| {
                let direction = if column.descending { "desc" } else { "asc" };
                format!("t.{} {direction}", column.column)
            })
            .collect::<Vec<_>>()
            .join(", ");
        if let Some(after) = &page.after
            && !fits(order, after)
        {
            return Err(Error::bad_input(
                "after",
                "the cursor is not one of this list",
            ));
        }
        // One extra row tells whether a next page exists without a second statement.
        let rows_read = page.first + 1;
        let counted = F::COUNT_PARTS.filter(|parts| {
            dialect == Dialect::Postgres
                && order
                    .iter()
                    .any(|column| parts.counts.contains(&column.column))
        });
        let mut rows = Sql::new("");
        match counted {
            None => push_rows(&mut rows, "*", F::TABLE, filter, order, page),
            Some(parts) => {
                rows.push("select * from (");
                push_rows(&mut rows, "*", F::TABLE, filter, order, page);
                rows.push(") as t where t.id in ((");
                push_rows(&mut rows, "t.id", parts.table, filter, order, page);
                rows.push(format_args!(
                    " order by {order_by} limit {rows_read} + (select count(*) from {0})) \
                     union all (select {1} from {0}))",
                    parts.parts, parts.id
                ));
            }
        }
        rows.push(format_args!(" order by {order_by} {}", limit(rows_read)));
        let listed = Listed {
            order_by,
            row,
            dialect,
        };
        Ok((listed, rows))
    }

    /// The select of the ids of the page's rows in the common table `page` of its rows.
    /// The extra row, read to tell whether more follow, is no parent; and the `limit` tells
    /// SQLite's planner how few parents there are: without it, it joined a whole table to
    /// them (twice the instructions of a nested query).
    fn ids_of(&self, page: &PageArgs) -> String {
        format!(
            "select t.id from page as t order by {} {}",
            self.order_by,
            limit(page.first)
        )
    }

    /// The page as one JSON text value, made of the text of `rows`.
    fn page_of(&self, rows: &str) -> String {
        let page = self.dialect.select_presorted(
            &self.row,
            &format!("from ({rows}) as t"),
            &self.order_by,
        );
        self.dialect.as_text(&format!("({page})"))
    }
}

/// `select {columns} from (…) as t`: of the `SELECT` of `F`'s rows from `table` that
/// `filter` keeps, those after the page's cursor in `order`.
fn push_rows<F: Filter>(
    rows: &mut Sql,
    columns: &str,
    table: &str,
    filter: &F,
    order: &[SortColumn],
    page: &PageArgs,
) {
    rows.push(format_args!(
        "select {columns} from (select {} from {table}",
        F::SELECT
    ));
    filter.push_where(rows);
    rows.push(") as t");
    if let Some(after) = &page.after {
        rows.push(" where ");
        push_after(rows, order, after);
    }
}

/// The page that `json`, the answer to a [`Listed`] statement, holds.
fn read_page<T: DeserializeOwned>(json: Option<String>, page: &PageArgs) -> Result<Page<T>> {
    let (mut rows, mut keys) = if page.with_keys {
        let rows: Vec<(T, SortKey)> = decode_json(json)?;
        let (rows, keys): (_, Vec<SortKey>) = rows.into_iter().unzip();
        (rows, Some(keys))
    } else {
        (decode_json::<Vec<T>>(json)?, None)
    };
    let limit = usize::try_from(page.first).unwrap_or(0);
    let has_next_page = rows.len() > limit;
    rows.truncate(limit);
    if let Some(keys) = &mut keys {
        keys.truncate(limit);
    }
    Ok(Page {
        rows,
        keys,
        has_next_page,
    })
}

/// How many rows `filter` keeps.
#[tracing::instrument(level = "debug", skip_all, fields(table = F::TABLE))]
pub async fn count<F: Filter>(db: &Db, filter: &F) -> Result<i64> {
    let mut query = Sql::new(format_args!("select count(*) from {}", F::TABLE));
    filter.push_where(&mut query);
    Ok(query
        .build_query_scalar()
        .fetch_one(&mut *db.read().await?)
        .await?)
}

/// `(c1 > v1) or (c1 = v1 and c2 > v2) or …`, with `<` for descending columns. Row-value
/// comparison would be shorter but cannot mix directions.
fn push_after(query: &mut Sql, order: &[SortColumn], after: &[SortValue]) {
    query.push("(");
    for (depth, column) in order.iter().enumerate() {
        if depth > 0 {
            query.push(" or ");
        }
        query.push("(");
        for (equal, value) in order.iter().zip(after).take(depth) {
            query.push(format_args!("t.{} = ", equal.column));
            push_value(query, value);
            query.push(" and ");
        }
        let operator = if column.descending { "<" } else { ">" };
        query.push(format_args!("t.{} {operator} ", column.column));
        push_value(query, &after[depth]);
        query.push(")");
    }
    query.push(")");
}

fn push_value(query: &mut Sql, value: &SortValue) {
    match value {
        SortValue::Int(int) => query.push_bind(*int),
        SortValue::Text(text) => query.push_bind(text.clone()),
    };
}

/// Whether `key` has the shape of a key of `order`, so that a forged cursor is refused
/// instead of producing malformed SQL.
fn fits(order: &[SortColumn], key: &[SortValue]) -> bool {
    order.len() == key.len()
        && order.iter().zip(key).all(|(column, value)| {
            matches!(
                (column.kind, value),
                (SortKind::Int, SortValue::Int(_)) | (SortKind::Text, SortValue::Text(_))
            )
        })
}
