//! The schema's input types, to tell whether a request's variable values surely fit the
//! types its operation declares for them.
//!
//! async-graphql's strict validation checks every argument with the variable values the
//! request sent put in, and skips an argument whose variables were not sent; the rest of it
//! depends on the document alone. So an operation that passed it with every variable sent
//! need not be walked by every rule again for a request whose variables fit their declared
//! types ([`Fit`]). [`InputTypes::fit`] errs on the side of "not sure", which sends the
//! request through strict validation, so a value that does not fit is refused exactly as
//! it always was.

use std::collections::HashMap;

use async_graphql::parser::parse_schema;
use async_graphql::parser::types::{
    BaseType, ConstDirective, TypeKind, TypeSystemDefinition, VariableDefinition,
};
use async_graphql::{Name, Positioned, Value, Variables};

/// What a value of a named input type may be.
#[derive(Debug)]
enum InputType {
    String,
    Int,
    Float,
    Boolean,
    Id,
    Enum(Vec<Name>),
    Object(Vec<InputField>),
}

#[derive(Debug)]
struct InputField {
    name: Name,
    ty: async_graphql::parser::types::Type,
    has_default: bool,
}

/// How a request's variables fit the variables its operation declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    /// Every variable was sent, and fits its type.
    Sent,
    /// Every variable fits its type; some were not sent and take their declared default
    /// (which validation of the document checked).
    WithDefaults,
    /// A value may not fit, or a variable without a default was not sent: strict
    /// validation has the last word.
    Unsure,
}

/// The input types of one schema, by name.
#[derive(Debug, Default)]
pub struct InputTypes(HashMap<Name, InputType>);

impl InputTypes {
    /// The input types `sdl` defines, with GraphQL's built-in scalars. Types it cannot
    /// vouch for (custom scalars, one-of input objects) are left out, and a variable of
    /// such a type never fits.
    pub fn from_sdl(sdl: &str) -> InputTypes {
        let mut types: HashMap<Name, InputType> = [
            ("String", InputType::String),
            ("Int", InputType::Int),
            ("Float", InputType::Float),
            ("Boolean", InputType::Boolean),
            ("ID", InputType::Id),
        ]
        .into_iter()
        .map(|(name, ty)| (Name::new(name), ty))
        .collect();
        let Ok(document) = parse_schema(sdl) else {
            return InputTypes(types);
        };
        for definition in document.definitions {
            let TypeSystemDefinition::Type(definition) = definition else {
                continue;
            };
            let definition = definition.node;
            let ty = match definition.kind {
                TypeKind::Enum(enumeration) => InputType::Enum(
                    enumeration
                        .values
                        .into_iter()
                        .map(|value| value.node.value.node)
                        .collect(),
                ),
                TypeKind::InputObject(object) if !is_one_of(&definition.directives) => {
                    InputType::Object(
                        object
                            .fields
                            .into_iter()
                            .map(|field| InputField {
                                name: field.node.name.node,
                                ty: field.node.ty.node,
                                has_default: field.node.default_value.is_some(),
                            })
                            .collect(),
                    )
                }
                _ => continue,
            };
            types.insert(definition.name.node, ty);
        }
        InputTypes(types)
    }

    /// How the request's `variables` fit the `definitions` of its operation. A `null` sent
    /// for a variable with a default does not fit: validation takes such a variable as
    /// non-null wherever it is used.
    pub fn fit(
        &self,
        definitions: &[Positioned<VariableDefinition>],
        variables: &Variables,
    ) -> Fit {
        let mut fit = Fit::Sent;
        for definition in definitions {
            let definition = &definition.node;
            let has_default = definition.default_value.is_some();
            match variables.get(&definition.name.node) {
                Some(Value::Null) if has_default => return Fit::Unsure,
                Some(value) if self.value_fits(&definition.var_type.node, value) => {}
                None if has_default => fit = Fit::WithDefaults,
                _ => return Fit::Unsure,
            }
        }
        fit
    }

    fn value_fits(&self, ty: &async_graphql::parser::types::Type, value: &Value) -> bool {
        if matches!(value, Value::Null) {
            return ty.nullable;
        }
        match &ty.base {
            // A single value stands for a list of one.
            BaseType::List(item) => match value {
                Value::List(items) => items
                    .iter()
                    .all(|item_value| self.value_fits(item, item_value)),
                _ => self.value_fits(item, value),
            },
            BaseType::Named(name) => self.named_fits(name, value),
        }
    }

