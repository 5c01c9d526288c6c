//! `TestApp`: the real router on a real socket (127.0.0.1, a port of its own) over a
//! fresh database, spoken to over HTTP like any client would.
//!
//! The database is an SQLite file, or a new PostgreSQL database on the server named by
//! [`POSTGRES_ENV`] when that is set: the same suite runs against both backends.

use std::collections::HashMap;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use bookgraph::db::{Db, FOLD_LOCK, OpenOptions, WRITE_LOCK};
use bookgraph::graphql::build_schema;
use bookgraph::http::{AppState, router, serve};
use bookgraph::import::import_csv;
use serde_json::{Value, json};
use sqlx::{Connection as _, Executor as _};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// The tutorial's data, as shipped in `data/`.
pub const TUTORIAL_CSV: &str = include_str!("../../data/author_book_publisher.csv");

/// The request header asking for diagnostics in a response's `extensions`.
pub const DIAGNOSTICS: &str = "x-bookgraph-diagnostics";

/// A running bookgraph server with its own database.
pub struct TestApp {
    /// Where the server listens.
    pub address: SocketAddr,
    /// The database's URL, for a second process or a direct look.
    pub database_url: String,
    /// A handle on the same database, for setting up data.
    pub db: Db,
    database: TestDatabase,
    client: reqwest::Client,
    dir: TempDir,
    shutdown: Option<oneshot::Sender<()>>,
}

impl TestApp {
    /// A server over the tutorial's data.
    pub async fn spawn() -> TestApp {
        Self::spawn_with_csv(TUTORIAL_CSV).await
    }

    /// A server over an empty catalogue.
    pub async fn spawn_empty() -> TestApp {
        Self::spawn_with_csv(&bookgraph::import::HEADER.join(",")).await
    }

    /// A server over the rows of `csv` (header included).
    pub async fn spawn_with_csv(csv: &str) -> TestApp {
        Self::spawn_with(csv, |state| state).await
    }

    /// A server over the tutorial's data, its database opened with `options`.
    pub async fn spawn_opened(options: OpenOptions) -> TestApp {
        Self::spawn_from(TUTORIAL_CSV, options, |state| state).await
    }

    /// A server over the tutorial's data that runs only `documents` (hash -> document).
    pub async fn spawn_trusted(documents: HashMap<String, String>) -> TestApp {
        Self::spawn_configured(|state| state.with_trusted_documents(documents)).await
    }

    /// A server over the tutorial's data, its state adjusted by `configure`.
    pub async fn spawn_configured(configure: impl FnOnce(AppState) -> AppState) -> TestApp {
        Self::spawn_with(TUTORIAL_CSV, configure).await
    }

    async fn spawn_with(csv: &str, configure: impl FnOnce(AppState) -> AppState) -> TestApp {
        Self::spawn_from(csv, TEST_POOL, configure).await
    }

    async fn spawn_from(
        csv: &str,
        options: OpenOptions,
        configure: impl FnOnce(AppState) -> AppState,
    ) -> TestApp {
        let dir = tempfile::tempdir().expect("temporary directory");
        let database = TestDatabase::new(dir.path()).await;
        let database_url = database.url.clone();
        let db = Db::open_with(&database_url, options)
            .await
            .expect("open test database");
        import_csv(&db, csv.as_bytes())
            .await
            .expect("seed test database");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("local address");
        let (shutdown, stop) = oneshot::channel::<()>();
        let app = router(configure(AppState::new(
            build_schema(Default::default()),
            db.clone(),
        )));
        tokio::spawn(async move {
            serve(listener, app, async {
                stop.await.ok();
            })
            .await
            .expect("server runs");
        });
        TestApp {
            address,
            database_url,
            db,
            database,
            client: reqwest::Client::new(),
            dir,
            shutdown: Some(shutdown),
        }
    }

    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Takes the database's write lock from a connection of its own, as another process
    /// would, until the returned lock is dropped or released.
    pub async fn hold_write_lock(&self) -> WriteLock {
        WriteLock::take(&self.database.url).await
    }

    /// Whether this app runs on PostgreSQL rather than SQLite.
    pub fn on_postgres(&self) -> bool {
        self.database_url.starts_with("postgres")
    }

