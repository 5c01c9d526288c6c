//! The tutorial's programs from the command line: report, add-book, export, import.

use crate::helpers::{TestApp, bookgraph, stdout};

const EXPECTED_REPORT: &str = include_str!("../expected/report.txt");

#[tokio::test]
async fn report_prints_the_tutorials_lines() {
    let app = TestApp::spawn().await;
    assert_eq!(
        stdout(&bookgraph(&app.database_url, &["report"])),
        EXPECTED_REPORT
    );
}

#[tokio::test]
async fn report_as_json_has_the_same_content() {
    let app = TestApp::spawn().await;
    let json: serde_json::Value = serde_json::from_str(&stdout(&bookgraph(
        &app.database_url,
        &["report", "--format", "json"],
    )))
    .unwrap();
    assert_eq!(
        json["booksByPublisher"][0],
        serde_json::json!({"publisher": "Random House", "count": 4})
    );
    assert_eq!(
        json["authorsByPublisher"][0],
        serde_json::json!({"publisher": "Simon & Schuster", "count": 4})
    );
    assert_eq!(json["authors"].as_array().unwrap().len(), 7);
    assert_eq!(json["authors"][5]["name"], "Stephen King");
}

#[tokio::test]
async fn add_book_the_stand_then_report_shows_it_once() {
    let app = TestApp::spawn().await;
    let add = [
        "add-book",
        "--author",
        "Stephen King",
        "--title",
        "The Stand",
        "--publisher",
        "Random House",
    ];
    assert!(
        stdout(&bookgraph(&app.database_url, &add))
            .starts_with("CREATED: \"The Stand\" by Stephen King")
    );
    let report = stdout(&bookgraph(&app.database_url, &["report"]));
    assert!(
        report.contains("Publisher: Random House, total books: 5\n"),
        "{report}"
    );
    assert!(
        report.contains(
            "│   ├── The Shining\n│   │   └── Penguin Random House\n│   └── The Stand\n│       └── Random House\n"
        ),
        "{report}"
    );

    let again = stdout(&bookgraph(&app.database_url, &add));
    assert!(again.starts_with("ALREADY_EXISTED:"), "{again}");
    assert_eq!(
        stdout(&bookgraph(&app.database_url, &["report"])),
        report,
        "nothing changed"
    );
}

#[tokio::test]
async fn add_book_takes_explicit_name_parts() {
    let app = TestApp::spawn_empty().await;
    let output = stdout(&bookgraph(
        &app.database_url,
        &[
            "add-book",
            "--first-name",
            "Mary Ann",
            "--last-name",
            "Evans",
            "--title",
            "Middlemarch",
            "--publisher",
            "Blackwood",
        ],
    ));
    assert!(
        output.starts_with("CREATED: \"Middlemarch\" by Mary Ann Evans"),
        "{output}"
    );
    let data = app
        .data("{ authors { nodes { firstName lastName } } }")
        .await;
    assert_eq!(
        data["authors"]["nodes"][0],
        serde_json::json!({"firstName": "Mary Ann", "lastName": "Evans"})
    );
}

#[tokio::test]
async fn export_then_import_into_an_empty_database_gives_the_same_catalogue() {
    let app = TestApp::spawn().await;
    let exported = stdout(&bookgraph(&app.database_url, &["export"]));
    let copy = TestApp::spawn_with_csv(&exported).await;
    assert_eq!(
        stdout(&bookgraph(&copy.database_url, &["export", "-"])),
        exported
    );
    assert_eq!(
        stdout(&bookgraph(&copy.database_url, &["report"])),
        stdout(&bookgraph(&app.database_url, &["report"]))
    );
}

#[tokio::test]
async fn export_sorts_by_last_name_first_name_title_publisher() {
    let app = TestApp::spawn().await;
    let exported = stdout(&bookgraph(&app.database_url, &["export"]));
    let lines: Vec<&str> = exported.lines().collect();
    assert_eq!(lines[0], "first_name,last_name,title,publisher");
    assert_eq!(lines[1], "Isaac,Asimov,Foundation,Random House");
    assert_eq!(
        lines[10],
        "John,Le Carre,\"Tinker, Tailor, Soldier, Spy: A George Smiley Novel\",Berkley"
    );
    assert_eq!(lines.len(), 13);
}

#[tokio::test]
async fn awkward_fields_survive_a_round_trip() {
    let awkward = "first_name,last_name,title,publisher\n\
        \"Jean, Jr.\",Zoë,\"The \"\"Quoted\"\" Title\",Éditions\n\
        Ada,Lovelace,\"Notes\non the\nEngine\",\"Taylor, and Sons\"\n\
        李,白,静夜思,中华书局\n";
    let app = TestApp::spawn_with_csv(awkward).await;
    let exported = stdout(&bookgraph(&app.database_url, &["export"]));
    // Newlines inside names are white space, collapsed to one space when stored.
    assert!(
        exported.contains("Ada,Lovelace,Notes on the Engine,\"Taylor, and Sons\"\n"),
        "{exported}"
    );
    assert!(
        exported.contains("\"Jean, Jr.\",Zoë,\"The \"\"Quoted\"\" Title\",Éditions\n"),
        "{exported}"
    );
    assert!(exported.contains("李,白,静夜思,中华书局\n"), "{exported}");

    let copy = TestApp::spawn_with_csv(&exported).await;
    assert_eq!(
        stdout(&bookgraph(&copy.database_url, &["export"])),
        exported
    );
}

