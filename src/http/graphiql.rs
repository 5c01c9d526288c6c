//! GraphiQL, served entirely from the binary. The page and every script and style sheet it
//! loads are embedded (see `assets/graphiql/README.md`), so the IDE works with no internet
//! access and runs no code fetched from a CDN with the right to call our `/graphql`.

use axum::extract::Path;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};

/// Asset URLs carry the embedded versions as a query string, so a browser holding a cached
/// copy for a year still fetches new files once an upgraded binary serves a new page.
macro_rules! asset_version {
    () => {
        "graphiql-4.1.2.react-18.3.1"
    };
}

/// The page: our own HTML, loading only the embedded files. The examples sit in a script
/// block of a type browsers do not run, so they need no escaping for JavaScript.
const PAGE: &str = concat!(
    r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>bookgraph · GraphiQL</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/graphiql/graphiql.min.css?v="#,
    asset_version!(),
    r#"">
<style>
html, body { height: 100%; margin: 0; }
body { display: flex; flex-direction: column; }
#graphiql { flex: 1; min-height: 0; }
.bookgraph-nav { padding: 4px 12px; font: 14px system-ui, sans-serif; background: #1d2430; }
.bookgraph-nav a { color: #cfe0ff; }
</style>
</head>
<body>
<nav class="bookgraph-nav"><a href="/catalogue">The catalogue as a web page</a></nav>
<div id="graphiql">Loading GraphiQL…</div>
<noscript>GraphiQL needs JavaScript. The GraphQL endpoint is /graphql.</noscript>
<script type="application/graphql" id="examples">
# The tutorial's reports and its add_new_book.
# To run one, put the cursor in it and press Ctrl-Enter
# (Cmd-Enter on a Mac), or pick it from the run button.

query BooksPerPublisher {
  publishers(orderBy: {field: BOOK_COUNT, direction: DESC}) {
    nodes { name bookCount }
  }
}

query AuthorsPerPublisher {
  publishers(orderBy: {field: AUTHOR_COUNT, direction: DESC}) {
    nodes { name authorCount authors { name } }
  }
}

query BooksPerAuthor {
  authors(orderBy: {field: BOOK_COUNT, direction: DESC}) {
    nodes { name bookCount }
  }
}

query Hierarchy {
  authors(first: 100) {
    nodes { name books { title publishers { name } } }
  }
}

# Run this one, then AddTheStand in another tab: the new
# book arrives here over a WebSocket.
subscription BookAdded {
  bookAdded { title author { name } publishers { name } }
}

mutation AddTheStand {
  addBook(input: {
    authorFirstName: "Stephen", authorLastName: "King",
    title: "The Stand", publisherName: "Random House"
  }) {
    outcome
    book { title }
  }
}
</script>
<script src="/assets/graphiql/react.production.min.js?v="#,
    asset_version!(),
    r#""></script>
<script src="/assets/graphiql/react-dom.production.min.js?v="#,
    asset_version!(),
    r#""></script>
<script src="/assets/graphiql/graphiql.min.js?v="#,
    asset_version!(),
    r#""></script>
<script>
  const examples = document.getElementById('examples').textContent.trimStart();
  // WebSocket URLs must be absolute: the page's own host, wss when the page is https.
  const subscriptionUrl =
    (location.protocol === 'https:' ? 'wss:' : 'ws:') + '//' + location.host + '/graphql/ws';
  ReactDOM.createRoot(document.getElementById('graphiql')).render(
    React.createElement(GraphiQL, {
      // Subscriptions go over graphql-ws, bundled in graphiql.min.js; the headers tab
      // rides along as the connection_init payload, so an Authorization set there
      // authorises the socket too.
      fetcher: GraphiQL.createFetcher({ url: '/graphql', subscriptionUrl }),
      defaultQuery: examples,
    }),
  );
</script>
</body>
</html>
"#
);

/// File names are not content-hashed; the `?v=` on the page's URLs is what makes a year safe.
const LONG_CACHE: &str = "public, max-age=31536000, immutable";

const JAVASCRIPT: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";

/// Every file served under `/assets/graphiql/`: name, media type, bytes. The licences ride
/// along because the MIT licence asks that its notice accompany copies we hand out.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "graphiql.min.js",
        JAVASCRIPT,
        include_bytes!("../../assets/graphiql/graphiql.min.js"),
    ),
    (
        "graphiql.min.css",
        CSS,
        include_bytes!("../../assets/graphiql/graphiql.min.css"),
    ),
    (
        "react.production.min.js",
        JAVASCRIPT,
        include_bytes!("../../assets/graphiql/react.production.min.js"),
    ),
    (
        "react-dom.production.min.js",
        JAVASCRIPT,
        include_bytes!("../../assets/graphiql/react-dom.production.min.js"),
    ),
    (
        "LICENSE.graphiql",
        TEXT,
        include_bytes!("../../assets/graphiql/LICENSE.graphiql"),
    ),
    (
        "LICENSE.react",
        TEXT,
        include_bytes!("../../assets/graphiql/LICENSE.react"),
    ),
    (
        "LICENSE.react-dom",
        TEXT,
        include_bytes!("../../assets/graphiql/LICENSE.react-dom"),
    ),
];

/// `GET /`: the GraphiQL page.
pub async fn page() -> Response {
    // Revalidated on every visit, so a new binary's asset versions are picked up at once.
    ([(CACHE_CONTROL, "no-cache")], Html(PAGE)).into_response()
}

/// `GET /assets/graphiql/{file}`: one embedded file, or 404 for a name we do not embed.
pub async fn asset(Path(file): Path<String>) -> Response {
    let Some(&(_, content_type, body)) = ASSETS.iter().find(|(name, ..)| *name == file) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (CACHE_CONTROL, HeaderValue::from_static(LONG_CACHE)),
            // So a licence text can never be taken for a script or a style sheet.
            (X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        ],
        body,
    )
        .into_response()
}
