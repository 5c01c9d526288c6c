//! The schema's input types, to tell whether a request's variable values surely fit the
//! types its operation declares for them.
//!
//! async-graphql's strict validation checks every argument with the request's variable
//! values put in; the rest of it depends on the document alone. A document that passed it
//! once need not be walked by every rule again for the next request that sends it, as long
//! as that request's variables fit: [`InputTypes::fit`] says when they surely do. It errs
//! on the side of "not sure", which sends the request through strict validation, so a
//! value that does not fit is refused exactly as it always was.

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

    /// Whether every variable the operation declares surely has a value that fits its
    /// type: the one sent, or else the declared default (which validation of the document
    /// already checked). A variable sent no value and declared no default does not fit:
    /// strict validation skips an argument whose variables have no value, literal parts
    /// and all, so such a request proves nothing about the document.
    pub fn fit(
        &self,
        definitions: &[Positioned<VariableDefinition>],
        variables: &Variables,
    ) -> bool {
        definitions.iter().all(|definition| {
            let definition = &definition.node;
            match variables.get(&definition.name.node) {
                Some(value) => self.value_fits(&definition.var_type.node, value),
                None => definition.default_value.is_some(),
            }
        })
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
            (InputType::Int, Value::Number(number)) => number
                .as_i64()
                .is_some_and(|int| i32::try_from(int).is_ok()),
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

    /// Whether `variables` fit the variables `query` declares.
    fn fit(query: &str, variables: serde_json::Value) -> bool {
        let document = parse_query(query).expect("the query parses");
        let DocumentOperations::Single(operation) = document.operations else {
            panic!("one operation");
        };
        InputTypes::from_sdl(SDL).fit(
            &operation.node.variable_definitions,
            &Variables::from_json(variables),
        )
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
            json!({"n": -3, "id": null, "s": null, "o": {"field": "name", "direction": "DESC"}, "f": null})
        ));
    }

    #[test]
    fn values_of_other_types_do_not_fit() {
        let query = "query ($n: Int!, $o: Order) { x }";
        for variables in [
            json!({"n": "3"}),
            json!({"n": 1.5}),
            json!({"n": 4_000_000_000_i64}),
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
    fn defaults_stand_in_for_values_not_sent() {
        assert!(fit("query ($n: Int! = 3, $m: Int = null) { x }", json!({})));
        assert!(!fit("query ($m: Int) { x }", json!({})));
        assert!(fit("query ($m: Int) { x }", json!({"m": null})));
    }

    #[test]
    fn types_it_cannot_vouch_for_never_fit() {
        assert!(!fit("query ($p: Pick) { x }", json!({"p": {"a": 1}})));
        assert!(!fit("query ($m: Moment) { x }", json!({"m": "now"})));
        assert!(!fit("query ($u: Unknown) { x }", json!({"u": 1})));
    }
}
