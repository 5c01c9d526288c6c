//! The catalogue page at `/catalogue`: served entirely by bookgraph, and usable in a real
//! browser with every request to another host refused.

use std::path::Path;

use bookgraph::http::{WriteAccess, WriteToken};
use reqwest::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY};

use super::{linked_urls, run_in_chromium};
use crate::helpers::{TestApp, media_type};

/// The write token of the server that asks for one.
const TOKEN: &str = "catalogue-test-token";

/// Authors in the generated catalogue the page is paged through: several pages of ten.
const GENERATED_AUTHORS: u64 = 45;

async fn page_html(app: &TestApp) -> (String, String) {
    let response = app
        .client()
        .get(app.url("/catalogue"))
        .send()
        .await
        .expect("GET /catalogue reaches the server");
    assert_eq!(response.status(), 200, "GET /catalogue");
    assert_eq!(media_type(response.headers()), "text/html");
    let policy = response.headers()[CONTENT_SECURITY_POLICY]
        .to_str()
        .expect("ASCII policy")
        .to_owned();
    (response.text().await.expect("page body"), policy)
}

#[tokio::test]
async fn catalogue_page_loads_only_its_own_embedded_files() {
    let app = TestApp::spawn().await;
    let (html, policy) = page_html(&app).await;

    for scheme in ["http://", "https://", "ws://"] {
        assert!(
            !html.contains(scheme),
            "the page mentions {scheme}:\n{html}"
        );
    }
    assert!(!html.contains("<script>"), "inline script in:\n{html}");
    assert!(policy.contains("script-src 'self'"), "{policy}");
    let assets: Vec<&str> = linked_urls(&html)
        .into_iter()
        .filter(|url| url.starts_with("/assets/"))
        .collect();
    assert_eq!(
        assets.len(),
        2,
        "a style sheet and the app module: {assets:?}"
    );
    for url in linked_urls(&html) {
        assert!(
            url.starts_with("/assets/catalogue/")
                || url.starts_with('#')
                || url == "/"
                || url == "data:,",
            "the page links to {url}"
        );
    }
    let app_js = assets
        .iter()
        .find(|url| url.ends_with("/app.js"))
        .expect("the page loads app.js");
    let directory = app_js.trim_end_matches("app.js");
    for (file, expected) in [
        ("app.js", "text/javascript"),
        ("graphql.js", "text/javascript"),
        ("catalogue.css", "text/css"),
    ] {
        let url = format!("{directory}{file}");
        let response = app.client().get(app.url(&url)).send().await.expect(file);
        assert_eq!(response.status(), 200, "GET {url}");
        assert_eq!(media_type(response.headers()), expected, "{url}");
        let cache = response.headers()[CACHE_CONTROL]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(cache.contains("immutable"), "{url}: cache-control {cache}");
    }
    for missing in [
        "/assets/catalogue/0000/app.js".to_owned(),
        format!("{directory}nope.js"),
        format!("{directory}index.html"),
    ] {
        let response = app.client().get(app.url(&missing)).send().await.unwrap();
        assert_eq!(response.status(), 404, "GET {missing}");
    }
}

#[tokio::test]
async fn graphiql_links_to_the_catalogue() {
    let app = TestApp::spawn().await;
    let html = app
        .client()
        .get(app.url("/"))
        .send()
        .await
        .expect("GET /")
        .text()
        .await
        .expect("GraphiQL page");
    assert!(linked_urls(&html).contains(&"/catalogue"), "{html}");
}

#[tokio::test]
async fn catalogue_works_in_chromium_offline() {
    let tutorial = TestApp::spawn().await;
    let mut csv = Vec::new();
    bookgraph::generate::generate_csv(GENERATED_AUTHORS, 1, &mut csv).expect("generate");
    let generated = TestApp::spawn_with_csv(std::str::from_utf8(&csv).expect("UTF-8")).await;
    let token = WriteToken::new(TOKEN).expect("valid token");
    let guarded =
        TestApp::spawn_configured(|state| state.with_write_access(WriteAccess::Token(token))).await;
    let screenshots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/catalogue");
    let screenshot = screenshots.join("catalogue.png");
    std::fs::remove_file(&screenshot).ok();
    let args = vec![
        tutorial.url("/catalogue"),
        generated.url("/catalogue"),
        guarded.url("/catalogue"),
        TOKEN.to_owned(),
        screenshots.to_str().expect("UTF-8 path").to_owned(),
    ];
    run_in_chromium("catalogue.mjs", args, &screenshot).await;
}
