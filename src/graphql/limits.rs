//! Limits on what one operation may ask for, checked on the parsed document before it is
//! validated or run. A relationship graph nests without end (author -> books -> publishers
//! -> authors …), so depth, estimated cost, aliases and root fields are all bounded.
//! Introspection (`__schema`, `__type`, `__typename`) is free, so schema tooling keeps
//! working whatever the limits.

use std::collections::HashMap;

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Field, OperationDefinition, Selection, SelectionSet,
};
use async_graphql::{Name, ServerError, Value, Variables};

use crate::config;
use crate::error::Code;

/// The bounds an operation must stay within.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Deepest field nesting.
    pub max_depth: usize,
    /// Highest estimated cost: each field costs 1, and a list field multiplies the cost
    /// of what it selects by its `first` ([`config::PAGE_SIZE`] when not given).
    pub max_complexity: u64,
    /// Most aliased fields.
    pub max_aliases: usize,
    /// Most fields at the root of an operation.
    pub max_root_fields: usize,
    /// Most values nested lists may put in a response: each item, and each field selected
    /// in it, counted per parent and per alias while the response is built.
    pub max_response_values: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 10,
            max_complexity: 100_000,
            max_aliases: 100,
            max_root_fields: 50,
            max_response_values: 250_000,
        }
    }
}

/// How many items a list field without `first` is assumed to return: the connections'
/// default page size, and a fair guess for nested lists.
const ASSUMED_LIST_LENGTH: u64 = config::PAGE_SIZE as u64;

/// List fields of the schema; only these multiply what they select.
pub(super) const LIST_FIELDS: [&str; 3] = ["authors", "books", "publishers"];

/// `document` checked against `limits`: `None` when it may run, otherwise the error to
/// answer with. Runs before async-graphql's own checks, which walk every fragment spread as
/// often as it is spread, so a document that would make them (or execution) explode is
/// refused here first.
///
/// A plain function rather than an async-graphql extension: any extension sends every
/// field of every response through async-graphql's slower resolve path.
pub fn refusal(
    document: &ExecutableDocument,
    variables: &Variables,
    limits: &Limits,
) -> Option<ServerError> {
    let message = check(document, variables, limits).err()?;
    Some(Code::QueryTooComplex.server_error(message))
}

/// Checks every operation of `document`; the error says which limit and by how much.
pub fn check(
    document: &ExecutableDocument,
    variables: &Variables,
    limits: &Limits,
) -> Result<(), String> {
    let operations: Vec<&OperationDefinition> = match &document.operations {
        DocumentOperations::Single(operation) => vec![&operation.node],
        DocumentOperations::Multiple(operations) => operations
            .values()
            .map(|operation| &operation.node)
            .collect(),
    };
    for operation in operations {
        let variables = with_defaults(variables, operation);
        let mut walk = Walk {
            document,
            variables: &variables,
            fragments: HashMap::new(),
            fragments_on_path: Vec::new(),
        };
        let size = walk.size(&operation.selection_set.node)?;
        let exceeded = [
            (size.top, limits.max_root_fields as u64, "root fields"),
            (
                size.depth as u64,
                limits.max_depth as u64,
                "levels of nested fields",
            ),
            (size.aliases, limits.max_aliases as u64, "aliases"),
            (size.cost, limits.max_complexity, "units of estimated cost"),
            (
                size.fields,
                MAX_EXPANDED_FIELDS,
                "fields once its fragments are expanded",
            ),
        ];
        if let Some((value, limit, what)) =
            exceeded.into_iter().find(|(value, limit, _)| value > limit)
        {
            return Err(format!(
                "the operation has {} {what}; the limit is {limit}",
                shown(value)
            ));
        }
    }
    Ok(())
}

/// The request's variables, plus the operation's declared defaults for those it omits:
/// `query($n: Int = 100)` costs what it will run as.
fn with_defaults(variables: &Variables, operation: &OperationDefinition) -> Variables {
    let mut variables = variables.clone();
    for definition in &operation.variable_definitions {
        let definition = &definition.node;
        if let Some(default) = &definition.default_value {
            variables
                .entry(definition.name.node.clone())
                .or_insert_with(|| default.node.clone());
        }
    }
    variables
}

/// Fields an operation may select once fragments are expanded, introspection included:
/// fragments spread twice in each of thirty fragments would otherwise ask for a billion.
const MAX_EXPANDED_FIELDS: u64 = 20_000;

/// Fragments spread inside fragments at most this deep, so the walk's recursion stays
/// bounded whatever the document.
const MAX_FRAGMENT_NESTING: usize = 64;

fn shown(value: u64) -> String {
    if value == u64::MAX {
        "more than 2^64".to_owned()
    } else {
        value.to_string()
    }
}

