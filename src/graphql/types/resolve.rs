//! Resolves a plan level by level: each field is one column over all the rows of its
//! level, and each relation one batched load for all of them, whose children form the next
//! level. The statements a response costs follow its depth, and the work its rows cost is
//! a few loops, not a future, a context and a map per field of every row.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use async_graphql::{
    ContextSelectionSet, Name, PathSegment, Pos, ServerError, ServerResult, Value,
};
use futures_util::future::{BoxFuture, try_join_all};

use super::plan::{Fields, Member, Nested, Plan};
use crate::db::models::Families;
use crate::error::{ClientError, Error};
use crate::graphql::budget::ResponseBudget;
use crate::graphql::ids::nested_first;
use crate::graphql::loaders::{ById, Catalog, Keyed, ListsOf, Loaders, Relation};

/// The fields of a type whose values come from rows of `Row`.
pub(super) trait Resolve: Fields {
    /// The row each object is made of.
    type Row: Send + Sync + 'static;

    /// The field's value for each of `rows`, in order.
    fn column<'a>(
        &'a self,
        scope: &'a Scope<'a>,
        rows: &'a [&'a Self::Row],
        site: Site<'a>,
    ) -> BoxFuture<'a, ServerResult<Vec<Value>>>;
}

/// What every level of one resolution shares.
pub(super) struct Scope<'a> {
    /// The context of the field the resolution started at.
    ctx: &'a ContextSelectionSet<'a>,
    loaders: &'a Loaders,
    /// Subscriptions carry none: see `graphql::BookSchema::operation`.
    budget: Option<&'a ResponseBudget>,
}

impl<'a> Scope<'a> {
    /// The scope of a resolution starting at `ctx`.
    pub fn new(ctx: &'a ContextSelectionSet<'a>) -> Self {
        // `graphql::execute` and `graphql::subscribe` attach loaders to every request, so
        // their absence is a programming error, not a client's.
        let loaders = ctx.data_unchecked::<Loaders>();
        let budget = ctx.data_opt::<Arc<ResponseBudget>>().map(Arc::as_ref);
        Scope {
            ctx,
            loaders,
            budget,
        }
    }
}

/// Where the rows of a level sit in the response, to give an error its path.
pub(super) enum Origin<'a> {
    /// The rows the resolution started with: the items of a list, or one object.
    Start { listed: bool },
    /// Rows reached through the field `key` of the rows of `above`: for each, the index of
    /// its parent there and its index in the parent's list (`None` under an object field).
    Below {
        above: &'a Origin<'a>,
        key: &'a Name,
        parents: Vec<(usize, Option<usize>)>,
    },
}

impl Origin<'_> {
    /// Appends the path of row `row` of this level, below the field resolution started at.
    fn path(&self, row: usize, path: &mut Vec<PathSegment>) {
        match self {
            Origin::Start { listed } => {
                if *listed {
                    path.push(PathSegment::Index(row));
                }
            }
            Origin::Below {
                above,
                key,
                parents,
            } => {
                let (parent, index) = parents.get(row).copied().unwrap_or((0, None));
                above.path(parent, path);
                path.push(PathSegment::Field(key.to_string()));
                if let Some(index) = index {
                    path.push(PathSegment::Index(index));
                }
            }
        }
    }
}

/// The field a column is resolved for, on the rows of a level.
#[derive(Clone, Copy)]
pub(super) struct Site<'a> {
    origin: &'a Origin<'a>,
    key: &'a Name,
    pos: Pos,
}

impl<'a> Site<'a> {
    /// The level of the rows this field leads to, each with its parent's index among the
    /// level's rows and its index in that parent's list (`None` under an object field).
    fn below(self, parents: Vec<(usize, Option<usize>)>) -> Origin<'a> {
        Origin::Below {
            above: self.origin,
            key: self.key,
            parents,
        }
    }

    /// `error` as the field's error on the level's first row, where async-graphql, which
    /// resolves rows one by one, would meet it first.
    fn error(&self, scope: &Scope<'_>, error: impl Into<ClientError>) -> ServerError {
        let error = async_graphql::Error::from(error.into()).into_server_error(self.pos);
        let mut error = scope.ctx.set_error_path(error);
        self.origin.path(0, &mut error.path);
        error.path.push(PathSegment::Field(self.key.to_string()));
        error
    }
}

/// The objects `plan` makes of `rows`, in order.
pub(super) fn objects<'a, F: Resolve>(
    scope: &'a Scope<'a>,
    plan: &'a Plan<F>,
    rows: &'a [&'a F::Row],
    origin: &'a Origin<'a>,
) -> BoxFuture<'a, ServerResult<Vec<Value>>> {
    Box::pin(async move {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let columns = plan.fields.iter().map(|selected| {
            let site = Site {
                origin,
                key: &selected.key,
                pos: selected.pos,
            };
            match &selected.field {
                Member::Typename => {
                    let name = Value::String(F::TYPE.to_owned());
                    Box::pin(std::future::ready(Ok(vec![name; rows.len()])))
                }
                Member::Field(field) => field.column(scope, rows, site),
            }
        });
        let mut columns: Vec<_> = try_join_all(columns)
            .await?
            .into_iter()
            .map(Vec::into_iter)
            .collect();
        let objects = (0..rows.len())
            .map(|_| {
                let mut object = plan.object.clone();
                for (value, column) in object.values_mut().zip(&mut columns) {
                    *value = column.next().unwrap_or_default();
                }
                Value::Object(object)
            })
            .collect();
        Ok(objects)
    })
}

