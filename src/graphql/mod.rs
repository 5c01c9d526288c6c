//! The GraphQL schema as a library value: no HTTP in here, so tests, the HTTP layer and
//! the command line all execute exactly the same thing.

mod batch;
pub mod budget;
pub mod connection;
mod cursor_lists;
mod documents;
pub mod ids;
mod input_types;
pub mod inputs;
pub mod limits;
pub mod loaders;
pub mod mutation;
pub mod query;
pub mod read_ahead;
pub mod subscription;
pub mod types;

use std::sync::Arc;

use async_graphql::parser::types::{
    DocumentOperations, OperationDefinition, OperationType, Selection,
};
use async_graphql::{Request, Response, Schema, ValidationMode};
use futures_util::StreamExt as _;
use futures_util::stream::{self, BoxStream};

use crate::db::{Db, OperationScope};
use budget::ResponseBudget;
use documents::{ParsedDocument, ParsedDocuments};
use input_types::{Fit, InputTypes};
use limits::Limits;
use loaders::Loaders;
use mutation::MutationRoot;
use query::QueryRoot;
use subscription::SubscriptionRoot;

/// async-graphql's schema of our three roots.
type RootSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// The bookgraph schema, the limits every operation is held to, and the documents it has
/// parsed lately. Cloning is cheap.
#[derive(Clone)]
pub struct BookSchema {
    /// Validates every document with all of GraphQL's rules.
    strict: RootSchema,
    /// The same schema, for operations that passed `strict` before and whose variables fit
    /// ([`Validation::PassedBefore`]): it checks only what the executor needs checked.
    fast: RootSchema,
    input_types: Arc<InputTypes>,
    limits: Limits,
    documents: Arc<ParsedDocuments>,
}

/// Nesting the parser follows before it gives up, whatever the configured depth limit.
const PARSER_MAX_RECURSION: usize = 256;

/// The schema, refusing operations beyond `limits`. It holds no database: every operation
/// gets its own handle, scoped to it ([`Operation::into_request`]), so none can run on an
/// unscoped one.
pub fn build_schema(limits: Limits) -> BookSchema {
    let strict = root_schema(ValidationMode::Strict);
    BookSchema {
        input_types: Arc::new(InputTypes::from_sdl(&strict.sdl())),
        strict,
        fast: root_schema(ValidationMode::Fast),
        limits,
        documents: Arc::default(),
    }
}

fn root_schema(validation: ValidationMode) -> RootSchema {
    Schema::build(QueryRoot, MutationRoot::default(), SubscriptionRoot)
        // The parser's own guard against stack exhaustion; above any depth `limits` allows,
        // so too-deep operations get the clearer QUERY_TOO_COMPLEX error.
        .limit_recursive_depth(PARSER_MAX_RECURSION)
        .validation_mode(validation)
        .finish()
}

/// The schema's SDL, as committed in `schema.graphql`.
pub fn sdl() -> String {
    root_schema(ValidationMode::Strict).sdl()
}

/// How much of async-graphql's validation an operation goes through.
enum Validation {
    /// All of it; when `passes` names the operation's document, a pass is noted there, so
    /// that the next requests for it need only [`Validation::PassedBefore`]. Only a request
    /// that sent every variable notes a pass: validation skips an argument whose variables
    /// were not sent, literal parts and all.
    Strict { passes: Option<Arc<ParsedDocument>> },
    /// The document, of one operation, passed strict validation before, and this request's
    /// variables fit their types ([`input_types`]): all of validation that depends on the
    /// request rather than on the document. A document of several operations is always
    /// validated in full: its fragments' arguments are checked against the request's
    /// variables whichever operation uses them.
    PassedBefore,
}

impl Default for Validation {
    fn default() -> Self {
        Validation::Strict { passes: None }
    }
}

/// The operation a request selects: its name (`None` when anonymous) and type.
pub type SelectedOperation = (Option<String>, OperationType);

/// A request whose document has been parsed (or found not to parse), ready to execute.
pub struct Operation {
    request: Request,
    /// Whether the document parsed (and is kept on the request).
    parsed: bool,
    selected: Option<SelectedOperation>,
    /// What its nested lists may put in the response; also in the request's data.
    budget: Option<Arc<ResponseBudget>>,
    /// Whether it may touch the catalogue: all but `{ __typename }` and introspection.
    reads_catalogue: bool,
    /// Whether the response says how many SQL statements the operation ran.
    reports_sql_statements: bool,
    /// What the operation takes from the database: created here, the one place every
    /// transport's operations pass, so none can run outside a scope of its own.
    scope: OperationScope,
    /// Whether the limits have let it through already ([`BookSchema::refusal`]).
    within_limits: bool,
    validation: Validation,
}

