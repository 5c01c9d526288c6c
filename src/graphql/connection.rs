//! Relay connections: a page of rows with cursors, page info and the total count.

use async_graphql::{OutputType, SimpleObject};

use super::ids::encode_cursor;
use super::types::{Author, Book, List, Publisher};
use crate::db::pages::Page;

/// Relay cursor pagination state.
#[derive(SimpleObject)]
pub struct PageInfo {
    /// Whether more items follow this page.
    pub has_next_page: bool,
    /// Whether items precede this page: true exactly when `after` was given.
    pub has_previous_page: bool,
    /// Cursor of the first item of this page; null when the page is empty.
    pub start_cursor: Option<String>,
    /// Cursor of the last item of this page, to pass as `after`; null when the page is empty.
    pub end_cursor: Option<String>,
}

/// One item of a page and its position.
#[derive(SimpleObject)]
#[graphql(concrete(name = "AuthorEdge", params(Author)))]
#[graphql(concrete(name = "BookEdge", params(Book)))]
#[graphql(concrete(name = "PublisherEdge", params(Publisher)))]
pub struct Edge<T: OutputType> {
    /// Opaque position of this item, to pass as `after`.
    pub cursor: String,
    /// The item.
    pub node: T,
}

/// One page of a list.
#[derive(SimpleObject)]
#[graphql(concrete(name = "AuthorConnection", params(Author)))]
#[graphql(concrete(name = "BookConnection", params(Book)))]
#[graphql(concrete(name = "PublisherConnection", params(Publisher)))]
pub struct Connection<T>
where
    T: OutputType,
    Edge<T>: OutputType,
    List<T>: OutputType,
{
    /// The items with their cursors.
    pub edges: Vec<Edge<T>>,
    /// The items alone.
    pub nodes: List<T>,
    /// Where this page lies.
    pub page_info: PageInfo,
    /// How many items match the filter, over all pages.
    pub total_count: i64,
}

impl<T> Connection<T>
where
    T: OutputType + Clone,
    Edge<T>: OutputType,
    List<T>: OutputType,
{
    /// The connection of `page`, a page of the list named `list` (which cursors carry).
    /// Cursors need the page's sort keys: without them (the client selected no cursor),
    /// there are none. Edges, each with a cursor and a copy of its node, are built only when
    /// `with_edges` (the client selected `edges`): most clients ask for `nodes` alone.
    pub fn new<R>(
        list: &str,
        page: Page<R>,
        after_given: bool,
        total_count: i64,
        with_edges: bool,
    ) -> Self
    where
        T: From<R>,
    {
        debug_assert!(
            !with_edges || page.keys.is_some(),
            "edges are made of the sort keys, which the page must have read"
        );
        let keys = page.keys.unwrap_or_default();
        let start_cursor = keys.first().map(|key| encode_cursor(list, key));
        let end_cursor = keys.last().map(|key| encode_cursor(list, key));
        let nodes: Vec<T> = page.rows.into_iter().map(T::from).collect();
        let edges = if with_edges {
            nodes
                .iter()
                .zip(&keys)
                .map(|(node, key)| Edge {
                    cursor: encode_cursor(list, key),
                    node: node.clone(),
                })
                .collect()
        } else {
            Vec::new()
        };
        Connection {
            nodes: List(nodes),
            edges,
            page_info: PageInfo {
                has_next_page: page.has_next_page,
                has_previous_page: after_given,
                start_cursor,
                end_cursor,
            },
            total_count,
        }
    }
}
