//! The command line: parses arguments and runs one command. The only place besides
//! `main` that speaks `anyhow`, adding context to each step.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use tokio::net::TcpListener;

use crate::db::{self, Db};
use crate::graphql;
use crate::http::{self, AppState};
use crate::import::import_csv;

/// bookgraph: authors, books and publishers as a GraphQL graph.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the GraphQL API (and GraphiQL at /).
    Serve(ServeArgs),
    /// Import a CSV file (first_name,last_name,title,publisher), all rows or none.
    Import(ImportArgs),
    /// Print the schema in GraphQL SDL.
    Schema,
}

/// Where the catalogue lives.
#[derive(Debug, Args)]
pub struct DatabaseArgs {
    /// SQLite database URL; the file is created and migrated when missing.
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
    /// CSV loaded into the database when it holds no data yet.
    #[arg(
        long,
        env = "BOOKGRAPH_SEED",
        default_value = "data/author_book_publisher.csv"
    )]
    pub seed: PathBuf,
}

/// Arguments of `import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The CSV file.
    pub file: PathBuf,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// Runs the command `cli` names.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Import(args) => {
            let db = open(&args.database).await?;
            let summary = import_file(&db, &args.file).await?;
            println!("imported {}: {summary}", args.file.display());
            db.close().await;
            Ok(())
        }
        Command::Schema => {
            print!("{}", graphql::sdl());
            Ok(())
        }
    }
}

async fn open(database: &DatabaseArgs) -> anyhow::Result<Db> {
    Db::open(&database.url)
        .await
        .with_context(|| format!("opening database {}", database.url))
}

async fn import_file(db: &Db, path: &Path) -> anyhow::Result<crate::import::ImportSummary> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    import_csv(db, std::io::BufReader::new(file))
        .await
        .with_context(|| format!("importing {}", path.display()))
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let db = open(&args.database).await?;
    if db::is_empty(&db).await? {
        if args.seed.exists() {
            let summary = import_file(&db, &args.seed).await?;
            tracing::info!(seed = %args.seed.display(), %summary, "loaded the empty database");
        } else {
            tracing::warn!(seed = %args.seed.display(), "database is empty and the seed file is missing");
        }
    }
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let address = listener.local_addr()?;
    tracing::info!(
        "bookgraph is serving GraphiQL at http://{address}/ and GraphQL at http://{address}/graphql"
    );
    let router = http::router(AppState::new(graphql::build_schema(db.clone()), db.clone()));
    http::serve(listener, router, shutdown_signal()).await?;
    db.close().await;
    tracing::info!("bookgraph stopped");
    Ok(())
}

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        super::Cli::command().debug_assert();
    }
}
