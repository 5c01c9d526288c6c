//! Statements assembled at run time, with `$1, $2, …` placeholders, in the dialect of
//! the backend they run on.
//!
//! sqlx's `QueryBuilder` over the `Any` driver writes `?` placeholders, which PostgreSQL
//! refuses; `$n` is what both of our backends accept. Only statements of many values
//! ([`Sql::of_many_values`]) write `?` on SQLite.
//!
//! Reads return their rows as one JSON value that the database builds
//! ([`Sql::fetch_json`]): one value crosses from the driver instead of a message, a row
//! object and a copy per row and column, which made the rows cost more than the SQL.

use std::fmt::{Display, Write as _};

use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::{Query, QueryAs, QueryScalar};
use sqlx::{Any, Arguments as _, AssertSqlSafe, Encode, FromRow, Type};

use super::Db;
use crate::error::Result;

/// The SQL dialect of a backend: the little that differs in the statements we assemble.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The function building a JSON array of its arguments.
    pub(super) fn array(self) -> &'static str {
        match self {
            Dialect::Sqlite => "json_array",
            Dialect::Postgres => "json_build_array",
        }
    }

    /// The aggregate of `element` over the rows into one JSON array, in `order` when given;
    /// `[]` when there are no rows.
    pub(super) fn aggregate(self, element: &str, order: Option<&str>) -> String {
        let order = order
            .map(|order| format!(" order by {order}"))
            .unwrap_or_default();
        match self {
            Dialect::Sqlite => format!("json_group_array({element}{order})"),
            Dialect::Postgres => format!("coalesce(json_agg({element}{order}), '[]')"),
        }
    }

    /// A select of one JSON value: the array of `element` over the rows of `rows` (a
    /// `from …` clause) that already come in `order`, from a subquery with its own
    /// `order by` and `limit`; `[]` when there are none. SQLite takes them as they come:
    /// a second `order by`, or `json_group_array(… order by …)`, would sort them again in
    /// a temporary index. PostgreSQL's `json_agg` needs the order to keep it.
    pub(super) fn select_presorted(self, element: &str, rows: &str, order: &str) -> String {
        match self {
            Dialect::Sqlite => self.select_unordered(element, rows),
            Dialect::Postgres => format!("select {} {rows}", self.aggregate(element, Some(order))),
        }
    }

    /// A select of one JSON value: the array of `element` over the rows of `rows`, in no
    /// particular order; `[]` when there are none.
    pub(super) fn select_unordered(self, element: &str, rows: &str) -> String {
        match self {
            Dialect::Sqlite => Self::concatenated(&format!("select {element} as e {rows}")),
            Dialect::Postgres => format!("select {} {rows}", self.aggregate(element, None)),
        }
    }

    /// The JSON array of `[parent.id, children]` for every row of `ids as parent`, as the
    /// text column of a select; `children` selects one parent's children
    /// ([`Dialect::select_presorted`]).
    pub(super) fn select_families(self, children: &str) -> String {
        match self {
            // Text all the way: `json(…)` around each parent's children, which SQLite would
            // otherwise embed as a string, parses again what SQLite has just written.
            Dialect::Sqlite => format!(
                "select {} from ids as parent",
                Self::concatenated_array(&format!(
                    "'[' || parent.id || ',' || ({children}) || ']'"
                ))
            ),
            Dialect::Postgres => format!(
                "select {} from ids as parent",
                self.as_text(
                    &self.aggregate(&format!("json_build_array(parent.id, ({children}))"), None)
                )
            ),
        }
    }

    /// A select of the ids, as column `id`, in the JSON arrays of integers that `array`
    /// makes for each row of `ids as parent`; each id once when `distinct`. Through an
    /// array per parent because SQLite has no `lateral` join: a subquery in `from` cannot
    /// see `parent`, a table-valued function's argument can.
    pub(super) fn select_elements_of_parents(self, array: &str, distinct: bool) -> String {
        let distinct = if distinct { "distinct " } else { "" };
        match self {
            Dialect::Sqlite => format!(
                "select {distinct}e.value as id from ids as parent, json_each({array}) as e"
            ),
            Dialect::Postgres => format!(
                "select {distinct}e.value::bigint as id from ids as parent, \
                 json_array_elements_text({array}) as e(value)"
            ),
        }
    }

    /// A select of the integers in the JSON array `array`, one per row.
    pub(super) fn elements(self, array: &str) -> String {
        match self {
            Dialect::Sqlite => format!("select value from json_each({array})"),
            Dialect::Postgres => {
                format!("select value::bigint from json_array_elements_text({array})")
            }
        }
    }

    /// SQLite: the JSON array of the column `e` of `rows`, in the order they come.
    fn concatenated(rows: &str) -> String {
        format!("select {} from ({rows})", Self::concatenated_array("e"))
    }

    /// SQLite: the JSON array of the JSON texts `element` of the rows, in the order they come.
    fn concatenated_array(element: &str) -> String {
        format!("'[' || coalesce(group_concat({element}, ','), '') || ']'")
    }

    /// A JSON value as the text column a statement returns.
    pub(super) fn as_text(self, json: &str) -> String {
        match self {
            Dialect::Sqlite => json.to_owned(),
            Dialect::Postgres => format!("({json})::text"),
        }
    }

    /// The common table `ids` of the ids bound to `$1` as a JSON array
    /// ([`Sql::bind_ids`]), one per row in a column `id`, to start a statement with.
    pub(super) fn with_ids(self) -> String {
        let bound = match self {
            Dialect::Sqlite => "$1",
            Dialect::Postgres => "$1::json",
        };
        format!("with ids(id) as ({})", self.elements(bound))
    }
}

