//! `bookgraph import`: idempotent, and all or nothing.

use bookgraph::import::import_csv;

use crate::helpers::{TUTORIAL_CSV, TestApp, assert_counts_match_rows, bookgraph};

const TOTALS: &str = "{ authors { totalCount } books { totalCount } publishers { totalCount } }";

#[tokio::test]
async fn importing_the_same_file_twice_changes_nothing() {
    let app = TestApp::spawn().await;
    let before = app.data(TOTALS).await;
    let summary = import_csv(&app.db, TUTORIAL_CSV.as_bytes()).await.unwrap();
    assert_eq!(
        summary.to_string(),
        "12 rows: created 0 authors, 0 books, 0 publishers, 0 links"
    );
    assert_eq!(app.data(TOTALS).await, before);
    assert_counts_match_rows(&app).await;
}

#[tokio::test]
async fn the_import_command_reports_what_it_created() {
    let app = TestApp::spawn_empty().await;
    let output = bookgraph(
        &app.database_url,
        &["import", "data/author_book_publisher.csv"],
    );
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.contains("12 rows: created 7 authors, 10 books, 4 publishers, 12 links"),
        "{stdout}"
    );
    let again = bookgraph(
        &app.database_url,
        &["import", "data/author_book_publisher.csv"],
    );
    let stdout = String::from_utf8(again.stdout).unwrap();
    assert!(
        stdout.contains("created 0 authors, 0 books, 0 publishers, 0 links"),
        "{stdout}"
    );
}

#[tokio::test]
async fn a_malformed_file_writes_nothing_and_names_the_line() {
    let app = TestApp::spawn().await;
    let before = app.data(TOTALS).await;
    let good = "Ada,Lovelace,Notes,Taylor\n";
    let long_title = "x".repeat(100_000);
    let crlf = good.replace('\n', "\r\n");
    let cases: [(&str, Vec<u8>, &str); 8] = [
        (
            "empty name, CRLF line endings",
            format!("first_name,last_name,title,publisher\r\n{crlf}{crlf}Ada,,Notes,Taylor\r\n")
                .into_bytes(),
            "line 4:",
        ),
        (
            "record too long, CRLF line endings",
            format!("first_name,last_name,title,publisher\r\n{crlf}{crlf}Ada,Lovelace,{long_title},Taylor\r\n")
                .into_bytes(),
            "line 4:",
        ),
        (
            "record too long",
            format!(
                "first_name,last_name,title,publisher\n{good}Ada,Lovelace,{long_title},Taylor\n"
            )
            .into_bytes(),
            "line 3: the record is longer than 65536 bytes",
        ),
        (
            "wrong column count",
            format!("first_name,last_name,title,publisher\n{good}Only,Three,Fields\n").into_bytes(),
            "line 3",
        ),
        (
            "empty name",
            format!("first_name,last_name,title,publisher\n{good}{good}Ada,,Notes,Taylor\n")
                .into_bytes(),
            "line 4",
        ),
        (
            "invalid UTF-8",
            [
                format!("first_name,last_name,title,publisher\n{good}").as_bytes(),
                b"Ada,Love\xfflace,Notes,Taylor\n",
            ]
            .concat(),
            "line 3",
        ),
        (
            "wrong header",
            b"author,title,publisher,year\n".to_vec(),
            "line 1",
        ),
        (
            "control character",
            format!("first_name,last_name,title,publisher\n{good}Ada,Lovelace,No\u{7}tes,Taylor\n")
                .into_bytes(),
            "line 3",
        ),
    ];
    for (what, contents, line) in cases {
        let path = app.temp_path("bad.csv");
        std::fs::write(&path, contents).unwrap();
        let output = bookgraph(&app.database_url, &["import", path.to_str().unwrap()]);
        assert!(!output.status.success(), "{what}: {output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(line), "{what}: {stderr}");
        assert_eq!(
            stderr.trim().lines().count(),
            1,
            "{what}: one line, no backtrace: {stderr}"
        );
        assert_eq!(app.data(TOTALS).await, before, "{what}: nothing written");
    }
}

#[tokio::test]
async fn quoted_fields_with_commas_are_one_field() {
    let app = TestApp::spawn().await;
    let data = app
        .data(r#"{ books(filter: {titleContains: "tinker"}) { nodes { title } } }"#)
        .await;
    assert_eq!(
        data["books"]["nodes"][0]["title"],
        "Tinker, Tailor, Soldier, Spy: A George Smiley Novel"
    );
}

#[tokio::test]
async fn rows_naming_the_same_things_differently_are_matched_like_add_book() {
    let app = TestApp::spawn().await;
    let csv = "first_name,last_name,title,publisher\n\
               Ada,Lovelace,Notes,Taylor\n\
               ADA,\" lovelace \",  notes,TAYLOR\n\
               stephen,KING,the shining,penguin random house\n\
               Stephen,King,The Shining,Taylor\n";
    let summary = import_csv(&app.db, csv.as_bytes()).await.unwrap();
    assert_eq!(
        summary.to_string(),
        "4 rows: created 1 authors, 1 books, 1 publishers, 2 links"
    );
    let data = app
        .data(r#"{ authors(filter: {nameContains: "lovelace"}) { nodes { name books { title publishers { name } } } }
                   books(filter: {titleContains: "shining"}) { nodes { title author { name } publishers { name } } } }"#)
        .await;
    assert_eq!(
        data,
        serde_json::json!({
            "authors": {"nodes": [{"name": "Ada Lovelace", "books": [{"title": "Notes", "publishers": [{"name": "Taylor"}]}]}]},
            "books": {"nodes": [{"title": "The Shining", "author": {"name": "Stephen King"},
                                 "publishers": [{"name": "Penguin Random House"}, {"name": "Taylor"}]}]},
        })
    );
    assert_counts_match_rows(&app).await;
}

/// A file as the importer reads it, counting the bytes it hands over.
struct CountedFile {
    file: std::fs::File,
    read: u64,
}

impl std::io::Read for CountedFile {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let read = self.file.read(buf)?;
        self.read += read as u64;
        Ok(read)
    }
}

#[tokio::test]
async fn a_record_too_long_is_refused_by_line_before_it_is_read_whole() {
    let app = TestApp::spawn().await;
    let before = app.data(TOTALS).await;
    let long_title = "x".repeat(8 << 20);
    let path = app.temp_path("long.csv");
    std::fs::write(
        &path,
        format!(
            "first_name,last_name,title,publisher\nAda,Lovelace,Notes,Taylor\n\
             Ada,Lovelace,\"{long_title}\",Taylor\nAda,Lovelace,More Notes,Taylor\n"
        ),
    )
    .unwrap();
    let mut input = CountedFile {
        file: std::fs::File::open(&path).unwrap(),
        read: 0,
    };
    let error = import_csv(&app.db, &mut input).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "line 3: the record is longer than 65536 bytes"
    );
    assert!(input.read < 1 << 20, "read {} bytes of 8 MiB", input.read);
    assert_eq!(app.data(TOTALS).await, before, "nothing written");
}
