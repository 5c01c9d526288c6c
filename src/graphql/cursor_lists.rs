//! The name each top-level list and ordering writes into its cursors, and checks a cursor
//! against. Clients keep cursors between requests and across releases, so these strings
//! must never change: they are spelled out here rather than taken from `Debug`, which
//! renaming a variant would change, silently invalidating every cursor clients hold.

use super::inputs::{
    AuthorOrder, AuthorOrderField, BookOrder, BookOrderField, OrderDirection, PublisherOrder,
    PublisherOrderField,
};

impl AuthorOrder {
    /// The list its cursors belong to, e.g. `authors/BookCount/Desc`.
    pub fn cursor_list(self) -> String {
        let field = match self.field {
            AuthorOrderField::Name => "Name",
            AuthorOrderField::BookCount => "BookCount",
        };
        list("authors", field, self.direction)
    }
}

impl BookOrder {
    /// The list its cursors belong to, e.g. `books/Title/Asc`.
    pub fn cursor_list(self) -> String {
        let field = match self.field {
            BookOrderField::Title => "Title",
        };
        list("books", field, self.direction)
    }
}

impl PublisherOrder {
    /// The list its cursors belong to, e.g. `publishers/AuthorCount/Desc`.
    pub fn cursor_list(self) -> String {
        let field = match self.field {
            PublisherOrderField::Name => "Name",
            PublisherOrderField::BookCount => "BookCount",
            PublisherOrderField::AuthorCount => "AuthorCount",
        };
        list("publishers", field, self.direction)
    }
}

fn list(table: &str, field: &str, direction: OrderDirection) -> String {
    let direction = match direction {
        OrderDirection::Asc => "Asc",
        OrderDirection::Desc => "Desc",
    };
    format!("{table}/{field}/{direction}")
}

#[cfg(test)]
mod tests {
    use async_graphql::resolver_utils::EnumType;

    use super::*;

    /// Every ordering of `F` in both directions, made into a cursor list by `order`.
    fn every_list<F: EnumType + Copy>(order: impl Fn(F, OrderDirection) -> String) -> Vec<String> {
        let mut lists = Vec::new();
        for field in F::items() {
            for direction in OrderDirection::items() {
                lists.push(order(field.value, direction.value));
            }
        }
        lists
    }

    #[test]
    fn every_ordering_keeps_the_list_name_cursors_were_issued_with() {
        // The names cursors carry since they were first issued (then from `Debug`). A new
        // field or direction fails here until its name is pinned too.
        let pinned = [
            "authors/Name/Asc",
            "authors/Name/Desc",
            "authors/BookCount/Asc",
            "authors/BookCount/Desc",
            "books/Title/Asc",
            "books/Title/Desc",
            "publishers/Name/Asc",
            "publishers/Name/Desc",
            "publishers/BookCount/Asc",
            "publishers/BookCount/Desc",
            "publishers/AuthorCount/Asc",
            "publishers/AuthorCount/Desc",
        ];
        let mut lists =
            every_list(|field, direction| AuthorOrder { field, direction }.cursor_list());
        lists.extend(every_list(|field, direction| {
            BookOrder { field, direction }.cursor_list()
        }));
        lists.extend(every_list(|field, direction| {
            PublisherOrder { field, direction }.cursor_list()
        }));
        assert_eq!(lists, pinned);
    }
}