/// SQL text with the values bound to its placeholders.
///
/// `pub` only so that [`super::pages::Filter`] may name it: this module is private, so
/// nothing outside `db` can build a statement.
#[derive(Default)]
pub struct Sql {
    text: String,
    arguments: AnyArguments,
    /// Whether [`Sql::push_bind`] writes `?` rather than `$n` ([`Sql::of_many_values`]).
    anonymous_placeholders: bool,
}

impl Sql {
    /// A statement starting with `text`.
    pub(super) fn new(text: impl Display) -> Sql {
        let mut sql = Sql::default();
        sql.push(text);
        sql
    }

    /// A statement starting with `text` that binds many values, each through
    /// [`Sql::push_bind`]. On SQLite its placeholders are `?`, numbered by their place:
    /// SQLite looks each `$n` up among the statement's earlier ones, when it prepares the
    /// statement and again when sqlx binds it, so a thousand rows of four values spent
    /// most of an import in those searches.
    ///
    /// No placeholder may be written into it by hand (no `$n` in any text pushed, no
    /// [`Sql::bind`], so no [`Dialect::with_ids`]): SQLite would number a `?` after a `$1`
    /// as 2, where sqlx binds it to the first value.
    pub(super) fn of_many_values(dialect: Dialect, text: impl Display) -> Sql {
        let mut sql = Sql::new(text);
        sql.anonymous_placeholders = dialect == Dialect::Sqlite;
        sql
    }

    /// Appends SQL text, never a value from outside.
    pub(super) fn push(&mut self, text: impl Display) -> &mut Sql {
        let _ = write!(self.text, "{text}");
        self
    }

    /// Appends a placeholder bound to `value`.
    pub(super) fn push_bind<T>(&mut self, value: T) -> &mut Sql
    where
        T: for<'q> Encode<'q, Any> + Type<Any> + 'static,
    {
        self.bind(value);
        if self.anonymous_placeholders {
            self.text.push('?');
        } else {
            let _ = write!(self.text, "${}", self.arguments.len());
        }
        self
    }

    /// Binds `value` to the next placeholder, which the text already holds.
    pub(super) fn bind<T>(&mut self, value: T) -> &mut Sql
    where
        T: for<'q> Encode<'q, Any> + Type<Any> + 'static,
    {
        // Encoding into `Any`'s owned buffer does not fail for the types we bind.
        let _ = self.arguments.add(value);
        self
    }

    /// Binds `ids` as one JSON array to the next placeholder, which the text already holds
    /// ([`Dialect::with_ids`]). The text stays the same whatever the number of ids, so one
    /// prepared statement serves every batch, and SQLite's limit on bound variables does
    /// not apply.
    pub(super) fn bind_ids(&mut self, ids: &[i64]) -> &mut Sql {
        // serde_json writes integers without `write!`'s formatting machinery, and a list
        // of integers always serializes.
        let json = serde_json::to_string(ids).unwrap_or_default();
        self.bind(json)
    }

    /// The statement `around` makes of this one's text, with the same values bound: the
    /// placeholders keep their numbers, so `around` must add none.
    pub(super) fn wrap(self, around: impl FnOnce(&str) -> String) -> Sql {
        Sql {
            text: around(&self.text),
            arguments: self.arguments,
            anonymous_placeholders: self.anonymous_placeholders,
        }
    }

    /// Appends `items` separated by `separator`, each written by `each`.
    pub(super) fn push_list<T>(
        &mut self,
        items: impl IntoIterator<Item = T>,
        separator: &str,
        mut each: impl FnMut(&mut Sql, T),
    ) -> &mut Sql {
        for (index, item) in items.into_iter().enumerate() {
            if index > 0 {
                self.push(separator);
            }
            each(self, item);
        }
        self
    }

