//! The arguments of each command, as clap parses them from flags and `BOOKGRAPH_*`
//! environment variables.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::{BoolishValueParser, TypedValueParser};
use clap::error::ErrorKind;
use clap::{Args, ValueEnum};

use crate::config;
use crate::graphql::limits::Limits;
use crate::http::{ConnectionLimits, SocketLimits, WriteToken};

/// Arguments of `generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// How many authors (the file has about eight rows per author).
    #[arg(long)]
    pub authors: u64,
    /// Seed of the generator; the same seed gives the same file.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Where to write the CSV; standard output when omitted or `-`.
    pub file: Option<PathBuf>,
}

/// Where the catalogue lives.
#[derive(Debug, Args)]
pub struct DatabaseArgs {
    /// Database URL: `sqlite:<file>` (embedded, the default) or
    /// `postgres://user:password@host/database` (shared by several replicas).
    #[arg(
        long = "database",
        env = "DATABASE_URL",
        // The URL may hold a password: `--help` must not print it from the environment.
        hide_env_values = true,
        default_value = "sqlite:data/bookgraph.db"
    )]
    pub url: String,
    /// Reader connections this process keeps open [default: two per core].
    /// Each process also holds one writer connection and, on PostgreSQL, one listener.
    #[arg(long, env = "BOOKGRAPH_POOL_SIZE", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub pool_size: Option<u32>,
    /// Largest size the SQLite file may grow to, in MiB: writes that would grow it further
    /// fail with UNAVAILABLE, as on a full disk [default: as large as the disk allows].
    #[arg(long, env = "BOOKGRAPH_MAX_DATABASE_MIB", value_parser = clap::value_parser!(u64).range(1..))]
    pub max_database_mib: Option<u64>,
}

/// Arguments of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "BOOKGRAPH_LISTEN", default_value = "127.0.0.1:8000")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// CSV loaded into the database when it holds no data yet [default: the tutorial's
    /// data, from data/author_book_publisher.csv or, without it, the copy built in]
    #[arg(long, env = "BOOKGRAPH_SEED")]
    pub seed: Option<PathBuf>,
    /// Run only these documents: a JSON object of SHA-256 hash -> document, as GraphQL
    /// Codegen's persisted-documents output writes it.
    #[arg(long, env = "BOOKGRAPH_TRUSTED_DOCUMENTS")]
    pub trusted_documents: Option<PathBuf>,
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Let browser pages from this origin (e.g. https://app.example.com) call the API;
    /// repeatable. Without it, only same-origin pages can.
    #[arg(
        long = "cors-origin",
        env = "BOOKGRAPH_CORS_ORIGINS",
        value_delimiter = ','
    )]
    pub cors_origins: Vec<String>,
    #[command(flatten)]
    pub writes: WriteArgs,
    /// How long, in seconds, clients and caches may reuse the response to a query sent with
    /// GET /graphql without asking again (`Cache-Control: max-age`). 0 has them revalidate
    /// every time (`no-cache`): an unchanged answer then costs a 304 and no body.
    #[arg(long, env = "BOOKGRAPH_CACHE_MAX_AGE", default_value_t = 0)]
    pub cache_max_age: u64,
}

/// Who may run mutations. Only one of these may be given. The switches also take their
/// environment variable as `true`/`false`, `1`/`0`, `yes`/`no` or `on`/`off`.
#[derive(Debug, Args)]
pub struct WriteArgs {
    /// Run mutations only for requests carrying `Authorization: Bearer TOKEN` (WebSocket
    /// connections send it in connection_init); queries stay open.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "BOOKGRAPH_WRITE_TOKEN",
        // Neither `--help` nor an error message may show the secret.
        hide_env_values = true,
        value_parser = TokenParser,
        conflicts_with = "read_only"
    )]
    pub write_token: Option<WriteToken>,
    /// Run no mutations at all.
    #[arg(long, env = "BOOKGRAPH_READ_ONLY", value_parser = BoolishValueParser::new())]
    pub read_only: bool,
    /// Let anyone who can reach the server run mutations, whatever host name they use:
    /// needed on an address other than loopback, where bookgraph otherwise refuses to start
    /// without --write-token or --read-only. Without it, open writes are taken only from
    /// requests addressed to localhost, 127.0.0.1 or [::1].
    #[arg(
        long,
        env = "BOOKGRAPH_ALLOW_ANONYMOUS_WRITES",
        value_parser = BoolishValueParser::new(),
        conflicts_with_all = ["write_token", "read_only"]
    )]
    pub allow_anonymous_writes: bool,
}

/// Parses `--write-token` with an error that, unlike clap's own, does not repeat the value.
#[derive(Clone)]
struct TokenParser;

impl TypedValueParser for TokenParser {
    type Value = WriteToken;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<WriteToken, clap::Error> {
        value
            .to_str()
            .and_then(|value| WriteToken::new(value).ok())
            .ok_or_else(|| {
                let message = format!("invalid --write-token: {}", crate::http::InvalidToken);
                clap::Error::raw(ErrorKind::ValueValidation, message).with_cmd(cmd)
            })
    }
}

