//! The command line: parses arguments and runs one command. With `main`, the only place
//! that speaks `anyhow`, adding context to each step.

mod commands;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::builder::{BoolishValueParser, TypedValueParser};
use clap::error::ErrorKind;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::graphql::limits::Limits;
use crate::http::WriteToken;

pub use commands::run;

/// bookgraph: authors, books and publishers as a GraphQL graph.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Log lines as text for people or JSON for machines (levels: RUST_LOG).
    #[arg(long, global = true, value_enum, env = "BOOKGRAPH_LOG_FORMAT", default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per event.
    Json,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the GraphQL API (and GraphiQL at /).
    Serve(ServeArgs),
    /// Import a CSV file (first_name,last_name,title,publisher), all rows or none.
    Import(ImportArgs),
    /// Export the catalogue as CSV in the import format.
    Export(ExportArgs),
    /// Print the tutorial's report: books and authors per publisher, and the author tree.
    Report(ReportArgs),
    /// Add a book, exactly as the addBook mutation does.
    AddBook(AddBookArgs),
    /// Print the schema in GraphQL SDL.
    Schema,
    /// Write a deterministic synthetic catalogue as CSV, for benchmarks.
    Generate(GenerateArgs),
}

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
    /// SQLite database URL.
    #[arg(
        long = "database",
        env = "DATABASE_URL",
        default_value = "sqlite:data/bookgraph.db"
    )]
    pub url: String,
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
    /// Let anyone who can reach the server run mutations even on an address other than
    /// loopback, where bookgraph otherwise refuses to start without --write-token or
    /// --read-only.
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
    /// Longest a GraphQL request may run, in seconds.
    #[arg(long, env = "BOOKGRAPH_REQUEST_TIMEOUT", default_value_t = 10)]
    pub request_timeout: u64,
}

impl LimitArgs {
    /// The operation limits these flags set.
    pub fn limits(&self) -> Limits {
        Limits {
            max_depth: self.max_depth,
            max_complexity: self.max_complexity,
            max_aliases: self.max_aliases,
            max_root_fields: self.max_root_fields,
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

impl Cli {
    /// Parses the process's arguments. Help and version exit 0; any other problem exits 2
    /// with clap's one-line diagnosis instead of its multi-line usage screen.
    pub fn parse_or_exit() -> Cli {
        Cli::try_parse().unwrap_or_else(|error| {
            if !error.use_stderr() {
                error.exit();
            }
            let rendered = error.to_string();
            let first_line = rendered
                .lines()
                .next()
                .unwrap_or("error: invalid arguments");
            eprintln!("{first_line} (see bookgraph --help)");
            std::process::exit(2);
        })
    }
}

/// Sets up logging to standard error: `RUST_LOG` picks levels (default `info`), and colours
/// only on a terminal.
pub fn init_tracing(format: LogFormat) {
    use std::io::IsTerminal as _;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// `error` and its causes on one line, leaving out causes whose text an outer message
/// already repeats (sqlx nests the same message several levels deep).
pub fn one_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let message = cause.to_string();
        if !line.contains(&message) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&message);
        }
    }
    line.replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use clap::Parser as _;

    use super::{Cli, Command};

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }

    #[test]
    fn the_write_token_never_shows_in_a_debug_print() {
        let cli = Cli::try_parse_from(["bookgraph", "serve", "--write-token", "s3cret-token"])
            .expect("valid arguments");
        let Command::Serve(args) = &cli.command else {
            panic!("not serve: {cli:?}");
        };
        assert!(args.writes.write_token.is_some());
        let printed = format!("{cli:?}");
        assert!(!printed.contains("s3cret"), "{printed}");
    }

    #[test]
    fn an_invalid_write_token_is_refused_without_being_repeated() {
        let error = Cli::try_parse_from(["bookgraph", "serve", "--write-token", "my s3cret"])
            .expect_err("a token with a space");
        let message = error.to_string();
        assert!(message.contains("--write-token"), "{message}");
        assert!(!message.contains("s3cret"), "{message}");
    }
}