    /// Runs the statement on a reader. Its one row's one column is JSON text for a `T`;
    /// SQL null counts as an empty list.
    pub(super) async fn fetch_json<T: DeserializeOwned>(self, db: &Db) -> Result<T> {
        decode_json(self.fetch_text(db).await?)
    }

    /// Runs the statement on a reader and returns its one row's one text column.
    pub(super) async fn fetch_text(self, db: &Db) -> Result<Option<String>> {
        Ok(self
            .build_query_scalar()
            .fetch_one(&mut *db.read().await?)
            .await?)
    }

    /// The statement, for rows of any shape.
    pub(super) fn build(self) -> Query<'static, Any, AnyArguments> {
        sqlx::query_with(AssertSqlSafe(self.text), self.arguments)
    }

    /// The statement, each row read as an `R`.
    pub(super) fn build_query_as<R>(self) -> QueryAs<'static, Any, R, AnyArguments>
    where
        R: for<'r> FromRow<'r, AnyRow>,
    {
        sqlx::query_as_with(AssertSqlSafe(self.text), self.arguments)
    }

    /// The statement, each row's one column read as an `R`.
    pub(super) fn build_query_scalar<R>(self) -> QueryScalar<'static, Any, R, AnyArguments>
    where
        (R,): for<'r> FromRow<'r, AnyRow>,
    {
        sqlx::query_scalar_with(AssertSqlSafe(self.text), self.arguments)
    }
}

/// `value` as JSON text, to bind as one argument: rows as arrays of their columns (tuples),
/// which the statement takes apart again (`json_each` on SQLite, `jsonb_array_elements` on
/// PostgreSQL).
pub(super) fn encode_json<T: Serialize + ?Sized>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|error| sqlx::Error::Encode(Box::new(error)).into())
}

/// The `T` that a statement's JSON text column holds; SQL null counts as an empty list.
pub(super) fn decode_json<T: DeserializeOwned>(json: Option<String>) -> Result<T> {
    let json = json.as_deref().unwrap_or("[]");
    serde_json::from_str(json).map_err(|error| sqlx::Error::Decode(Box::new(error)).into())
}

/// `text` as a PostgreSQL string literal, for a statement that cannot bind it. An escape
/// string (`E'…'`) with its backslashes and quotes doubled reads back as `text` whatever
/// `standard_conforming_strings` says. `text` holds no NUL: PostgreSQL's text cannot, and
/// JSON writes it escaped.
pub(super) fn string_literal(text: &str) -> String {
    debug_assert!(!text.contains('\0'), "PostgreSQL's text holds no NUL");
    format!("E'{}'", text.replace('\\', "\\\\").replace('\'', "''"))
}

/// `limit n`, written into the statement's text: SQLite plans a bound limit with its value
/// and so prepares the statement again whenever a new value is bound, at every execution.
/// A statement per distinct `n` is far cheaper, and an integer cannot inject anything.
pub(super) fn limit(n: i64) -> String {
    format!("limit {n}")
}

/// Appends a `like` pattern matching `needle` anywhere, with LIKE's wildcards escaped so a
/// search for "100%" finds exactly that.
pub(super) fn push_contains(query: &mut Sql, column: &str, needle: &str) {
    let escaped = needle
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    query.push(format_args!(" {column} like "));
    query.push_bind(format!("%{escaped}%"));
    query.push(" escape '\\'");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_literals_keep_quotes_and_backslashes_as_written() {
        assert_eq!(
            string_literal(r"it's \' a \\ path"),
            r"E'it''s \\'' a \\\\ path'"
        );
    }

    #[test]
    fn placeholders_are_numbered_in_the_order_values_are_bound() {
        let mut sql = Sql::new("select * from book where id in (");
        sql.push_list([3_i64, 5, 8], ", ", |sql, id| {
            sql.push_bind(id);
        })
        .push(") and title_key like ")
        .push_bind("%a%".to_owned());
        assert_eq!(
            sql.text,
            "select * from book where id in ($1, $2, $3) and title_key like $4"
        );
        assert_eq!(sql.arguments.len(), 4);
    }

    #[test]
    fn many_values_take_positional_placeholders_on_sqlite_only() {
        let rows = |dialect| {
            let mut sql = Sql::of_many_values(dialect, "insert into t (a, b) values ");
            sql.push_list([(1_i64, 2_i64), (3, 4)], ", ", |sql, (a, b)| {
                sql.push("(").push_bind(a).push(", ").push_bind(b).push(")");
            });
            sql.text
        };
        assert_eq!(
            rows(Dialect::Sqlite),
            "insert into t (a, b) values (?, ?), (?, ?)"
        );
        assert_eq!(
            rows(Dialect::Postgres),
            "insert into t (a, b) values ($1, $2), ($3, $4)"
        );
    }
}