    /// A file path inside this app's temporary directory.
    pub fn temp_path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// An HTTP client for hand-made requests.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// POSTs `query` with `variables`; returns the whole JSON response, which must be 200.
    pub async fn post_graphql(&self, query: &str, variables: Value) -> Value {
        let request = self
            .client
            .post(self.url("/graphql"))
            .json(&json!({ "query": query, "variables": variables }));
        Self::answer_200(query, request).await
    }

    /// The JSON answer to `request`, which sends `query` and must be answered with 200.
    async fn answer_200(query: &str, request: reqwest::RequestBuilder) -> Value {
        let response = request.send().await.expect("request reaches the server");
        let status = response.status();
        let body: Value = response.json().await.expect("JSON response");
        assert_eq!(status, 200, "status of {query}: {body}");
        body
    }

    /// POSTs `query`; returns its `data` after checking there are no errors.
    pub async fn data(&self, query: &str) -> Value {
        self.data_with(query, json!({})).await
    }

    /// POSTs `query` with `variables`; returns its `data` after checking there are no errors.
    pub async fn data_with(&self, query: &str, variables: Value) -> Value {
        let response = self.post_graphql(query, variables).await;
        assert!(response.get("errors").is_none(), "errors in {response}");
        response["data"].clone()
    }

    /// POSTs `query`; returns the `extensions.code` of each error.
    pub async fn error_codes(&self, query: &str) -> Vec<String> {
        let response = self.post_graphql(query, json!({})).await;
        response["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("expected errors in {response}"))
            .iter()
            .map(|error| {
                error["extensions"]["code"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned()
            })
            .collect()
    }

    /// POSTs `query` asking for diagnostics (`x-bookgraph-diagnostics: sql`); returns the
    /// whole JSON response, which must be 200.
    pub async fn post_graphql_diagnosed(&self, query: &str) -> Value {
        let request = self
            .client
            .post(self.url("/graphql"))
            .header(DIAGNOSTICS, "sql")
            .json(&json!({ "query": query }));
        Self::answer_200(query, request).await
    }

    /// How many SQL statements answering `query` took, as the response says when asked.
    pub async fn statements_for(&self, query: &str) -> u64 {
        let response = self.post_graphql_diagnosed(query).await;
        assert!(response.get("errors").is_none(), "errors in {response}");
        response["extensions"]["sqlStatements"]
            .as_u64()
            .expect("sqlStatements extension")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            shutdown.send(()).ok();
        }
    }
}

/// Calls `addBook` and returns its payload's `outcome`, `authorCreated` and
/// `publisherCreated`, and the book's title and author name.
pub async fn add_book(
    app: &TestApp,
    first: &str,
    last: &str,
    title: &str,
    publisher: &str,
) -> Value {
    let data = app
        .data_with(
            "mutation($input: AddBookInput!) { addBook(input: $input) {
                outcome authorCreated publisherCreated
                book { title author { name } publishers { name } }
            } }",
            json!({ "input": {
                "authorFirstName": first, "authorLastName": last,
                "title": title, "publisherName": publisher,
            } }),
        )
        .await;
    data["addBook"].clone()
}

/// What a client script needs beyond the Rust toolchain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientNeeds {
    /// Node.js and npm.
    Node,
    /// Node.js, npm and Chromium (`$CHROMIUM`, else Debian's `/usr/bin/chromium`).
    NodeAndChromium,
}

/// Runs `node clients/<script> <args…>` from the repository root, installing the clients'
/// locked npm packages first when they are missing; returns the script's output.
///
/// `None` when the machine lacks what the script `needs`: the test is skipped, and says so
/// on the terminal whatever cargo captures. With `BOOKGRAPH_CLIENT_TESTS=require` (as CI
/// sets it, after installing them) a missing tool fails the test instead.
pub fn run_node(script: &str, args: &[&str], needs: ClientNeeds) -> Option<std::process::Output> {
    if let Some(missing) = missing_tool(needs) {
        let required =
            std::env::var("BOOKGRAPH_CLIENT_TESTS").is_ok_and(|value| value == "require");
        assert!(
            !required,
            "clients/{script} needs {missing}, and BOOKGRAPH_CLIENT_TESTS=require"
        );
        // Written to the terminal directly: cargo shows a passing test's own output only
        // with --nocapture.
        let _ = writeln!(
            std::io::stderr(),
            "skipped: clients/{script} needs {missing}, which this machine lacks \
             (BOOKGRAPH_CLIENT_TESTS=require makes this a failure)"
        );
        return None;
    }
    let clients = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("clients");
    install_clients(&clients);
    let output = std::process::Command::new("node")
        .arg(clients.join(script))
        .args(args)
        .current_dir(&clients)
        .output()
        .expect("Node.js runs");
    Some(output)
}