impl Operation {
    /// The operation the request selects; `None` when the document does not parse or does
    /// not pick one operation, which execution then reports.
    ///
    /// Write access relies on this agreeing with the executor: the executor runs this very
    /// document and picks the operation by the same rule, so a request we see no mutation
    /// in cannot run one.
    pub fn selected(&self) -> Option<&SelectedOperation> {
        self.selected.as_ref()
    }

    /// Whether the operation may read the catalogue; one that asks only about the schema
    /// (`{ __typename }`, introspection) needs no database and no execution turn, so health
    /// checks and schema tools are answered at once however busy the catalogue is.
    pub fn reads_catalogue(&self) -> bool {
        self.reads_catalogue
    }

    /// Whether the selected operation is of this kind.
    pub fn is(&self, kind: OperationType) -> bool {
        self.selected.as_ref().is_some_and(|(_, ty)| *ty == kind)
    }

    /// What the operation's nested lists may put in its response. A transport that executes
    /// the request itself settles the response with it ([`ResponseBudget::settle`]); `None`
    /// for subscriptions and for documents that do not parse.
    pub fn budget(&self) -> Option<Arc<ResponseBudget>> {
        self.budget.clone()
    }

    /// Has the response say in `extensions.sqlStatements` how many SQL statements the
    /// operation ran. Off unless a client asks: it is a figure of our internals, for tests
    /// and benchmarks, and clients that never asked should not come to depend on it.
    pub fn report_sql_statements(&mut self) {
        self.reports_sql_statements = true;
    }

    /// The request, its parsed document kept on it so execution does not parse it again,
    /// with a handle on `db` that counts into the operation's scope and the loaders
    /// `loaders` builds over that handle.
    pub fn into_request(self, db: &Db, loaders: impl FnOnce(Db) -> Loaders) -> Request {
        let db = db.in_scope(&self.scope);
        self.request.data(loaders(db.clone())).data(db)
    }
}

/// Whether every root field of `operation` is `__typename`, `__schema` or `__type`.
fn asks_only_about_the_schema(operation: &OperationDefinition) -> bool {
    operation
        .selection_set
        .node
        .items
        .iter()
        .all(|item| matches!(&item.node, Selection::Field(field) if field.node.name.node.starts_with("__")))
}

impl BookSchema {
    /// Parses the request's document, from the cache of recent documents when it is there.
    pub fn operation(&self, mut request: Request) -> Operation {
        let Ok(parsed) = self.documents.parse(&request.query) else {
            return Operation {
                request,
                parsed: false,
                selected: None,
                budget: None,
                reads_catalogue: true,
                reports_sql_statements: false,
                scope: OperationScope::default(),
                within_limits: false,
                validation: Validation::default(),
            };
        };
        let document = parsed.document();
        let chosen = match &document.operations {
            DocumentOperations::Single(operation) => Some((None, operation)),
            DocumentOperations::Multiple(operations) => match &request.operation_name {
                Some(wanted) => operations
                    .iter()
                    .find(|(name, _)| name.as_str() == wanted)
                    .map(|(name, operation)| (Some(name.to_string()), operation)),
                None if operations.len() == 1 => operations
                    .iter()
                    .next()
                    .map(|(name, operation)| (Some(name.to_string()), operation)),
                None => None,
            },
        };
        let reads_catalogue = chosen
            .as_ref()
            .is_none_or(|(_, operation)| !asks_only_about_the_schema(&operation.node));
        let one_operation = match &document.operations {
            DocumentOperations::Single(_) => true,
            DocumentOperations::Multiple(operations) => operations.len() == 1,
        };
        let fit = match &chosen {
            Some((_, operation)) if one_operation => self
                .input_types
                .fit(&operation.node.variable_definitions, &request.variables),
            _ => Fit::Unsure,
        };
        let validation = match fit {
            Fit::Unsure => Validation::default(),
            Fit::Sent | Fit::WithDefaults if parsed.validated() => Validation::PassedBefore,
            Fit::Sent => Validation::Strict {
                passes: Some(Arc::clone(&parsed)),
            },
            Fit::WithDefaults => Validation::default(),
        };
        let selected = chosen.map(|(name, operation)| (name, operation.node.ty));
        request.set_parsed_query(document);
        // A subscription's one request resolves every event it ever sends: a budget on it
        // would run out after enough events, however small each one is.
        let budget = (!matches!(selected, Some((_, OperationType::Subscription))))
            .then(|| Arc::new(ResponseBudget::new(self.limits.max_response_values)));
        if let Some(budget) = &budget {
            request.data.insert(Arc::clone(budget));
        }
        Operation {
            request,
            parsed: true,
            selected,
            budget,
            reads_catalogue,
            reports_sql_statements: false,
            scope: OperationScope::default(),
            within_limits: false,
            validation,
        }
    }

