//! The schema's description of the graph's three object types: their fields, arguments
//! and documentation, as `schema.graphql` shows them. Their values come from
//! [`super::resolve`], which resolves a whole level of rows at once, so the types are
//! declared here rather than derived from per-object resolvers.

use async_graphql::registry::{
    Deprecation, MetaField, MetaInputValue, MetaType, MetaTypeId, Registry,
};
use async_graphql::{ID, InputType, OutputType};

use super::{Author, Book, List, Publisher};

/// Registers `T` as the object type `declare` describes.
pub(super) fn register<T: OutputType>(
    registry: &mut Registry,
    declare: fn(&mut Registry) -> MetaType,
) -> String {
    registry.create_output_type::<T, _>(MetaTypeId::Object, declare)
}

/// `Author`.
pub(super) fn author(registry: &mut Registry) -> MetaType {
    object(
        "Author",
        "An author of one or more books.",
        vec![
            field("id", "The author's ID.", id(registry)),
            field("firstName", "The author's first name.", string(registry)),
            field("lastName", "The author's last name.", string(registry)),
            field(
                "name",
                "First and last name joined by one space.",
                string(registry),
            ),
            nested(
                "books",
                "This author's books, ordered by title.",
                List::<Book>::create_type_info(registry),
                registry,
            ),
            nested(
                "publishers",
                "Publishers of at least one of this author's books, ordered by name.",
                List::<Publisher>::create_type_info(registry),
                registry,
            ),
            field(
                "bookCount",
                "How many books this author has.",
                int(registry),
            ),
        ],
    )
}

/// `Book`.
pub(super) fn book(registry: &mut Registry) -> MetaType {
    object(
        "Book",
        "A book, written by one author and published by one or more publishers.",
        vec![
            field("id", "The book's ID.", id(registry)),
            field("title", "The book's title.", string(registry)),
            field(
                "author",
                "The book's author.",
                Author::create_type_info(registry),
            ),
            nested(
                "publishers",
                "This book's publishers, ordered by name.",
                List::<Publisher>::create_type_info(registry),
                registry,
            ),
        ],
    )
}

/// `Publisher`.
pub(super) fn publisher(registry: &mut Registry) -> MetaType {
    object(
        "Publisher",
        "A publisher of books.",
        vec![
            field("id", "The publisher's ID.", id(registry)),
            field("name", "The publisher's name.", string(registry)),
            nested(
                "books",
                "Books this publisher publishes, ordered by title.",
                List::<Book>::create_type_info(registry),
                registry,
            ),
            nested(
                "authors",
                "Distinct authors of this publisher's books, ordered by last name, then first \
                 name.",
                List::<Author>::create_type_info(registry),
                registry,
            ),
            field(
                "bookCount",
                "How many books this publisher publishes.",
                int(registry),
            ),
            field(
                "authorCount",
                "How many distinct authors this publisher publishes.",
                int(registry),
            ),
        ],
    )
}

fn id(registry: &mut Registry) -> String {
    <ID as OutputType>::create_type_info(registry)
}

fn string(registry: &mut Registry) -> String {
    <String as OutputType>::create_type_info(registry)
}

fn int(registry: &mut Registry) -> String {
    <i64 as OutputType>::create_type_info(registry)
}

fn object(name: &str, description: &str, fields: Vec<MetaField>) -> MetaType {
    MetaType::Object {
        name: name.to_owned(),
        description: Some(description.to_owned()),
        fields: fields
            .into_iter()
            .map(|field| (field.name.clone(), field))
            .collect(),
        cache_control: Default::default(),
        extends: false,
        shareable: false,
        resolvable: true,
        inaccessible: false,
        interface_object: false,
        tags: Vec::new(),
        keys: None,
        visible: None,
        is_subscription: false,
        rust_typename: None,
        directive_invocations: Vec::new(),
        requires_scopes: Vec::new(),
    }
}

fn field(name: &str, description: &str, ty: String) -> MetaField {
    MetaField {
        name: name.to_owned(),
        description: Some(description.to_owned()),
        args: Default::default(),
        ty,
        deprecation: Deprecation::NoDeprecated,
        cache_control: Default::default(),
        external: false,
        requires: None,
        provides: None,
        visible: None,
        shareable: false,
        inaccessible: false,
        tags: Vec::new(),
        override_from: None,
        compute_complexity: None,
        directive_invocations: Vec::new(),
        requires_scopes: Vec::new(),
    }
}

/// A nested list field, taking `first`.
fn nested(name: &str, description: &str, ty: String, registry: &mut Registry) -> MetaField {
    let first = MetaInputValue {
        name: "first".to_owned(),
        description: Some("At most this many (0 to 100); all when omitted.".to_owned()),
        ty: <Option<i32> as InputType>::create_type_info(registry),
        deprecation: Deprecation::NoDeprecated,
        default_value: None,
        visible: None,
        inaccessible: false,
        tags: Vec::new(),
        is_secret: false,
        directive_invocations: Vec::new(),
    };
    let mut field = field(name, description, ty);
    field.args.insert(first.name.clone(), first);
    field
}
