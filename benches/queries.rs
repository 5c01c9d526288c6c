//! In-process benchmarks of Q1–Q3, three ways each:
//!
//! - `Qn-graphql`: the whole GraphQL executor (no HTTP), serialised as the server does;
//! - `Qn-db`: the statements a perfectly batched server runs, called directly through
//!   `bookgraph::db` and serialised to the same JSON with serde: GraphQL's own cost is
//!   `graphql` over `db`;
//! - `Qn-honest-floor`: what SQLite itself needs, through rusqlite on one connection
//!   (`support/honest_floor.rs`): the data layer's own cost is `db` over this.
//!
//! ```sh
//! cargo bench --bench queries                        # dataset M (5,000 authors)
//! BENCH_AUTHORS=50000 cargo bench --bench queries    # dataset L
//! cargo bench --bench queries -- Q1                  # one query
//! ```
//!
//! Before measuring, each floor's JSON is checked against the `data` of the GraphQL
//! response, so the floors really compute the same answer. `cargo bench -- --test` runs
//! only these checks, on a small catalogue when `BENCH_AUTHORS` says so.

#[path = "support/honest_floor.rs"]
mod honest_floor;
#[path = "support/shapes.rs"]
mod shapes;

/// The server's allocator, so in-process figures are the server's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::Hash;
use std::time::Duration;

use async_graphql::Request;
use bookgraph::db::authors::{AuthorFilter, AuthorOrder};
use bookgraph::db::models::{AuthorRow, BookRow, ChildrenOf, PublisherRow};
use bookgraph::db::pages::PageArgs;
use bookgraph::db::publishers::{PublisherFilter, PublisherOrder};
use bookgraph::db::{self, Db};
use bookgraph::graphql::limits::Limits;
use bookgraph::graphql::{BookSchema, build_schema, execute};
use criterion::{Criterion, criterion_group, criterion_main};
use shapes::{
    AuthorWithBooks, BookWithPublishers, Named, PublisherWithAuthors, PublisherWithCounts,
    authors_json, publishers_json,
};
use tokio::runtime::Runtime;

const Q1: &str = "{ authors(first: 100) { nodes { name books { title publishers { name } } } } }";
const Q2: &str = "{ publishers(first: 100, orderBy: {field: BOOK_COUNT, direction: DESC}) \
                  { nodes { name bookCount authorCount } } }";
const Q3: &str = "{ publishers(first: 10) { nodes { name authors(first: 10) { name \
                  books(first: 5) { title publishers { name } } } } } }";