/// What a selection set asks for, summed over its fields (through fragments).
#[derive(Debug, Clone, Copy, Default)]
struct Size {
    /// Each field costs 1 plus its list length times what it selects; introspection is free.
    cost: u64,
    /// Deepest nesting of non-introspection fields.
    depth: usize,
    aliases: u64,
    /// Fields of any kind, as often as fragments repeat them.
    fields: u64,
    /// Non-introspection fields at the top of the set, through fragments.
    top: u64,
}

impl Size {
    fn and(self, other: Size) -> Size {
        Size {
            cost: self.cost.saturating_add(other.cost),
            depth: self.depth.max(other.depth),
            aliases: self.aliases.saturating_add(other.aliases),
            fields: self.fields.saturating_add(other.fields),
            top: self.top.saturating_add(other.top),
        }
    }
}

struct Walk<'a> {
    document: &'a ExecutableDocument,
    variables: &'a Variables,
    /// Each fragment's size, computed once: a fragment spread many times, in fragments
    /// spread many times, costs one visit, not exponentially many.
    fragments: HashMap<&'a Name, Size>,
    /// Fragments being expanded, to stop at a cycle (validation reports it).
    fragments_on_path: Vec<&'a Name>,
}

impl<'a> Walk<'a> {
    fn size(&mut self, set: &'a SelectionSet) -> Result<Size, String> {
        let mut size = Size::default();
        for selection in &set.items {
            let selected = match &selection.node {
                Selection::Field(field) => Size {
                    top: u64::from(!field.node.name.node.starts_with("__")),
                    ..self.field_size(&field.node)?
                },
                Selection::InlineFragment(fragment) => {
                    self.size(&fragment.node.selection_set.node)?
                }
                Selection::FragmentSpread(spread) => {
                    self.fragment_size(&spread.node.fragment_name.node)?
                }
            };
            size = size.and(selected);
        }
        Ok(size)
    }

    fn field_size(&mut self, field: &'a Field) -> Result<Size, String> {
        let selected = self.size(&field.selection_set.node)?;
        let aliases = selected
            .aliases
            .saturating_add(u64::from(field.alias.is_some()));
        let fields = selected.fields.saturating_add(1);
        if field.name.node.starts_with("__") {
            return Ok(Size {
                aliases,
                fields,
                ..Size::default()
            });
        }
        Ok(Size {
            cost: self
                .list_length(field)
                .saturating_mul(selected.cost)
                .saturating_add(1),
            depth: selected.depth + 1,
            aliases,
            fields,
            top: 0,
        })
    }

    fn fragment_size(&mut self, name: &'a Name) -> Result<Size, String> {
        if let Some(size) = self.fragments.get(name) {
            return Ok(*size);
        }
        let Some(fragment) = self.document.fragments.get(name) else {
            return Ok(Size::default());
        };
        if self.fragments_on_path.contains(&name) {
            return Ok(Size::default());
        }
        if self.fragments_on_path.len() >= MAX_FRAGMENT_NESTING {
            return Err(format!(
                "fragments nest more than {MAX_FRAGMENT_NESTING} deep"
            ));
        }
        self.fragments_on_path.push(name);
        let size = self.size(&fragment.node.selection_set.node);
        self.fragments_on_path.pop();
        let size = size?;
        self.fragments.insert(name, size);
        Ok(size)
    }