/// The first tool of `needs` the machine lacks, if any.
fn missing_tool(needs: ClientNeeds) -> Option<&'static str> {
    let runs = |program: &str| {
        std::process::Command::new(program)
            .arg("--version")
            .output()
            .is_ok_and(|output| output.status.success())
    };
    if !runs("node") {
        return Some("Node.js");
    }
    if !runs("npm") {
        return Some("npm");
    }
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    if needs == ClientNeeds::NodeAndChromium && !std::path::Path::new(&chromium).exists() {
        return Some("Chromium");
    }
    None
}

fn install_clients(clients: &std::path::Path) {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        if clients.join("node_modules").exists() {
            return;
        }
        let status = std::process::Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(clients)
            .status()
            .expect("npm runs");
        assert!(status.success(), "npm ci in clients/ failed");
    });
}

/// The counts stored beside authors and publishers, and the (publisher, author) pairs,
/// equal a recount from books and links.
pub async fn assert_counts_match_rows(app: &TestApp) {
    assert_counts_match_url(&app.database_url).await;
}

/// The counts and pairs stored in the database at `url` equal a recount from its books
/// and links.
pub async fn assert_counts_match_url(url: &str) {
    let pool = any_pool(url).await;
    let drifted: i64 = sqlx::query_scalar(
        "select
            (select count(*) from counted_author a
             where a.book_count <> (select count(*) from book b where b.author_id = a.id))
          + (select count(*) from counted_publisher p
             where p.book_count <> (select count(*) from book_publisher bp where bp.publisher_id = p.id)
                or p.author_count <> (select count(distinct b.author_id)
                                      from book_publisher bp join book b on b.id = bp.book_id
                                      where bp.publisher_id = p.id))
          + (select count(*) from (
                select bp.publisher_id, b.author_id, a.last_name_key, a.first_name_key, count(*)
                from book_publisher bp
                join book b on b.id = bp.book_id
                join author a on a.id = b.author_id
                group by bp.publisher_id, b.author_id, a.last_name_key, a.first_name_key
                except
                select publisher_id, author_id, last_name_key, first_name_key, book_count
                from publisher_author
            ) as missing)
          + (select count(*) from (
                select publisher_id, author_id, last_name_key, first_name_key, book_count
                from publisher_author
                except
                select bp.publisher_id, b.author_id, a.last_name_key, a.first_name_key, count(*)
                from book_publisher bp
                join book b on b.id = bp.book_id
                join author a on a.id = b.author_id
                group by bp.publisher_id, b.author_id, a.last_name_key, a.first_name_key
            ) as extra)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        drifted, 0,
        "stored counts and pairs equal a recount from the rows"
    );
}