/// The dataset: `BENCH_AUTHORS` authors (default 5,000, dataset M), generated with seed 1
/// and imported into a temporary SQLite file.
struct Fixture {
    authors: u64,
    runtime: Runtime,
    db: Db,
    schema: BookSchema,
    honest: honest_floor::HonestFloor,
    _dir: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let authors = std::env::var("BENCH_AUTHORS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(5000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut csv = Vec::new();
    let rows = bookgraph::generate::generate_csv(authors, 1, &mut csv).expect("generate");
    let url = format!("sqlite:{}", dir.path().join("bench.db").display());
    let db = runtime.block_on(async {
        let db = Db::open(&url).await.expect("open database");
        bookgraph::import::import_csv(&db, csv.as_slice())
            .await
            .expect("import");
        // Close and reopen, as `bookgraph import` then `serve` do: closing checkpoints the
        // write-ahead log, which would otherwise hold the whole import and slow every read
        // (each page looked up in the WAL index first).
        db.close().await;
        Db::open(&url).await.expect("reopen database")
    });
    eprintln!("dataset: {authors} authors, {rows} CSV rows, in {url}");
    let schema = build_schema(Limits::default());
    let honest = honest_floor::HonestFloor::open(&dir.path().join("bench.db"));
    Fixture {
        authors,
        runtime,
        db,
        schema,
        honest,
        _dir: dir,
    }
}

impl Fixture {
    /// One query through the GraphQL executor, serialised as the HTTP layer would.
    async fn graphql(&self, query: &str) -> String {
        let operation = self.schema.operation(Request::new(query));
        let response = execute(&self.schema, &self.db, operation).await;
        assert!(response.errors.is_empty(), "{:?}", response.errors);
        serde_json::to_string(&response).expect("serialise")
    }
}

// ---- the floor: the JSON shapes, borrowed from the rows ---------------------------------

/// Rows of a batched lookup by parent, in the order SQL gave them.
fn by_owner<T>(families: &[ChildrenOf<T>]) -> HashMap<i64, Vec<&T>> {
    families
        .iter()
        .map(|family| (family.parent, family.children.iter().collect()))
        .collect()
}

/// Every child of a batched lookup, parent by parent.
fn children<T>(families: &[ChildrenOf<T>]) -> impl Iterator<Item = &T> {
    families.iter().flat_map(|family| &family.children)
}

/// The distinct ids of `rows`, first occurrence first (a DataLoader's batch).
fn distinct<T, K: Eq + Hash + Copy>(
    rows: impl IntoIterator<Item = T>,
    key: impl Fn(T) -> K,
) -> Vec<K> {
    let mut seen = std::collections::HashSet::new();
    rows.into_iter()
        .map(key)
        .filter(|id| seen.insert(*id))
        .collect()
}

fn page(first: i64) -> PageArgs {
    PageArgs {
        first,
        after: None,
        with_keys: false,
    }
}

fn publisher_names<'a>(
    publishers: &HashMap<i64, Vec<&'a PublisherRow>>,
    book: i64,
) -> Vec<Named<'a>> {
    publishers
        .get(&book)
        .map(|list| list.iter().map(|p| Named { name: &p.name }).collect())
        .unwrap_or_default()
}