    fn named_fits(&self, name: &Name, value: &Value) -> bool {
        let Some(ty) = self.0.get(name) else {
            return false;
        };
        match (ty, value) {
            (InputType::String, Value::String(_))
            | (InputType::Boolean, Value::Boolean(_))
            | (InputType::Float, Value::Number(_))
            | (InputType::Id, Value::String(_)) => true,
            // Within what every integer type that could stand for `Int` takes, signed or not.
            (InputType::Int, Value::Number(number)) => number
                .as_i64()
                .is_some_and(|int| (0..=i64::from(i32::MAX)).contains(&int)),
            (InputType::Id, Value::Number(number)) => number.is_i64(),
            (InputType::Enum(values), Value::String(value)) => {
                values.iter().any(|name| name.as_str() == value)
            }
            (InputType::Enum(values), Value::Enum(value)) => values.contains(value),
            (InputType::Object(fields), Value::Object(given)) => {
                given
                    .keys()
                    .all(|key| fields.iter().any(|field| field.name == *key))
                    && fields.iter().all(|field| match given.get(&field.name) {
                        Some(value) => self.value_fits(&field.ty, value),
                        None => field.has_default || field.ty.nullable,
                    })
            }
            _ => false,
        }
    }
}

fn is_one_of(directives: &[Positioned<ConstDirective>]) -> bool {
    directives
        .iter()
        .any(|directive| directive.node.name.node.eq_ignore_ascii_case("oneof"))
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::parse_query;
    use async_graphql::parser::types::DocumentOperations;
    use serde_json::json;

    use super::*;

    const SDL: &str = r#"
        enum Direction { ASC DESC }
        input Order { field: String!, direction: Direction = ASC }
        input Pick @oneOf { a: Int, b: Int }
        scalar Moment
        type Query { x: Int }
    "#;

    /// How `variables` fit the variables `query` declares.
    fn how(query: &str, variables: serde_json::Value) -> Fit {
        let document = parse_query(query).expect("the query parses");
        let DocumentOperations::Single(operation) = document.operations else {
            panic!("one operation");
        };
        InputTypes::from_sdl(SDL).fit(
            &operation.node.variable_definitions,
            &Variables::from_json(variables),
        )
    }

    /// Whether `variables` surely fit, sent or defaulted.
    fn fit(query: &str, variables: serde_json::Value) -> bool {
        how(query, variables) != Fit::Unsure
    }

    #[test]
    fn values_of_the_declared_types_fit() {
        let query = "query ($n: Int!, $id: ID, $s: [String!], $o: Order, $f: Float) { x }";
        assert!(fit(
            query,
            json!({"n": 3, "id": "7", "s": ["a"], "o": {"field": "name"}, "f": 1.5})
        ));
        assert!(fit(
            query,
            json!({"n": 3, "id": 7, "s": "one", "o": null, "f": 2})
        ));
        assert!(fit(
            query,
            json!({"n": 0, "id": null, "s": null, "o": {"field": "name", "direction": "DESC"}, "f": null})
        ));
    }

    #[test]
    fn values_of_other_types_do_not_fit() {
        let query = "query ($n: Int!, $o: Order) { x }";
        for variables in [
            json!({"n": "3"}),
            json!({"n": 1.5}),
            json!({"n": 4_000_000_000_i64}),
            json!({"n": -1}),
            json!({"n": null}),
            json!({}),
            json!({"n": 1, "o": {"field": 1}}),
            json!({"n": 1, "o": {}}),
            json!({"n": 1, "o": {"field": "name", "direction": "SIDEWAYS"}}),
            json!({"n": 1, "o": {"field": "name", "extra": true}}),
            json!({"n": 1, "o": "name"}),
            json!({"n": 1, "o": [{"field": "name"}]}),
        ] {
            assert!(!fit(query, variables.clone()), "{variables}");
        }
    }

    #[test]
    fn defaults_stand_in_for_values_not_sent_but_not_for_null() {
        let query = "query ($n: Int! = 3, $m: Int = 4) { x }";
        assert_eq!(how(query, json!({})), Fit::WithDefaults);
        assert_eq!(how(query, json!({"n": 1, "m": 2})), Fit::Sent);
        assert_eq!(how(query, json!({"n": 1, "m": null})), Fit::Unsure);
        assert_eq!(how("query ($m: Int) { x }", json!({})), Fit::Unsure);
        assert_eq!(how("query ($m: Int) { x }", json!({"m": null})), Fit::Sent);
    }

    #[test]
    fn the_schemas_own_input_types_are_known() {
        let types = InputTypes::from_sdl(&crate::graphql::sdl());
        for name in [
            "AddBookInput",
            "AuthorOrder",
            "OrderDirection",
            "BookFilter",
        ] {
            assert!(types.0.contains_key(name), "{name}");
        }
    }

    #[test]
    fn types_it_cannot_vouch_for_never_fit() {
        assert!(!fit("query ($p: Pick) { x }", json!({"p": {"a": 1}})));
        assert!(!fit("query ($m: Moment) { x }", json!({"m": "now"})));
        assert!(!fit("query ($u: Unknown) { x }", json!({"u": 1})));
    }
}
