//! What each command does, step by step, with context on every fallible step.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context as _, bail};

use super::database::{import_file, open};
use super::progress::progress_bar;
use super::{AddBookArgs, Cli, Command, ExportArgs, ReportArgs, ReportFormat};
use crate::book_entry::{AddOutcome, BookEntry};
use crate::db;
use crate::export::export_csv;
use crate::generate::generate_csv;
use crate::graphql;
use crate::graphql::limits::Limits;
use crate::report;

/// Runs the command `cli` names.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => super::serve::serve(args).await,
        Command::Import(args) => {
            let db = open(&args.database, true).await?;
            let started = Instant::now();
            let summary = import_file(&db, &args.file).await?;
            println!(
                "imported {}: {summary} in {:.2} s",
                args.file.display(),
                started.elapsed().as_secs_f64()
            );
            db.close().await;
            Ok(())
        }
        Command::Export(args) => export(args).await,
        Command::Report(args) => print_report(args).await,
        Command::AddBook(args) => add_book(args).await,
        Command::Schema => {
            print!("{}", graphql::sdl());
            Ok(())
        }
        Command::Generate(args) => {
            let started = Instant::now();
            let (output, target) = output_file(args.file.as_deref())?;
            let rows = generate_csv(args.authors, args.seed, std::io::BufWriter::new(output))
                .context("writing the catalogue")?;
            eprintln!(
                "generated {rows} rows to {target} in {:.2} s",
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
    }
}

/// The file to write to, or standard output for none or `-`, and its name for people.
fn output_file(file: Option<&Path>) -> anyhow::Result<(Box<dyn Write>, String)> {
    match file.filter(|path| path.as_os_str() != "-") {
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("creating {}", path.display()))?;
            Ok((Box::new(file), path.display().to_string()))
        }
        None => Ok((
            Box::new(std::io::stdout().lock()),
            "standard output".to_owned(),
        )),
    }
}

async fn export(args: ExportArgs) -> anyhow::Result<()> {
    let db = open(&args.database, false).await?;
    let started = Instant::now();
    let total = db::export::flat_row_count(&db).await?;
    let bar = progress_bar(
        u64::try_from(total).unwrap_or(0),
        "exporting {bar:40} {pos}/{len} rows {eta}",
    );
    let (output, target) = output_file(args.file.as_deref())?;
    let rows = export_csv(&db, std::io::BufWriter::new(output), || bar.inc(1))
        .await
        .context("exporting the catalogue")?;
    bar.finish_and_clear();
    eprintln!(
        "exported {rows} rows to {target} in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    db.close().await;
    Ok(())
}

async fn print_report(args: ReportArgs) -> anyhow::Result<()> {
    let db = open(&args.database, false).await?;
    let report = report::gather(&graphql::build_schema(Limits::default()), &db)
        .await
        .context("gathering the report")?;
    match args.format {
        ReportFormat::Text => print!("{}", report::render_text(&report)),
        ReportFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
    }
    db.close().await;
    Ok(())
}

async fn add_book(args: AddBookArgs) -> anyhow::Result<()> {
    let (first_name, last_name) = match (&args.author, &args.first_name, &args.last_name) {
        (Some(author), _, _) => split_full_name(author)?,
        (None, Some(first), Some(last)) => (first.clone(), last.clone()),
        _ => bail!("give --author, or --first-name and --last-name"),
    };
    let entry = BookEntry::parse(&first_name, &last_name, &args.title, &args.publisher)
        .map_err(|(field, error)| anyhow::anyhow!("{}: {error}", field.input_name()))?;
    let db = open(&args.database, true).await?;
    let added = db::add_book::add_one(&db, entry.clone())
        .await
        .context("adding the book")?;
    let book = format!(
        "\"{}\" by {} {}",
        added.book.title,
        entry.author_first_name.as_str(),
        entry.author_last_name.as_str()
    );
    let publisher = entry.publisher_name.as_str();
    match added.outcome {
        AddOutcome::Created => println!("CREATED: {book}, published by {publisher}"),
        AddOutcome::PublisherAdded => {
            println!("PUBLISHER_ADDED: {book} is now also published by {publisher}");
        }
        AddOutcome::AlreadyExisted => {
            println!(
                "ALREADY_EXISTED: {book} is already published by {publisher}; nothing changed"
            );
        }
    }
    if added.author_created {
        println!(
            "new author: {} {}",
            entry.author_first_name.as_str(),
            entry.author_last_name.as_str()
        );
    }
    if added.publisher_created {
        println!("new publisher: {publisher}");
    }
    db.close().await;
    Ok(())
}

/// "Stephen King" -> ("Stephen", "King"); "John Le Carre" -> ("John", "Le Carre"): the
/// tutorial's split at the first space.
fn split_full_name(full_name: &str) -> anyhow::Result<(String, String)> {
    match full_name.trim().split_once(' ') {
        Some((first, last)) => Ok((first.to_owned(), last.to_owned())),
        None => bail!(
            "--author {full_name:?} has no last name; give --first-name and --last-name instead"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::split_full_name;

    #[test]
    fn a_full_name_splits_at_the_first_space() {
        let split = |name| split_full_name(name).ok();
        assert_eq!(
            split("Stephen King"),
            Some(("Stephen".into(), "King".into()))
        );
        assert_eq!(
            split("John Le Carre"),
            Some(("John".into(), "Le Carre".into()))
        );
        assert_eq!(split("Plato"), None);
    }
}
