//! A selection on one of the graph's object types, compiled once for all the rows it is
//! resolved on: fragments spread, fields of one response key merged (GraphQL's
//! CollectFields), arguments read. async-graphql has already dropped what `@skip` and
//! `@include` leave out, and validation has checked every name and argument.

use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{Field, Selection, SelectionSet};
use async_graphql::{ContextSelectionSet, Name, Pos, Positioned, ServerError, ServerResult, Value};

/// The fields of one object type, each compiled from its selection.
pub(super) trait Fields: Sized + Send + Sync {
    /// The GraphQL type's name.
    const TYPE: &'static str;

    /// The field `name`, selected under one response key by `occurrences` (one or more,
    /// merged), in the operation of `ctx`.
    fn compile(
        ctx: &ContextSelectionSet<'_>,
        name: &str,
        occurrences: &[&Positioned<Field>],
    ) -> ServerResult<Self>;

    /// The values the field puts in the response for one row: a nested list counts as one
    /// (its items are charged to the response budget when it resolves, per parent), an
    /// object as everything it selects.
    fn values(&self) -> u64;
}

/// What a selection asks of each row, in response order.
pub(super) struct Plan<F> {
    /// The selected fields, one per response key.
    pub fields: Vec<Selected<F>>,
    /// The values one row puts in the response ([`Fields::values`]), itself included.
    pub values_per_item: u64,
    /// A row's object with every key in place and null values, to be copied per row: a copy
    /// of its hash table costs a fraction of hashing each key into a new one.
    pub object: IndexMap<Name, Value>,
}

/// One field of a plan.
pub(super) struct Selected<F> {
    /// The field's response key: its alias, or its name.
    pub key: Name,
    /// Where the field is in the document, for errors.
    pub pos: Pos,
    /// What it resolves to.
    pub field: Member<F>,
}

/// A field of the type, or the `__typename` every type has.
pub(super) enum Member<F> {
    Typename,
    Field(F),
}

/// A nested list of a relation: at most `first` children (all when absent), each resolved
/// by `plan`.
pub(super) struct Nested<F> {
    /// The `first` argument, checked when the list resolves (a list never resolved has
    /// no argument to refuse).
    pub first: Option<i32>,
    /// The children's selection.
    pub plan: Plan<F>,
}

impl<F: Fields> Plan<F> {
    /// The plan of `sets`, the selection sets of one field (several when it is selected
    /// more than once under one key).
    pub fn compile(
        ctx: &ContextSelectionSet<'_>,
        sets: &[&Positioned<SelectionSet>],
    ) -> ServerResult<Plan<F>> {
        let mut keys: Vec<(&Name, Vec<&Positioned<Field>>)> = Vec::new();
        for set in sets {
            collect(ctx, F::TYPE, set, &mut keys);
        }
        let fields = keys
            .into_iter()
            .map(|(key, occurrences)| {
                let first = occurrences[0];
                let name = first.node.name.node.as_str();
                let field = match name {
                    "__typename" => Member::Typename,
                    _ => Member::Field(F::compile(ctx, name, &occurrences)?),
                };
                Ok(Selected {
                    key: key.clone(),
                    pos: first.pos,
                    field,
                })
            })
            .collect::<ServerResult<Vec<_>>>()?;
        let values_per_item = fields
            .iter()
            .map(|selected| match &selected.field {
                Member::Typename => 1,
                Member::Field(field) => field.values(),
            })
            .fold(1, u64::saturating_add);
        let object = fields
            .iter()
            .map(|selected| (selected.key.clone(), Value::Null))
            .collect();
        Ok(Plan {
            fields,
            values_per_item,
            object,
        })
    }
}

impl<F: Fields> Nested<F> {
    /// The nested list selected by `occurrences`.
    pub fn compile(
        ctx: &ContextSelectionSet<'_>,
        occurrences: &[&Positioned<Field>],
    ) -> ServerResult<Nested<F>> {
        let (_, first) = ctx
            .with_field(occurrences[0])
            .param_value::<Option<i32>>("first", None)?;
        Ok(Nested {
            first,
            plan: object_plan(ctx, occurrences)?,
        })
    }
}

/// The plan of the object every one of `occurrences` selects.
pub(super) fn object_plan<F: Fields>(
    ctx: &ContextSelectionSet<'_>,
    occurrences: &[&Positioned<Field>],
) -> ServerResult<Plan<F>> {
    let sets: Vec<_> = occurrences
        .iter()
        .map(|field| &field.node.selection_set)
        .collect();
    Plan::compile(ctx, &sets)
}

/// Appends the fields `set` selects on `type_name` to `keys`, grouped by response key in
/// the order keys first appear, through fragments.
fn collect<'a>(
    ctx: &ContextSelectionSet<'a>,
    type_name: &str,
    set: &'a Positioned<SelectionSet>,
    keys: &mut Vec<(&'a Name, Vec<&'a Positioned<Field>>)>,
) {
    for selection in &set.node.items {
        match &selection.node {
            Selection::Field(field) => {
                let key = &field.node.response_key().node;
                match keys.iter_mut().find(|(seen, _)| *seen == key) {
                    Some((_, occurrences)) => occurrences.push(field),
                    None => keys.push((key, vec![field])),
                }
            }
            Selection::FragmentSpread(spread) => {
                let fragment = ctx.query_env.fragments.get(&spread.node.fragment_name.node);
                if let Some(fragment) = fragment
                    && fragment.node.type_condition.node.on.node == type_name
                {
                    collect(ctx, type_name, &fragment.node.selection_set, keys);
                }
            }
            Selection::InlineFragment(inline) => {
                let applies = inline
                    .node
                    .type_condition
                    .as_ref()
                    .is_none_or(|condition| condition.node.on.node == type_name);
                if applies {
                    collect(ctx, type_name, &inline.node.selection_set, keys);
                }
            }
        }
    }
}

/// The error for a field the type does not have; validation refuses such documents first.
pub(super) fn unknown_field(type_name: &str, name: &str, pos: Pos) -> ServerError {
    ServerError::new(format!("{type_name} has no field {name:?}"), Some(pos))
}