fn author_with_books<'a>(
    author: &'a AuthorRow,
    books: &HashMap<i64, Vec<&'a BookRow>>,
    publishers: &HashMap<i64, Vec<&'a PublisherRow>>,
) -> AuthorWithBooks<'a> {
    AuthorWithBooks {
        name: Cow::Owned(format!("{} {}", author.first_name, author.last_name)),
        books: books
            .get(&author.id)
            .map(|list| {
                list.iter()
                    .map(|book| BookWithPublishers {
                        title: &book.title,
                        publishers: publisher_names(publishers, book.id),
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// Q1's floor: page of authors, their books, those books' publishers (3 statements).
async fn floor_q1(db: &Db) -> String {
    let authors = db::pages::page(
        db,
        &AuthorFilter::default(),
        AuthorOrder::Name,
        false,
        &page(100),
    )
    .await
    .expect("authors");
    let author_ids: Vec<i64> = authors.rows.iter().map(|a| a.id).collect();
    let books: Vec<ChildrenOf<BookRow>> = db::books::BOOKS_OF_AUTHORS
        .fetch(db, &author_ids, None)
        .await
        .expect("books");
    let book_ids = distinct(children(&books), |b| b.id);
    let publishers = db::publishers::PUBLISHERS_OF_BOOKS
        .fetch(db, &book_ids, None)
        .await
        .expect("publishers");
    let (books, publishers) = (by_owner(&books), by_owner(&publishers));
    let nodes = authors
        .rows
        .iter()
        .map(|author| author_with_books(author, &books, &publishers))
        .collect();
    authors_json(nodes)
}

/// Q2's floor: page of publishers by book count, then their counts (2 statements).
async fn floor_q2(db: &Db) -> String {
    let publishers = db::pages::page(
        db,
        &PublisherFilter::default(),
        PublisherOrder::BookCount,
        true,
        &page(100),
    )
    .await
    .expect("publishers");
    let ids: Vec<i64> = publishers.rows.iter().map(|p| p.id).collect();
    let counts: HashMap<i64, _> = db::publishers::COUNTS
        .fetch(db, &ids)
        .await
        .expect("counts")
        .into_iter()
        .map(|counts| (counts.id, counts))
        .collect();
    let nodes = publishers
        .rows
        .iter()
        .map(|p| {
            let counts = counts.get(&p.id).copied().unwrap_or_default();
            PublisherWithCounts {
                name: &p.name,
                book_count: counts.book_count,
                author_count: counts.author_count,
            }
        })
        .collect();
    publishers_json(nodes)
}

/// Q3's floor: 10 publishers, 10 authors of each, 5 books of each author, the books'
/// publishers (4 statements).
async fn floor_q3(db: &Db) -> String {
    let publishers = db::pages::page(
        db,
        &PublisherFilter::default(),
        PublisherOrder::Name,
        false,
        &page(10),
    )
    .await
    .expect("publishers");
    let publisher_ids: Vec<i64> = publishers.rows.iter().map(|p| p.id).collect();
    let authors: Vec<ChildrenOf<AuthorRow>> = db::authors::AUTHORS_OF_PUBLISHERS
        .fetch(db, &publisher_ids, Some(10))
        .await
        .expect("authors");
    let author_ids = distinct(children(&authors), |a| a.id);
    let books: Vec<ChildrenOf<BookRow>> = db::books::BOOKS_OF_AUTHORS
        .fetch(db, &author_ids, Some(5))
        .await
        .expect("books");
    let book_ids = distinct(children(&books), |b| b.id);
    let book_publishers = db::publishers::PUBLISHERS_OF_BOOKS
        .fetch(db, &book_ids, None)
        .await
        .expect("publishers");
    let (authors, books, book_publishers) = (
        by_owner(&authors),
        by_owner(&books),
        by_owner(&book_publishers),
    );
    let nodes = publishers
        .rows
        .iter()
        .map(|publisher| PublisherWithAuthors {
            name: &publisher.name,
            authors: authors
                .get(&publisher.id)
                .map(|list| {
                    list.iter()
                        .map(|a| author_with_books(a, &books, &book_publishers))
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect();
    publishers_json(nodes)
}

// ---- the benchmarks ---------------------------------------------------------------------

/// Fails unless the floor's JSON is the `data` of the GraphQL response.
fn check_same_answer(name: &str, which: &str, graphql: &str, floor: &str) {
    let graphql: serde_json::Value = serde_json::from_str(graphql).expect("graphql json");
    let floor: serde_json::Value = serde_json::from_str(floor).expect("floor json");
    assert_eq!(
        graphql["data"], floor["data"],
        "{name}: the {which} answers differently"
    );
    eprintln!(
        "{name}: the {which} and GraphQL agree ({} bytes of data)",
        floor["data"].to_string().len()
    );
}

fn queries(c: &mut Criterion) {
    let fixture = fixture();
    let rt = &fixture.runtime;
    type Floor = for<'a> fn(&'a Db) -> std::pin::Pin<Box<dyn Future<Output = String> + Send + 'a>>;
    type Honest = fn(&honest_floor::HonestFloor) -> String;
    let cases: [(&str, &str, Floor, Honest); 3] = [
        ("Q1", Q1, |db| Box::pin(floor_q1(db)), |floor| floor.q1()),
        ("Q2", Q2, |db| Box::pin(floor_q2(db)), |floor| floor.q2()),
        ("Q3", Q3, |db| Box::pin(floor_q3(db)), |floor| floor.q3()),
    ];
    // One group per dataset size, so M and L results are kept (and compared) apart.
    let mut group = c.benchmark_group(format!("{}-authors", fixture.authors));
    for (name, query, floor, honest) in cases {
        let graphql_json = rt.block_on(fixture.graphql(query));
        check_same_answer(
            name,
            "db floor",
            &graphql_json,
            &rt.block_on(floor(&fixture.db)),
        );
        check_same_answer(
            name,
            "honest floor",
            &graphql_json,
            &honest(&fixture.honest),
        );
        group.bench_function(format!("{name}-graphql"), |b| {
            b.iter(|| rt.block_on(fixture.graphql(query)));
        });
        group.bench_function(format!("{name}-db"), |b| {
            b.iter(|| rt.block_on(floor(&fixture.db)));
        });
        group.bench_function(format!("{name}-honest-floor"), |b| {
            b.iter(|| honest(&fixture.honest));
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    targets = queries
}
criterion_main!(benches);
