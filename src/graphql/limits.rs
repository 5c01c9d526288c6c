//! Limits on what one operation may ask for, checked on the parsed document before it is
//! validated or run. A relationship graph nests without end (author -> books -> publishers
//! -> authors …), so depth, estimated cost, aliases and root fields are all bounded.
//! Introspection (`__schema`, `__type`, `__typename`) is free, so schema tooling keeps
//! working whatever the limits.

use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Field, Selection, SelectionSet,
};
use async_graphql::{Name, ServerError, ServerResult, Value, Variables};

/// The bounds an operation must stay within.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Deepest field nesting.
    pub max_depth: usize,
    /// Highest estimated cost: each field costs 1, and a list field multiplies the cost
    /// of what it selects by its `first` (20 when not given).
    pub max_complexity: u64,
    /// Most aliased fields.
    pub max_aliases: usize,
    /// Most fields at the root of an operation.
    pub max_root_fields: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 10,
            max_complexity: 100_000,
            max_aliases: 100,
            max_root_fields: 50,
        }
    }
}

/// How many items a list field without `first` is assumed to return: the connections'
/// default page size, and a fair guess for nested lists.
const ASSUMED_LIST_LENGTH: u64 = 20;

/// List fields of the schema; only these multiply what they select.
const LIST_FIELDS: [&str; 3] = ["authors", "books", "publishers"];

/// The async-graphql extension enforcing [`Limits`] on every parsed document.
pub struct QueryLimits(pub Limits);

impl ExtensionFactory for QueryLimits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(QueryLimits(self.0))
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for QueryLimits {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        check(&document, variables, &self.0).map_err(|message| {
            let mut error = ServerError::new(message, None);
            error
                .extensions
                .get_or_insert_with(Default::default)
                .set("code", "QUERY_TOO_COMPLEX");
            error
        })?;
        Ok(document)
    }
}

/// Checks every operation of `document`; the error says which limit and by how much.
pub fn check(
    document: &ExecutableDocument,
    variables: &Variables,
    limits: &Limits,
) -> Result<(), String> {
    let operations: Vec<&SelectionSet> = match &document.operations {
        DocumentOperations::Single(operation) => vec![&operation.node.selection_set.node],
        DocumentOperations::Multiple(operations) => operations
            .values()
            .map(|operation| &operation.node.selection_set.node)
            .collect(),
    };
    for selection_set in operations {
        let mut walk = Walk {
            document,
            variables,
            limits,
            aliases: 0,
            fragments_on_path: Vec::new(),
        };
        let root_fields = walk.root_fields(selection_set);
        if root_fields > limits.max_root_fields {
            return Err(format!(
                "the operation selects {root_fields} root fields; the limit is {}",
                limits.max_root_fields
            ));
        }
        let complexity = walk.cost(selection_set, 0)?;
        if complexity > limits.max_complexity {
            return Err(format!(
                "the operation's estimated cost is {complexity}; the limit is {}",
                limits.max_complexity
            ));
        }
    }
    Ok(())
}

struct Walk<'a> {
    document: &'a ExecutableDocument,
    variables: &'a Variables,
    limits: &'a Limits,
    aliases: usize,
    /// Fragments being expanded, to stop at a cycle (validation reports it).
    fragments_on_path: Vec<&'a Name>,
}

impl<'a> Walk<'a> {
    /// The fields of `set` (through fragments), each costing 1 plus what it selects.
    /// Stops as soon as a limit is passed, so recursion never goes deeper than the limit.
    fn cost(&mut self, set: &'a SelectionSet, depth: usize) -> Result<u64, String> {
        let mut cost: u64 = 0;
        for selection in &set.items {
            let selected = match &selection.node {
                Selection::Field(field) => self.field_cost(&field.node, depth + 1)?,
                Selection::InlineFragment(fragment) => {
                    self.cost(&fragment.node.selection_set.node, depth)?
                }
                Selection::FragmentSpread(spread) => {
                    let name = &spread.node.fragment_name.node;
                    match self.document.fragments.get(name) {
                        Some(fragment) if !self.fragments_on_path.contains(&name) => {
                            self.fragments_on_path.push(name);
                            let cost = self.cost(&fragment.node.selection_set.node, depth);
                            self.fragments_on_path.pop();
                            cost?
                        }
                        _ => 0,
                    }
                }
            };
            cost = cost.saturating_add(selected);
        }
        Ok(cost)
    }

    fn field_cost(&mut self, field: &'a Field, depth: usize) -> Result<u64, String> {
        if field.name.node.starts_with("__") {
            return Ok(0);
        }
        if field.alias.is_some() {
            self.aliases += 1;
            if self.aliases > self.limits.max_aliases {
                return Err(format!(
                    "the operation uses more than {} aliases",
                    self.limits.max_aliases
                ));
            }
        }
        if depth > self.limits.max_depth {
            return Err(format!(
                "the operation nests deeper than {} fields",
                self.limits.max_depth
            ));
        }
        let selected = self.cost(&field.selection_set.node, depth)?;
        Ok(1u64.saturating_add(self.list_length(field).saturating_mul(selected)))
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

    /// Fields at the root, through fragments, not counting introspection.
    fn root_fields(&self, set: &'a SelectionSet) -> usize {
        set.items
            .iter()
            .map(|selection| match &selection.node {
                Selection::Field(field) => usize::from(!field.node.name.node.starts_with("__")),
                Selection::InlineFragment(fragment) => {
                    self.root_fields(&fragment.node.selection_set.node)
                }
                Selection::FragmentSpread(_) => 1,
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::parse_query;

    use super::*;

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
            (nested(8), "nests deeper than 10"),
            (format!("{{ authors {{ nodes {{ {aliases} }} }} }}"), "more than 100 aliases"),
            (format!("{{ {roots} }}"), "51 root fields"),
            (
                "{ authors(first: 100) { nodes { books(first: 100) { publishers(first: 100) { name } } } } }".to_owned(),
                "estimated cost",
            ),
        ];
        for (query, expected) in cases {
            let error = check_query(&query, serde_json::json!({})).expect_err(expected);
            assert!(error.contains(expected), "{error}");
        }
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