#[tokio::test]
async fn export_writes_a_file_and_reports_a_summary() {
    let app = TestApp::spawn().await;
    let path = app.temp_path("out.csv");
    let output = bookgraph(&app.database_url, &["export", path.to_str().unwrap()]);
    assert!(output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.starts_with("exported 12 rows to "), "{stderr}");
    assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 13);
}

#[tokio::test]
async fn every_command_fails_with_one_line_and_no_panic() {
    let app = TestApp::spawn().await;
    let garbage = app.temp_path("garbage.db");
    std::fs::write(&garbage, "this is not a database").unwrap();
    let garbage_url = format!("sqlite:{}", garbage.display());
    let missing_url = format!("sqlite:{}", app.temp_path("missing.db").display());
    // Nothing listens on port 1 of loopback: the connection is refused at once.
    let unreachable_url = "postgres://reader:hunter2-secret@127.0.0.1:1/books";
    let cases: [(&str, &str, &[&str]); 9] = [
        ("unreachable server", unreachable_url, &["report"]),
        (
            "missing CSV",
            &app.database_url,
            &["import", "/no/such/file.csv"],
        ),
        ("unreadable database", &garbage_url, &["report"]),
        ("unreadable database", &garbage_url, &["export"]),
        (
            "unreadable database",
            &garbage_url,
            &[
                "add-book",
                "--author",
                "A B",
                "--title",
                "T",
                "--publisher",
                "P",
            ],
        ),
        ("missing database", &missing_url, &["report"]),
        (
            "bad argument",
            &app.database_url,
            &["report", "--format", "xml"],
        ),
        ("unknown command", &app.database_url, &["frobnicate"]),
        (
            "author without a last name",
            &app.database_url,
            &[
                "add-book",
                "--author",
                "Plato",
                "--title",
                "T",
                "--publisher",
                "P",
            ],
        ),
    ];
    for (what, database_url, args) in cases {
        let output = bookgraph(database_url, args);
        assert!(!output.status.success(), "{what}: {output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.trim_end().lines().count(), 1, "{what}: {stderr}");
        assert!(stderr.starts_with("error: "), "{what}: {stderr}");
        assert!(!stderr.contains("panicked"), "{what}: {stderr}");
        assert!(
            !stderr.contains("hunter2"),
            "{what}: a password in {stderr}"
        );
    }
    assert!(
        !app.temp_path("missing.db").exists(),
        "report creates no database"
    );
}

#[tokio::test]
async fn authors_and_publishers_without_books_survive_export_then_import() {
    let app = TestApp::spawn().await;
    let publishers = app.data("{ publishers { nodes { id name } } }").await;
    let random_house = publishers["publishers"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|publisher| publisher["name"] == "Random House")
        .unwrap()["id"]
        .clone();
    // Asimov's only book goes with Random House; Woolf and Hogarth never had any.
    app.data_with(
        r#"mutation($id: ID!) {
            deletePublisher(input: {id: $id, cascade: true}) { deletedId }
            createAuthor(input: {firstName: "Virginia", lastName: "Woolf"}) { author { id } }
            createPublisher(input: {name: "Hogarth Press"}) { publisher { id } }
        }"#,
        serde_json::json!({ "id": random_house }),
    )
    .await;

    let exported = stdout(&bookgraph(&app.database_url, &["export"]));
    for line in [
        "Isaac,Asimov,,\n",
        "Virginia,Woolf,,\n",
        ",,,Hogarth Press\n",
    ] {
        assert!(exported.contains(line), "{line:?} in {exported}");
    }
    let copy = TestApp::spawn_empty().await;
    let path = app.temp_path("catalogue.csv");
    std::fs::write(&path, &exported).unwrap();
    stdout(&bookgraph(
        &copy.database_url,
        &["import", path.to_str().unwrap()],
    ));
    assert_eq!(
        stdout(&bookgraph(&copy.database_url, &["export", "-"])),
        exported
    );
    let totals = "{ authors { totalCount } books { totalCount } publishers { totalCount } }";
    assert_eq!(copy.data(totals).await, app.data(totals).await);
    assert_eq!(
        copy.data(r#"{ authors(filter: {nameContains: "asimov"}) { nodes { name bookCount } } }"#)
            .await["authors"]["nodes"],
        serde_json::json!([{ "name": "Isaac Asimov", "bookCount": 0 }])
    );
}