    /// How many items a field returns at most, from its `first` argument.
    fn list_length(&self, field: &Field) -> u64 {
        if !LIST_FIELDS.contains(&field.name.node.as_str()) {
            return 1;
        }
        let first = field
            .arguments
            .iter()
            .find(|(name, _)| name.node == "first")
            .and_then(|(_, value)| {
                let value = value.node.clone().into_const_with(|name| {
                    Ok::<_, ()>(self.variables.get(&name).cloned().unwrap_or(Value::Null))
                });
                match value {
                    Ok(Value::Number(number)) => number.as_u64(),
                    _ => None,
                }
            });
        first.unwrap_or(ASSUMED_LIST_LENGTH)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use async_graphql::parser::types::{BaseType, TypeKind, TypeSystemDefinition};
    use async_graphql::parser::{parse_query, parse_schema};

    use super::*;

    #[test]
    fn list_fields_are_every_field_of_the_schema_returning_a_list_or_connection() {
        let schema = parse_schema(crate::graphql::sdl()).expect("our SDL parses");
        let (mut lists, mut singles) = (BTreeSet::new(), BTreeSet::new());
        for definition in &schema.definitions {
            let TypeSystemDefinition::Type(ty) = definition else {
                continue;
            };
            let TypeKind::Object(object) = &ty.node.kind else {
                continue;
            };
            // A connection's `edges` and `nodes` are its page, counted once at the field
            // returning the connection.
            if ty.node.name.node.ends_with("Connection") {
                continue;
            }
            for field in &object.fields {
                let returns_list = match &field.node.ty.node.base {
                    BaseType::List(_) => true,
                    BaseType::Named(name) => name.ends_with("Connection"),
                };
                let name = field.node.name.node.to_string();
                if returns_list {
                    lists.insert(name);
                } else {
                    singles.insert(name);
                }
            }
        }
        let listed: BTreeSet<String> = LIST_FIELDS.iter().map(|&name| name.to_owned()).collect();
        assert_eq!(
            lists, listed,
            "LIST_FIELDS names every list field, and only those"
        );
        // Fields are matched by name alone, whatever their parent type.
        assert!(
            lists.is_disjoint(&singles),
            "a list field shares its name with a single one: {:?}",
            lists.intersection(&singles).collect::<Vec<_>>()
        );
    }

    fn check_query(query: &str, variables: serde_json::Value) -> Result<(), String> {
        let document = parse_query(query).expect("test queries parse");
        check(
            &document,
            &Variables::from_json(variables),
            &Limits::default(),
        )
    }

    fn nested(depth: usize) -> String {
        let mut query = String::from("{ ");
        for level in 0..depth {
            query.push_str(if level % 2 == 0 {
                "authors { nodes { "
            } else {
                "books { "
            });
        }
        query.push_str("__typename");
        query.push_str(&" }".repeat(depth + depth.div_ceil(2) + 1));
        query
    }

    /// Forty fragments, each spreading the next twice: 2^40 fields once expanded.
    fn fragment_bomb(levels: usize) -> String {
        let mut query = String::from("query { ...F0 }");
        for level in 0..levels {
            let next = level + 1;
            query.push_str(&format!(
                " fragment F{level} on Query {{ ...F{next} ...F{next} }}"
            ));
        }
        query.push_str(&format!(" fragment F{levels} on Query {{ __typename }}"));
        query
    }

    #[test]
    fn ordinary_reports_pass() {
        let cases = [
            "{ authors(first: 100) { nodes { name books { title publishers { name } } } } }",
            "{ publishers(first: 10) { nodes { name authors(first: 10) { name books(first: 5) { title publishers { name } } } } } }",
            "{ publishers(first: 100, orderBy: {field: BOOK_COUNT, direction: DESC}) { nodes { name bookCount authorCount } } }",
        ];
        for query in cases {
            assert_eq!(check_query(query, serde_json::json!({})), Ok(()), "{query}");
        }
    }

    #[test]
    fn each_limit_is_enforced() {
        let aliases: String = (0..101).map(|n| format!("a{n}: name ")).collect();
        let roots: String = (0..51)
            .map(|n| format!("a{n}: author(id: {n}) {{ name }} "))
            .collect();
        let cases = [
            (nested(8), "12 levels of nested fields; the limit is 10"),
            (format!("{{ authors {{ nodes {{ {aliases} }} }} }}"), "101 aliases; the limit is 100"),
            (format!("{{ {roots} }}"), "51 root fields; the limit is 50"),
            (
                "{ authors(first: 100) { nodes { books(first: 100) { publishers(first: 100) { name } } } } }".to_owned(),
                "units of estimated cost",
            ),
            (fragment_bomb(40), "fields once its fragments are expanded"),
        ];
        for (query, expected) in cases {
            let error = check_query(&query, serde_json::json!({})).expect_err(expected);
            assert!(error.contains(expected), "{error}");
        }
    }

    #[test]
    fn root_fields_count_through_fragments_and_defaults_count_as_variables() {
        let roots: String = (0..51)
            .map(|n| format!("a{n}: author(id: {n}) {{ name }} "))
            .collect();
        let spread = format!("{{ ...Roots }} fragment Roots on Query {{ {roots} }}");
        let error = check_query(&spread, serde_json::json!({})).expect_err("51 roots");
        assert!(error.contains("51 root fields"), "{error}");

        let defaulted = "query($n: Int = 100) { authors(first: $n) { nodes { books(first: $n) { publishers(first: $n) { name } } } } }";
        let error = check_query(defaulted, serde_json::json!({})).expect_err("default 100");
        assert!(error.contains("estimated cost"), "{error}");
        assert_eq!(
            check_query(defaulted, serde_json::json!({ "n": 5 })),
            Ok(())
        );
    }

    #[test]
    fn first_from_a_variable_counts() {
        let query = "query($n: Int) { authors(first: $n) { nodes { books(first: $n) { publishers(first: $n) { name } } } } }";
        assert_eq!(check_query(query, serde_json::json!({ "n": 5 })), Ok(()));
        assert!(check_query(query, serde_json::json!({ "n": 100 })).is_err());
    }

    #[test]
    fn introspection_is_free_and_fragment_cycles_end() {
        let introspection = format!(
            "{{ __schema {{ types {{ fields {{ type {{ {} name {} }} }} }} }} }}",
            "ofType { ".repeat(12),
            "} ".repeat(12)
        );
        assert_eq!(check_query(&introspection, serde_json::json!({})), Ok(()));
        let cycle = "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }";
        assert_eq!(check_query(cycle, serde_json::json!({})), Ok(()));
    }
}