/// Bounds on each request.
#[derive(Debug, Args)]
pub struct LimitArgs {
    /// Deepest field nesting an operation may use.
    #[arg(long, env = "BOOKGRAPH_MAX_DEPTH", default_value_t = Limits::default().max_depth)]
    pub max_depth: usize,
    /// Highest estimated cost of an operation (fields, multiplied by list sizes).
    #[arg(long, env = "BOOKGRAPH_MAX_COMPLEXITY", default_value_t = Limits::default().max_complexity)]
    pub max_complexity: u64,
    /// Most aliases an operation may use.
    #[arg(long, env = "BOOKGRAPH_MAX_ALIASES", default_value_t = Limits::default().max_aliases)]
    pub max_aliases: usize,
    /// Most root fields an operation may select.
    #[arg(long, env = "BOOKGRAPH_MAX_ROOT_FIELDS", default_value_t = Limits::default().max_root_fields)]
    pub max_root_fields: usize,
    /// Most values (items of nested lists and the fields selected in them) a response may hold.
    #[arg(long, env = "BOOKGRAPH_MAX_RESPONSE_VALUES", default_value_t = Limits::default().max_response_values)]
    pub max_response_values: u64,
    /// Longest a GraphQL request may run, in seconds.
    #[arg(long, env = "BOOKGRAPH_REQUEST_TIMEOUT", default_value_t = config::REQUEST_TIMEOUT.as_secs())]
    pub request_timeout: u64,
    /// Connections open at once, WebSockets included; more wait until one closes. Keep the
    /// open-files limit (`ulimit -n`) above it plus the database's connections.
    #[arg(
        long,
        env = "BOOKGRAPH_MAX_CONNECTIONS",
        default_value_t = ConnectionLimits::default().max_connections,
        value_parser = clap::value_parser!(u32).range(1..).map(|max| max as usize)
    )]
    pub max_connections: usize,
    /// Longest a client may take to send a request's headers, and keep an idle connection
    /// open, in seconds.
    #[arg(
        long,
        env = "BOOKGRAPH_HEADER_TIMEOUT",
        default_value_t = ConnectionLimits::default().header_timeout.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub header_timeout: u64,
    /// Longest a WebSocket connection may stay open without `connection_init`, in seconds.
    #[arg(
        long,
        env = "BOOKGRAPH_WEBSOCKET_INIT_TIMEOUT",
        default_value_t = SocketLimits::default().init_timeout.as_secs()
    )]
    pub websocket_init_timeout: u64,
    /// Most operations (subscriptions included) one WebSocket connection may run at once.
    #[arg(
        long,
        env = "BOOKGRAPH_MAX_WEBSOCKET_OPERATIONS",
        default_value_t = SocketLimits::default().max_operations
    )]
    pub max_websocket_operations: usize,
}

impl LimitArgs {
    /// The connection limits these flags set.
    pub fn connections(&self) -> ConnectionLimits {
        ConnectionLimits {
            max_connections: self.max_connections,
            header_timeout: Duration::from_secs(self.header_timeout),
        }
    }

    /// The operation limits these flags set.
    pub fn limits(&self) -> Limits {
        Limits {
            max_depth: self.max_depth,
            max_complexity: self.max_complexity,
            max_aliases: self.max_aliases,
            max_root_fields: self.max_root_fields,
            max_response_values: self.max_response_values,
        }
    }

    /// The WebSocket limits these flags set.
    pub fn socket_limits(&self) -> SocketLimits {
        SocketLimits {
            init_timeout: Duration::from_secs(self.websocket_init_timeout),
            max_operations: self.max_websocket_operations,
        }
    }
}

/// Arguments of `import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The CSV file.
    pub file: PathBuf,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// Arguments of `export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Where to write the CSV; standard output when omitted or `-`.
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// Arguments of `report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Text as the tutorial prints it, or JSON for scripts.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// Output formats of `report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// The tutorial's lines.
    Text,
    /// The same content as JSON.
    Json,
}

/// Arguments of `add-book`.
#[derive(Debug, Args)]
pub struct AddBookArgs {
    /// The author's full name; it splits into first and last name at the first space.
    #[arg(
        long,
        required_unless_present = "first_name",
        conflicts_with = "first_name"
    )]
    pub author: Option<String>,
    /// The author's first name, when it contains a space itself.
    #[arg(long, requires = "last_name")]
    pub first_name: Option<String>,
    /// The author's last name.
    #[arg(long, requires = "first_name", conflicts_with = "author")]
    pub last_name: Option<String>,
    /// The book's title.
    #[arg(long)]
    pub title: String,
    /// The publisher's name.
    #[arg(long)]
    pub publisher: String,
    #[command(flatten)]
    pub database: DatabaseArgs,
}
