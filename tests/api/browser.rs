//! GraphiQL at `GET /` and the catalogue page: served entirely by bookgraph, and working in
//! a real browser with every request to another host refused.

mod catalogue;

use std::path::Path;

use reqwest::header::CACHE_CONTROL;
use serde_json::json;

use crate::helpers::{ClientNeeds, TestApp, media_type, run_node};

/// Every file the page must load, with the media type it must come with.
const ASSETS: &[(&str, &str)] = &[
    ("/assets/graphiql/graphiql.min.js", "text/javascript"),
    ("/assets/graphiql/graphiql.min.css", "text/css"),
    (
        "/assets/graphiql/react.production.min.js",
        "text/javascript",
    ),
    (
        "/assets/graphiql/react-dom.production.min.js",
        "text/javascript",
    ),
];

/// The example operations the page opens with.
const EXAMPLES: &[&str] = &[
    "BooksPerPublisher",
    "AuthorsPerPublisher",
    "BooksPerAuthor",
    "Hierarchy",
    "AddTheStand",
];

async fn page_html(app: &TestApp) -> String {
    let response = app
        .client()
        .get(app.url("/"))
        .send()
        .await
        .expect("GET / reaches the server");
    assert_eq!(response.status(), 200, "GET /");
    assert_eq!(
        media_type(response.headers()),
        "text/html",
        "GET / content type"
    );
    response.text().await.expect("GET / body")
}

/// Every `src="…"` and `href="…"` in `html`.
fn linked_urls(html: &str) -> Vec<&str> {
    ["src=\"", "href=\""]
        .iter()
        .flat_map(|attribute| html.split(attribute).skip(1))
        .filter_map(|rest| rest.split('"').next())
        .collect()
}

#[tokio::test]
async fn graphiql_page_refers_only_to_its_own_server() {
    let app = TestApp::spawn().await;
    let html = page_html(&app).await;

    for scheme in ["http://", "https://"] {
        assert!(!html.contains(scheme), "GET / mentions {scheme}:\n{html}");
    }
    assert!(
        html.contains("/assets/graphiql/graphiql.min.js"),
        "GET / does not load the embedded GraphiQL:\n{html}"
    );
    assert!(html.contains("url: '/graphql'"), "fetcher not on /graphql");
    for url in linked_urls(&html) {
        assert!(
            url.starts_with("/assets/graphiql/") || url.starts_with("data:") || url == "/catalogue",
            "GET / links to {url}, outside the embedded assets and the catalogue page"
        );
    }
    for (path, _) in ASSETS {
        assert!(html.contains(path), "GET / does not load {path}");
    }
    for name in EXAMPLES {
        assert!(html.contains(name), "GET / lacks the {name} example");
    }
}

#[tokio::test]
async fn graphiql_assets_are_served_with_their_types() {
    let app = TestApp::spawn().await;
    let html = page_html(&app).await;
    let linked = linked_urls(&html);

    for (path, expected) in ASSETS {
        // Fetched as the page links it, version query string included.
        let url = linked
            .iter()
            .find(|url| url.split('?').next() == Some(path))
            .unwrap_or_else(|| panic!("GET / does not link {path}"));
        let response = app.client().get(app.url(url)).send().await.expect(path);
        assert_eq!(response.status(), 200, "GET {url}");
        assert_eq!(
            media_type(response.headers()),
            *expected,
            "content type of {url}"
        );
        let cache = response.headers()[CACHE_CONTROL]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            cache.contains("max-age=31536000"),
            "{url}: cache-control {cache}"
        );
        let body = response.bytes().await.expect(path);
        assert!(body.len() > 1000, "{url} is only {} bytes", body.len());
    }
    for license in ["LICENSE.graphiql", "LICENSE.react", "LICENSE.react-dom"] {
        let response = app
            .client()
            .get(app.url(&format!("/assets/graphiql/{license}")))
            .send()
            .await
            .expect(license);
        assert_eq!(response.status(), 200, "GET {license}");
        assert_eq!(media_type(response.headers()), "text/plain", "{license}");
    }
    for unknown in [
        "nope.js",
        "graphiql.min.js.map",
        "..%2FCargo.toml",
        "README.md",
    ] {
        let response = app
            .client()
            .get(app.url(&format!("/assets/graphiql/{unknown}")))
            .send()
            .await
            .expect(unknown);
        assert_eq!(response.status(), 404, "GET /assets/graphiql/{unknown}");
    }
}

#[tokio::test]
async fn graphiql_examples_run_without_errors() {
    let app = TestApp::spawn().await;
    let html = page_html(&app).await;
    let examples = html
        .split("<script type=\"application/graphql\" id=\"examples\">")
        .nth(1)
        .and_then(|rest| rest.split("</script>").next())
        .expect("examples block in GET /");

    for name in EXAMPLES {
        let response = app
            .client()
            .post(app.url("/graphql"))
            .json(&json!({ "query": examples, "operationName": name }))
            .send()
            .await
            .expect(name);
        assert_eq!(response.status(), 200, "{name}");
        let body: serde_json::Value = response.json().await.expect(name);
        assert!(body.get("errors").is_none(), "{name}: {body}");
        assert!(body["data"].is_object(), "{name}: {body}");
    }
}

#[tokio::test]
async fn graphiql_runs_a_query_in_chromium_offline() {
    let app = TestApp::spawn().await;
    let screenshot = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/graphiql.png");
    let screenshot = screenshot.to_str().expect("UTF-8 path");
    std::fs::remove_file(screenshot).ok();
    run_in_chromium(
        "graphiql.mjs",
        vec![app.url("/"), screenshot.to_owned()],
        Path::new(screenshot),
    )
    .await;
}

/// Runs `clients/<script>` with `args` in Chromium (through Node, which `run_node` may skip on
/// a machine without them), and checks that it passed and left its `screenshot`.
async fn run_in_chromium(script: &'static str, args: Vec<String>, screenshot: &Path) {
    // `run_node` blocks, and the servers run on the test's single-threaded runtime.
    let output = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_node(script, &args, ClientNeeds::NodeAndChromium)
    })
    .await
    .expect("node runs");
    let Some(output) = output else {
        return;
    };
    assert!(
        output.status.success(),
        "clients/{script} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(
        screenshot.exists(),
        "no screenshot at {}",
        screenshot.display()
    );
}
