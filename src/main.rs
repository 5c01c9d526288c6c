use std::process::ExitCode;

use bookgraph::cli::{self, Cli};

/// mimalloc instead of the system allocator: a response allocates per field and per row,
/// and glibc's malloc spent a quarter of the server's time on that under load (its arenas
/// contend and consolidate), where mimalloc's per-thread free lists do not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse_or_exit();
    cli::init_tracing(cli.log_format);
    match cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", cli::one_line(&error));
            ExitCode::FAILURE
        }
    }
}