/// A column read off each row.
pub(super) fn read<'a, R>(
    rows: &[&R],
    value: impl Fn(&R) -> Value,
) -> BoxFuture<'a, ServerResult<Vec<Value>>> {
    let values = rows.iter().map(|row| value(row)).collect();
    Box::pin(std::future::ready(Ok(values)))
}

/// For each of the `owners`, its list of children along relation `R`, as `nested` selects
/// them: one load for the level, one resolution of all the children together.
pub(super) fn list<'a, R, F>(
    scope: &'a Scope<'a>,
    nested: &'a Nested<F>,
    owners: Vec<i64>,
    site: Site<'a>,
) -> BoxFuture<'a, ServerResult<Vec<Value>>>
where
    R: Relation,
    F: Resolve<Row = R::Row>,
    Catalog: Loader<ListsOf<R>, Value = Arc<Families<R::Row>>, Error = Arc<Error>>,
{
    Box::pin(async move {
        let first = nested_first(nested.first).map_err(|error| site.error(scope, error))?;
        let read_ahead = scope.loaders.loader().read_ahead::<R>(&owners, first);
        let owners: Arc<[i64]> = owners.into();
        let families = match read_ahead {
            Some(families) => families.map_err(|error| site.error(scope, error))?,
            None => scope
                .loaders
                .load_one(ListsOf::<R>::new(Arc::clone(&owners), first))
                .await
                .map_err(|error| site.error(scope, error))?
                .ok_or_else(|| {
                    site.error(scope, Error::Inconsistent("a level's lists went missing"))
                })?,
        };
        let lists: Vec<&[R::Row]> = owners.iter().map(|&owner| families.of(owner)).collect();
        let children: Vec<&R::Row> = lists.iter().flat_map(|list| list.iter()).collect();
        if let Some(budget) = scope.budget {
            let values = u64::try_from(children.len())
                .unwrap_or(u64::MAX)
                .saturating_mul(nested.plan.values_per_item);
            budget
                .charge(values)
                .map_err(|error| site.error(scope, error))?;
        }
        let origin = site.below(
            lists
                .iter()
                .enumerate()
                .flat_map(|(parent, list)| (0..list.len()).map(move |index| (parent, Some(index))))
                .collect(),
        );
        let mut values = objects(scope, &nested.plan, &children, &origin)
            .await?
            .into_iter();
        Ok(lists
            .iter()
            .map(|list| Value::List(values.by_ref().take(list.len()).collect()))
            .collect())
    })
}

/// For each of `ids`, the object `plan` makes of the row `T` with that id, which
/// must exist (a foreign key names it).
pub(super) fn object<'a, T, F>(
    scope: &'a Scope<'a>,
    plan: &'a Plan<F>,
    ids: Vec<i64>,
    site: Site<'a>,
) -> BoxFuture<'a, ServerResult<Vec<Value>>>
where
    T: Keyed,
    F: Resolve<Row = T>,
    Catalog: Loader<ById<T>, Value = T, Error = Arc<Error>>,
{
    Box::pin(async move {
        let found = load(scope, site, ids.iter().map(|&id| ById::<T>::new(id))).await?;
        let rows = ids
            .iter()
            .map(|&id| found.get(&ById::new(id)))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| site.error(scope, Error::Inconsistent("a row's parent is missing")))?;
        let origin = site.below((0..rows.len()).map(|parent| (parent, None)).collect());
        objects(scope, plan, &rows, &origin).await
    })
}

/// For each of `keys`, the value `value` makes of what the loader found for it (the
/// default when nothing).
pub(super) fn loaded<'a, K, V>(
    scope: &'a Scope<'a>,
    keys: Vec<K>,
    site: Site<'a>,
    value: impl Fn(&V) -> Value + Send + 'a,
) -> BoxFuture<'a, ServerResult<Vec<Value>>>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    V: Default + Send + Sync + 'static,
    Catalog: Loader<K, Value = V, Error = Arc<Error>>,
{
    Box::pin(async move {
        let found = load(scope, site, keys.iter().cloned()).await?;
        let missing = V::default();
        Ok(keys
            .iter()
            .map(|key| value(found.get(key).unwrap_or(&missing)))
            .collect())
    })
}

async fn load<K, V>(
    scope: &Scope<'_>,
    site: Site<'_>,
    keys: impl IntoIterator<Item = K>,
) -> ServerResult<HashMap<K, V>>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    Catalog: Loader<K, Value = V, Error = Arc<Error>>,
{
    scope
        .loaders
        .load_many(keys)
        .await
        .map_err(|error| site.error(scope, error))
}
