//! The command line: parses arguments and runs one command. With `main`, the only place
//! that speaks `anyhow`, adding context to each step.

mod args;
mod commands;
mod database;
mod progress;
mod redact;
mod serve;

use clap::{Parser, Subcommand, ValueEnum};

pub use args::*;
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
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx::postgres::notice=warn"));
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
