//! Statements assembled at run time, with `$1, $2, …` placeholders.
//!
//! sqlx's `QueryBuilder` over the `Any` driver writes `?` placeholders, which PostgreSQL
//! refuses; `$n` is what both of our backends accept.

use std::fmt::{Display, Write as _};

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::{Query, QueryAs, QueryScalar};
use sqlx::{Any, Arguments as _, AssertSqlSafe, Encode, FromRow, Type};

/// SQL text with the values bound to its placeholders.
#[derive(Default)]
pub(super) struct Sql {
    text: String,
    arguments: AnyArguments,
}

impl Sql {
    /// A statement starting with `text`.
    pub(super) fn new(text: impl Display) -> Sql {
        let mut sql = Sql::default();
        sql.push(text);
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
        // Encoding into `Any`'s owned buffer does not fail for the types we bind.
        let _ = self.arguments.add(value);
        let _ = write!(self.text, "${}", self.arguments.len());
        self
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
