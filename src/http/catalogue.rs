//! The catalogue page at `/catalogue`: publishers as a table and bar charts, the author →
//! book → publisher hierarchy, an "add a book" form and books arriving live. Plain HTML,
//! CSS and JavaScript modules from `assets/catalogue/`, embedded like GraphiQL's, with no
//! build step. The page uses only the public API (GET and POST `/graphql`, the WebSocket at
//! `/graphql/ws`), as any other frontend would; nothing here serves it data.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use sha2::{Digest, Sha256};

/// The page, with `{version}` standing for the assets' version.
const PAGE: &str = include_str!("../../assets/catalogue/index.html");

/// Every file served under `/assets/catalogue/{version}/`: name, media type, content.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "catalogue.css",
        "text/css; charset=utf-8",
        include_str!("../../assets/catalogue/catalogue.css"),
    ),
    (
        "app.js",
        JAVASCRIPT,
        include_str!("../../assets/catalogue/app.js"),
    ),
    (
        "graphql.js",
        JAVASCRIPT,
        include_str!("../../assets/catalogue/graphql.js"),
    ),
    (
        "ui.js",
        JAVASCRIPT,
        include_str!("../../assets/catalogue/ui.js"),
    ),
    (
        "publishers.js",
        JAVASCRIPT,
        include_str!("../../assets/catalogue/publishers.js"),
    ),
    (
        "browse.js",
        JAVASCRIPT,
        include_str!("../../assets/catalogue/browse.js"),
    ),
    (
        "add-book.js",
        JAVASCRIPT,
        include_str!("../../assets/catalogue/add-book.js"),
    ),
];

const JAVASCRIPT: &str = "text/javascript; charset=utf-8";

/// A digest of every asset, in their URLs' path: the modules import each other by relative
/// URL, so a version in the path (where a `?v=` query string would not reach the imports)
/// moves them all to new URLs together, and a year's caching stays safe across upgrades.
static VERSION: LazyLock<String> = LazyLock::new(|| {
    let mut digest = Sha256::new();
    for (name, _, content) in ASSETS {
        digest.update(name);
        digest.update(content);
    }
    digest.finalize()[..6]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
});

static HTML: LazyLock<String> = LazyLock::new(|| PAGE.replace("{version}", &VERSION));

/// The page may run only its own scripts and styles and talk only to its own server (which
/// in CSP3 includes its WebSocket); no inline code, so an injected name can never run.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

/// `GET /catalogue`: the page.
pub async fn page() -> Response {
    (
        [
            // Revalidated on every visit, so a new binary's asset version is picked up.
            (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY)),
        ],
        Html(HTML.as_str()),
    )
        .into_response()
}

/// `GET /assets/catalogue/{version}/{file}`: one embedded file of the current version, or
/// 404 (a page of an older binary asks for files that are gone).
pub async fn asset(Path((version, file)): Path<(String, String)>) -> Response {
    let found = ASSETS.iter().find(|(name, ..)| *name == file);
    let Some(&(_, content_type, content)) = found.filter(|_| version == *VERSION) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (
                CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
            (X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        ],
        content,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_every_module_from_the_current_version() {
        assert!(!HTML.contains("{version}"));
        assert!(HTML.contains(&format!("/assets/catalogue/{}/app.js", *VERSION)));
        for (name, _, content) in ASSETS {
            // Relative imports stay inside the versioned directory.
            for import in content.split("from './").skip(1) {
                let imported = import.split('\'').next().unwrap_or_default();
                assert!(
                    ASSETS.iter().any(|(other, ..)| *other == imported),
                    "{name} imports {imported}, which is not embedded"
                );
            }
        }
    }
}