    /// The operation's refusal by the limits, as a response, if it is refused. Every
    /// operation of the document is checked, selected or not, before async-graphql's own
    /// validation walks them all. A document that does not parse is left for execution to
    /// report.
    pub fn refusal(&self, operation: &mut Operation) -> Option<Response> {
        if !operation.parsed || operation.within_limits {
            return None;
        }
        let request = &mut operation.request;
        let variables = request.variables.clone();
        let document = request.parsed_query().ok()?;
        match limits::refusal(document, &variables, &self.limits) {
            Some(error) => Some(Response::from_errors(vec![error])),
            None => {
                operation.within_limits = true;
                None
            }
        }
    }

    /// Whether the operation waits for an execution turn before it runs: queries do.
    /// Mutations queue for the writer instead, and a turn held while waiting there would
    /// keep reads waiting behind writes; operations that ask only about the schema need no
    /// database; and one the limits refuse runs nothing, so it is refused at once, however
    /// busy the catalogue is.
    pub fn takes_turn(&self, operation: &mut Operation) -> bool {
        !operation.is(OperationType::Mutation)
            && operation.reads_catalogue()
            && self.refusal(operation).is_none()
    }
}

/// Runs one operation with loaders of its own, so batching spans the whole request and a
/// write is visible to the very next one. When the operation was asked to
/// ([`Operation::report_sql_statements`]), the response's `extensions.sqlStatements` says
/// how many SQL statements it ran.
pub async fn execute(schema: &BookSchema, db: &Db, mut operation: Operation) -> Response {
    let scope = operation.scope.clone();
    let reports_sql_statements = operation.reports_sql_statements;
    let mut response = match schema.refusal(&mut operation) {
        Some(refused) => refused,
        None => {
            let budget = operation.budget();
            let validation = std::mem::take(&mut operation.validation);
            let root = match validation {
                Validation::PassedBefore => &schema.fast,
                Validation::Strict { .. } => &schema.strict,
            };
            let batches = batch::BatchQueue::default();
            let request = operation.into_request(db, |db| loaders::loaders(db, &batches));
            let mut response = batch::run_batched(batches, root.execute(request)).await;
            if let Validation::Strict {
                passes: Some(parsed),
            } = validation
                && !is_request_error(&response)
            {
                parsed.mark_validated();
            }
            if let Some(budget) = budget {
                budget.settle(&mut response);
            }
            response
        }
    };
    if reports_sql_statements {
        response
            .extensions
            .insert("sqlStatements".to_owned(), scope.statement_count().into());
    }
    response
}

/// Runs a subscription: one response per event, the first a request error when the
/// operation is refused or cannot run. Its events share one loader, which caches nothing
/// ([`loaders::spawned_loaders`]); no response budget applies (see [`BookSchema::operation`]).
pub fn subscribe(
    schema: &BookSchema,
    db: &Db,
    mut operation: Operation,
) -> BoxStream<'static, Response> {
    if let Some(refused) = schema.refusal(&mut operation) {
        return stream::once(std::future::ready(refused)).boxed();
    }
    let request = operation.into_request(db, loaders::spawned_loaders);
    schema.strict.execute_stream(request).boxed()
}

/// Whether `response` refuses the request as a whole: parse, validation and variable
/// errors come before execution and carry no `path`; field errors always have one.
pub fn is_request_error(response: &Response) -> bool {
    response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|error| error.path.is_empty())
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::parse_query;
    use async_graphql::parser::types::DocumentOperations;

    use super::asks_only_about_the_schema;

    fn only_schema(query: &str) -> bool {
        let document = parse_query(query).expect("the document parses");
        let operation = match &document.operations {
            DocumentOperations::Single(operation) => operation,
            DocumentOperations::Multiple(operations) => operations.values().next().unwrap(),
        };
        asks_only_about_the_schema(&operation.node)
    }

    #[test]
    fn typename_and_introspection_ask_only_about_the_schema() {
        assert!(only_schema("{ __typename }"));
        assert!(only_schema("query Alive { up: __typename }"));
        assert!(only_schema(
            "{ __schema { types { name } } __type(name: \"Book\") { name } }"
        ));
    }

    #[test]
    fn any_catalogue_field_or_fragment_may_read_the_catalogue() {
        assert!(!only_schema(
            "{ __typename authors(first: 1) { totalCount } }"
        ));
        assert!(!only_schema(
            "{ ...Root } fragment Root on Query { __typename }"
        ));
        assert!(!only_schema("{ ... on Query { __typename } }"));
    }
}