/// The media type of a response with these headers, parameters dropped, lower case.
pub fn media_type(headers: &reqwest::header::HeaderMap) -> String {
    headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Set to a PostgreSQL URL whose role may create databases (`.ci/postgres` prints one) to
/// run the suite against PostgreSQL; each test gets a database of its own.
pub const POSTGRES_ENV: &str = "BOOKGRAPH_TEST_POSTGRES";

/// The PostgreSQL server the suite runs against, if any.
pub fn postgres_admin_url() -> Option<String> {
    std::env::var(POSTGRES_ENV)
        .ok()
        .filter(|url| !url.is_empty())
}

/// Readers per test database, whatever the machine's cores: the suite opens many at once.
pub const TEST_POOL: OpenOptions = OpenOptions {
    must_exist: false,
    readers: Some(2),
    max_size: None,
};

/// A new, empty database of a test's own: an SQLite file, or a PostgreSQL database (dropped
/// with this) when the suite runs against PostgreSQL.
pub struct TestDatabase {
    pub url: String,
    /// The server to drop a PostgreSQL database through.
    admin: Option<String>,
}

impl TestDatabase {
    /// An SQLite file in `dir`, or a PostgreSQL database when [`POSTGRES_ENV`] is set.
    pub async fn new(dir: &Path) -> TestDatabase {
        match postgres_admin_url() {
            Some(admin) => Self::postgres(&admin).await,
            None => TestDatabase {
                url: format!("sqlite:{}", dir.join("test.db").display()),
                admin: None,
            },
        }
    }

    /// A new database on the PostgreSQL server at `admin`. Databases a crashed run left
    /// behind are dropped first, those still in use excepted.
    pub async fn postgres(admin: &str) -> TestDatabase {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        static SWEPT: AtomicBool = AtomicBool::new(false);
        let prefix = format!("bookgraph_test_{}_", std::process::id());
        let mut conn = sqlx::PgConnection::connect(admin)
            .await
            .unwrap_or_else(|error| panic!("{POSTGRES_ENV}={admin} does not connect: {error}"));
        if !SWEPT.swap(true, Ordering::SeqCst) {
            let leftovers: Vec<String> = sqlx::query_scalar(
                "select datname from pg_database
                 where datname like 'bookgraph\\_test\\_%' and datname not like $1",
            )
            .bind(format!("{prefix}%"))
            .fetch_all(&mut conn)
            .await
            .expect("list databases");
            for name in leftovers {
                // In use by a test process still running: leave it to that process.
                let _ = conn
                    .execute(sqlx::AssertSqlSafe(format!(
                        "drop database if exists {name}"
                    )))
                    .await;
            }
        }
        let name = format!("{prefix}{}", NEXT.fetch_add(1, Ordering::SeqCst));
        conn.execute(sqlx::AssertSqlSafe(format!("create database {name}")))
            .await
            .expect("create test database");
        conn.close().await.ok();
        let mut url = reqwest::Url::parse(admin).expect("PostgreSQL URL");
        url.set_path(&name);
        TestDatabase {
            url: url.to_string(),
            admin: Some(admin.to_owned()),
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some(admin) = self.admin.take() else {
            return;
        };
        let name = self.url.rsplit('/').next().unwrap_or_default().to_owned();
        // Drop may run inside a runtime, which cannot block on another: a thread of its own.
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                    let drop = format!("drop database if exists {name} with (force)");
                    let _ = conn.execute(sqlx::AssertSqlSafe(drop)).await;
                }
            });
        })
        .join()
        .ok();
    }
}

/// A pool on either backend, for looking at a database directly.
pub async fn any_pool(url: &str) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::AnyPool::connect(url)
        .await
        .expect("connect to the database")
}

/// Runs the `bookgraph` command on the database at `database_url`, logging nothing.
pub fn bookgraph(database_url: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_bookgraph"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "off")
        .output()
        .expect("run bookgraph")
}

/// The standard output of a command that must have succeeded.
pub fn stdout(output: &std::process::Output) -> String {
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout.clone()).expect("UTF-8 output")
}

/// On PostgreSQL, a connection of another process holding [`FOLD_LOCK`], so that no replica
/// folds count parts into their rows until it closes; `None` on SQLite, which keeps none.
pub async fn hold_fold_lock(app: &TestApp) -> Option<sqlx::AnyConnection> {
    if !app.on_postgres() {
        return None;
    }
    sqlx::any::install_default_drivers();
    let mut connection = sqlx::AnyConnection::connect(&app.database_url)
        .await
        .expect("a connection of another process");
    sqlx::query("select pg_advisory_lock($1)")
        .bind(FOLD_LOCK)
        .execute(&mut connection)
        .await
        .expect("take the fold lock");
    Some(connection)
}

/// Another process's write transaction, holding the database's write lock (SQLite's, or
/// bookgraph's advisory lock on PostgreSQL, taken exclusively as an import takes it) until
/// it is released or dropped.
pub struct WriteLock(sqlx::AnyConnection);

impl WriteLock {
    pub async fn take(url: &str) -> WriteLock {
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(url)
            .await
            .expect("a connection of another process");
        if url.starts_with("postgres") {
            conn.execute("begin").await.expect("begin");
            sqlx::query("select pg_advisory_xact_lock($1)")
                .bind(WRITE_LOCK)
                .execute(&mut conn)
                .await
                .expect("take the write lock");
        } else {
            conn.execute("begin immediate")
                .await
                .expect("take the write lock");
        }
        WriteLock(conn)
    }

    /// Ends the transaction, letting writers waiting for the lock go on.
    pub async fn release(mut self) {
        self.0
            .execute("commit")
            .await
            .expect("release the write lock");
        self.0.close().await.expect("close");
    }
}
