//! Subscriptions over a real WebSocket at `/graphql/ws`, in the `graphql-transport-ws`
//! protocol and the legacy `graphql-ws` one, fed by writes made over HTTP.

use std::collections::HashMap;
use std::fmt::Display;
use std::time::Duration;

use bookgraph::http::{WriteAccess, WriteToken};
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::helpers::{TestApp, add_book};

pub(crate) const TRANSPORT_WS: &str = "graphql-transport-ws";
pub(crate) const LEGACY_WS: &str = "graphql-ws";
/// How long to listen for a message that must not come.
pub(crate) const SILENCE: Duration = Duration::from_millis(300);
/// How long a message that must come may take.
pub(crate) const ARRIVAL: Duration = Duration::from_secs(10);

const BOOK_ADDED: &str = "subscription { bookAdded { title author { name } publishers { name } } }";

/// What the server sent: a JSON message, or a close frame's code and reason.
#[derive(Debug, PartialEq)]
pub(crate) enum Received {
    Json(Value),
    Closed(Option<(u16, String)>),
}

/// A GraphQL WebSocket client.
pub(crate) struct Socket(WebSocketStream<MaybeTlsStream<TcpStream>>);

impl Socket {
    /// Connects to `/graphql/ws` offering `protocol`.
    pub(crate) async fn connect(address: impl Display, protocol: &str) -> Socket {
        Self::try_connect(address, protocol, None)
            .await
            .unwrap_or_else(|error| panic!("WebSocket handshake failed: {error}"))
    }

    pub(crate) async fn try_connect(
        address: impl Display,
        protocol: &str,
        origin: Option<&str>,
    ) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
        let mut request = format!("ws://{address}/graphql/ws")
            .into_client_request()
            .expect("WebSocket request");
        let headers = request.headers_mut();
        headers.insert(
            "sec-websocket-protocol",
            HeaderValue::from_str(protocol).expect("protocol header"),
        );
        if let Some(origin) = origin {
            headers.insert("origin", HeaderValue::from_str(origin).expect("origin"));
        }
        let (stream, response) = tokio_tungstenite::connect_async(request).await?;
        assert_eq!(
            response.headers()["sec-websocket-protocol"],
            protocol,
            "the server chose another subprotocol"
        );
        Ok(Socket(stream))
    }

    /// Connects and completes the handshake with `payload` in `connection_init`.
    pub(crate) async fn open(address: impl Display, protocol: &str, payload: Value) -> Socket {
        let mut socket = Self::connect(address, protocol).await;
        socket.init(payload).await;
        assert_eq!(
            socket.next_message().await,
            json!({ "type": "connection_ack" })
        );
        socket
    }

    pub(crate) async fn init(&mut self, payload: Value) {
        self.send(json!({ "type": "connection_init", "payload": payload }))
            .await;
    }

    pub(crate) async fn send(&mut self, message: Value) {
        assert!(self.try_send(message).await, "send over the WebSocket");
    }

    /// Sends `message`; whether the socket took it (a server may close mid-message).
    pub(crate) async fn try_send(&mut self, message: Value) -> bool {
        self.0
            .send(Message::text(message.to_string()))
            .await
            .is_ok()
    }

    /// Starts operation `id` running `query`, in the message `protocol` uses for it.
    pub(crate) async fn subscribe(&mut self, protocol: &str, id: &str, query: &str) {
        let kind = if protocol == LEGACY_WS {
            "start"
        } else {
            "subscribe"
        };
        self.send(json!({ "id": id, "type": kind, "payload": { "query": query } }))
            .await;
    }

    /// The next message or close frame, skipping pings and keep-alives; `None` after
    /// `wait` without either.
    pub(crate) async fn receive(&mut self, wait: Duration) -> Option<Received> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.0.next())
                .await
                .ok()?;
            match frame {
                None | Some(Err(_)) => return Some(Received::Closed(None)),
                Some(Ok(Message::Text(text))) => {
                    let message: Value = serde_json::from_str(&text).expect("JSON message");
                    if message["type"] != "ka" {
                        return Some(Received::Json(message));
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    return Some(Received::Closed(
                        frame.map(|frame| (u16::from(frame.code), frame.reason.to_string())),
                    ));
                }
                Some(Ok(_)) => {}
            }
        }
    }

    /// The next JSON message, which must come.
    pub(crate) async fn next_message(&mut self) -> Value {
        match self.receive(ARRIVAL).await {
            Some(Received::Json(message)) => message,
            other => panic!("expected a message, got {other:?}"),
        }
    }
}

/// Waits until someone listens to the app's events: a subscription is live once it does.
pub(crate) async fn wait_for_subscriber(app: &TestApp) {
    let deadline = tokio::time::Instant::now() + ARRIVAL;
    while !app.db.events().has_subscribers() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the subscription never started listening"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn spawn_with_token(token: &str) -> TestApp {
    let token = WriteToken::new(token).expect("valid token");
    TestApp::spawn_configured(|state| state.with_write_access(WriteAccess::Token(token))).await
}

/// The `bookAdded` event a book added by [`add_ada`] gives.
fn ada_event(id: &str, kind: &str) -> Value {
    json!({ "id": id, "type": kind, "payload": { "data": { "bookAdded": {
        "title": "Notes on the Engine",
        "author": { "name": "Ada Lovelace" },
        "publishers": [{ "name": "Taylor" }],
    } } } })
}

async fn add_ada(app: &TestApp) -> Value {
    add_book(app, "Ada", "Lovelace", "Notes on the Engine", "Taylor").await
}

#[tokio::test]
async fn a_book_added_over_http_arrives_over_graphql_transport_ws() {
    let app = TestApp::spawn().await;
    let mut socket = Socket::open(app.address, TRANSPORT_WS, json!({})).await;
    socket.subscribe(TRANSPORT_WS, "1", BOOK_ADDED).await;
    wait_for_subscriber(&app).await;

    assert_eq!(add_ada(&app).await["outcome"], "CREATED");

    assert_eq!(socket.next_message().await, ada_event("1", "next"));
}

#[tokio::test]
async fn the_legacy_graphql_ws_protocol_works_too() {
    let app = TestApp::spawn().await;
    let mut socket = Socket::open(app.address, LEGACY_WS, json!({})).await;
    socket.subscribe(LEGACY_WS, "7", BOOK_ADDED).await;
    wait_for_subscriber(&app).await;

    add_ada(&app).await;

    assert_eq!(socket.next_message().await, ada_event("7", "data"));
}

#[tokio::test]
async fn a_new_publisher_link_is_a_book_change() {
    let app = TestApp::spawn().await;
    let mut socket = Socket::open(app.address, TRANSPORT_WS, json!({})).await;
    socket
        .subscribe(
            TRANSPORT_WS,
            "1",
            "subscription { bookChanged { title publishers { name } } }",
        )
        .await;
    wait_for_subscriber(&app).await;

    let added = add_book(&app, "Stephen", "King", "Dead Zone", "Berkley").await;
    assert_eq!(added["outcome"], "PUBLISHER_ADDED");

    assert_eq!(
        socket.next_message().await,
        json!({ "id": "1", "type": "next", "payload": { "data": { "bookChanged": {
            "title": "Dead Zone",
            "publishers": [{ "name": "Berkley" }, { "name": "Random House" }],
        } } } })
    );
}

/// The field each probe subscription follows, and the name field it selects.
const PROBED: [(&str, &str); 4] = [
    ("bookAdded", "title"),
    ("bookChanged", "title"),
    ("authorAdded", "lastName"),
    ("publisherAdded", "name"),
];

/// Changes that announce one event to each of [`PROBED`], each ending in ` {n}`: a book by
/// a new author at a new publisher, then the same book at an existing publisher.
async fn probe(app: &TestApp, n: u32) {
    let (last, title, publisher) = (
        format!("Writer {n}"),
        format!("Probe {n}"),
        format!("Probe Press {n}"),
    );
    assert_eq!(
        add_book(app, "Probe", &last, &title, &publisher).await["outcome"],
        "CREATED"
    );
    assert_eq!(
        add_book(app, "Probe", &last, &title, "Berkley").await["outcome"],
        "PUBLISHER_ADDED"
    );
}

/// The probe number a probe event carries, by subscription id.
fn probe_number(message: &Value) -> (String, u32) {
    let id = message["id"].as_str().expect("id").to_owned();
    let (field, name) = PROBED[id.parse::<usize>().expect("numeric id")];
    let value = message["payload"]["data"][field][name]
        .as_str()
        .unwrap_or_else(|| panic!("unexpected message {message}"));
    let n = value.rsplit(' ').next().and_then(|n| n.parse().ok());
    (id, n.unwrap_or_else(|| panic!("not a probe: {message}")))
}

/// Subscribes to every field of [`PROBED`] and returns once each is live with nothing left
/// in flight. Probes repeat until each subscription has reported one (a subscription starts
/// listening a moment after `subscribe`); then every subscription's event of the last probe
/// is awaited, and since each subscription's events come in order, none can follow.
async fn subscribe_to_probes(app: &TestApp, socket: &mut Socket) {
    for (id, (field, name)) in PROBED.iter().enumerate() {
        let query = format!("subscription {{ {field} {{ {name} }} }}");
        socket
            .subscribe(TRANSPORT_WS, &id.to_string(), &query)
            .await;
    }
    let mut newest: HashMap<String, u32> = HashMap::new();
    let mut last = 0;
    while newest.len() < PROBED.len() {
        last += 1;
        assert!(last <= 50, "subscriptions never all went live: {newest:?}");
        probe(app, last).await;
        while let Some(Received::Json(message)) = socket.receive(Duration::from_millis(50)).await {
            let (id, n) = probe_number(&message);
            newest.insert(id, n);
        }
    }
    while newest.values().any(|&n| n < last) {
        let (id, n) = probe_number(&socket.next_message().await);
        newest.insert(id, n);
    }
}

#[tokio::test]
async fn nothing_is_announced_when_add_book_changes_nothing() {
    let app = TestApp::spawn().await;
    let mut socket = Socket::open(app.address, TRANSPORT_WS, json!({})).await;
    subscribe_to_probes(&app, &mut socket).await;

    let again = add_book(&app, "Stephen", "King", "It", "Random House").await;
    assert_eq!(again["outcome"], "ALREADY_EXISTED");

    assert_eq!(socket.receive(SILENCE).await, None);
}

#[tokio::test]
async fn a_token_guarded_server_refuses_connections_without_its_token() {
    let app = spawn_with_token("ws-token").await;
    let refusals = [
        (json!({}), "connection_init"),
        (json!({ "authorization": "Bearer wrong" }), "not valid"),
        (json!({ "token": "ws-token-but-longer" }), "not valid"),
    ];
    for (payload, reason) in refusals {
        let mut socket = Socket::connect(app.address, TRANSPORT_WS).await;
        socket.init(payload.clone()).await;
        match socket.receive(ARRIVAL).await {
            Some(Received::Closed(Some((1002, message)))) => {
                assert!(message.contains(reason), "{payload}: {message}");
            }
            other => panic!("{payload}: expected a close frame, got {other:?}"),
        }
    }

    let mut legacy = Socket::connect(app.address, LEGACY_WS).await;
    legacy.init(json!({})).await;
    let refused = legacy.next_message().await;
    assert_eq!(refused["type"], "connection_error", "{refused}");

    // The refused connections subscribed to nothing.
    assert!(!app.db.events().has_subscribers());
}

#[tokio::test]
async fn a_token_guarded_server_serves_connections_that_bring_it() {
    let app = spawn_with_token("ws-token").await;
    for payload in [
        json!({ "authorization": "Bearer ws-token" }),
        json!({ "Authorization": "bearer  ws-token" }),
        json!({ "token": "ws-token" }),
    ] {
        Socket::open(app.address, TRANSPORT_WS, payload).await;
    }

    let mut socket = Socket::open(
        app.address,
        TRANSPORT_WS,
        json!({ "Authorization": "Bearer ws-token" }),
    )
    .await;
    socket.subscribe(TRANSPORT_WS, "1", BOOK_ADDED).await;
    wait_for_subscriber(&app).await;
    let response = app
        .client()
        .post(app.url("/graphql"))
        .header("authorization", "Bearer ws-token")
        .json(&json!({ "query": "mutation { addBook(input: {
            authorFirstName: \"Ada\", authorLastName: \"Lovelace\",
            title: \"Notes on the Engine\", publisherName: \"Taylor\"
        }) { outcome } }" }))
        .send()
        .await
        .expect("request reaches the server");
    assert_eq!(response.status(), 200);
    assert_eq!(socket.next_message().await, ada_event("1", "next"));
}

#[tokio::test]
async fn a_read_only_server_streams_events_and_refuses_mutations_over_the_socket() {
    let app =
        TestApp::spawn_configured(|state| state.with_write_access(WriteAccess::ReadOnly)).await;
    let mut socket = Socket::open(app.address, TRANSPORT_WS, json!({})).await;
    socket
        .subscribe(
            TRANSPORT_WS,
            "m",
            "mutation { addBook(input: {authorFirstName: \"A\", authorLastName: \"B\",
                title: \"C\", publisherName: \"D\"}) { outcome } }",
        )
        .await;
    // Refused before it ran: graphql-transport-ws's `error` message, after which nothing.
    let refused = socket.next_message().await;
    assert_eq!(refused["id"], "m", "{refused}");
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(error_code(&refused), "FORBIDDEN", "{refused}");

    socket
        .subscribe(TRANSPORT_WS, "q", "{ authors(first: 1) { totalCount } }")
        .await;
    assert_eq!(
        socket.next_message().await,
        json!({ "id": "q", "type": "next", "payload": { "data": {
            "authors": { "totalCount": 7 }
        } } })
    );
}

#[tokio::test]
async fn pages_from_other_origins_cannot_connect() {
    let app = TestApp::spawn().await;
    let own = format!("http://{}", app.address);
    assert!(
        Socket::try_connect(app.address, TRANSPORT_WS, Some(&own))
            .await
            .is_ok(),
        "the server's own origin was refused"
    );
    match Socket::try_connect(app.address, TRANSPORT_WS, Some("https://evil.example")).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 403);
        }
        Err(other) => panic!("expected 403, got {other}"),
        Ok(_) => panic!("a page from another origin connected"),
    }
}

/// One kind of edit: how to find its row, an edit that keeps every spelling, and one that
/// changes it.
struct Edit {
    subscription: &'static str,
    find: &'static str,
    unchanged: &'static str,
    changed: &'static str,
}

#[tokio::test]
async fn updates_that_change_nothing_announce_nothing() {
    let edits = [
        Edit {
            subscription: "subscription { authorChanged { lastName } }",
            find: r#"{ list: authors(filter: {nameContains: "stephen king"}) { nodes { id } } }"#,
            unchanged: r#"mutation($id: ID!) { updateAuthor(input: {id: $id, firstName: "Stephen", lastName: "King"}) { author { id } } }"#,
            changed: r#"mutation($id: ID!) { updateAuthor(input: {id: $id, lastName: "Bachman"}) { author { id } } }"#,
        },
        Edit {
            subscription: "subscription { publisherChanged { name } }",
            find: r#"{ list: publishers(filter: {nameContains: "simon"}) { nodes { id } } }"#,
            unchanged: r#"mutation($id: ID!) { updatePublisher(input: {id: $id, name: "Simon & Schuster"}) { publisher { id } } }"#,
            changed: r#"mutation($id: ID!) { updatePublisher(input: {id: $id, name: "Simon & Schuster Books"}) { publisher { id } } }"#,
        },
        Edit {
            subscription: "subscription { bookChanged { title } }",
            find: r#"{ list: books(filter: {titleContains: "foundation"}) { nodes { id } } }"#,
            unchanged: r#"mutation($id: ID!) { updateBook(input: {id: $id, title: "Foundation"}) { book { id } } }"#,
            changed: r#"mutation($id: ID!) { updateBook(input: {id: $id, title: "Foundation and Empire"}) { book { id } } }"#,
        },
    ];
    for edit in edits {
        // An app each, so that the one subscription is the only listener to wait for.
        let app = TestApp::spawn().await;
        let id = app.data(edit.find).await["list"]["nodes"][0]["id"].clone();
        let mut socket = Socket::open(app.address, TRANSPORT_WS, json!({})).await;
        socket.subscribe(TRANSPORT_WS, "1", edit.subscription).await;
        wait_for_subscriber(&app).await;

        app.data_with(edit.unchanged, json!({ "id": id })).await;
        app.data_with(edit.changed, json!({ "id": id })).await;

        let first = socket.next_message().await;
        let data = &first["payload"]["data"];
        assert!(
            ["Bachman", "Simon & Schuster Books", "Foundation and Empire"]
                .iter()
                .any(|changed| data.to_string().contains(changed)),
            "{}: the first event is not the change: {first}",
            edit.subscription
        );
        assert_eq!(socket.receive(SILENCE).await, None, "{}", edit.subscription);
    }
}

#[tokio::test]
async fn a_socket_addressed_to_another_host_name_may_subscribe_but_not_write() {
    let app = TestApp::spawn().await;
    let host = format!("evil.example:{}", app.address.port());
    let mut request = format!("ws://{}/graphql/ws", app.address)
        .into_client_request()
        .expect("WebSocket request");
    let headers = request.headers_mut();
    headers.insert("host", HeaderValue::from_str(&host).unwrap());
    headers.insert(
        "origin",
        HeaderValue::from_str(&format!("http://{host}")).unwrap(),
    );
    headers.insert(
        "sec-websocket-protocol",
        HeaderValue::from_static(TRANSPORT_WS),
    );
    let (stream, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("the handshake succeeds: reading is open to all");
    let mut socket = Socket(stream);
    socket.init(json!({})).await;
    assert_eq!(
        socket.next_message().await,
        json!({ "type": "connection_ack" })
    );

    let reply = add_book_over(&mut socket, "write", "Rebound").await;
    assert_eq!(error_code(&reply), "FORBIDDEN", "{reply}");
    let data = app
        .data(r#"{ books(filter: {titleContains: "rebound"}) { totalCount } }"#)
        .await;
    assert_eq!(data["books"]["totalCount"], 0);
}

#[tokio::test]
async fn a_mutation_over_a_socket_keeps_the_time_limit_and_writes_nothing() {
    let app =
        TestApp::spawn_configured(|state| state.with_request_timeout(Duration::from_secs(1))).await;
    let mut socket = Socket::open(app.address, TRANSPORT_WS, json!({})).await;
    // Another process holds the write lock, so the mutation waits for it past the limit.
    let lock = app.hold_write_lock().await;
    let reply = add_book_over(&mut socket, "late", "Late").await;
    assert_eq!(error_code(&reply), "TIMEOUT", "{reply}");
    lock.release().await;

    let data = app
        .data(r#"{ books(filter: {titleContains: "late"}) { totalCount } }"#)
        .await;
    assert_eq!(
        data["books"]["totalCount"], 0,
        "the timed-out write left nothing"
    );
    let reply = add_book_over(&mut socket, "on-time", "On Time").await;
    assert_eq!(
        reply["payload"]["data"]["addBook"]["outcome"], "CREATED",
        "{reply}"
    );
}

/// Sends `addBook` for `title` over `socket` as operation `id`; returns that operation's
/// first result, or its refusal.
async fn add_book_over(socket: &mut Socket, id: &str, title: &str) -> Value {
    let mutation = format!(
        r#"mutation {{ addBook(input: {{title: "{title}", authorFirstName: "Ann", authorLastName: "Late", publisherName: "Slow"}}) {{ outcome }} }}"#
    );
    socket.subscribe(TRANSPORT_WS, id, &mutation).await;
    loop {
        let reply = socket.next_message().await;
        if reply["id"] == id && (reply["type"] == "next" || reply["type"] == "error") {
            return reply;
        }
    }
}

/// The code of the first error of a result (`next`) or a refusal (`error`).
fn error_code(reply: &Value) -> &Value {
    let errors = match reply["type"].as_str() {
        Some("error") => &reply["payload"],
        _ => &reply["payload"]["errors"],
    };
    &errors[0]["extensions"]["code"]
}

#[tokio::test]
async fn sockets_beyond_the_limit_are_refused_until_one_closes() {
    let app = TestApp::spawn_configured(|state| state.with_max_websockets(1)).await;
    let first = Socket::open(app.address, TRANSPORT_WS, json!({})).await;
    match Socket::try_connect(app.address, TRANSPORT_WS, None).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 503);
        }
        other => panic!("a second socket got {:?}", other.map(|_| "a connection")),
    }
    drop(first);
    let deadline = tokio::time::Instant::now() + ARRIVAL;
    while Socket::try_connect(app.address, TRANSPORT_WS, None)
        .await
        .is_err()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the closed socket's place never came free"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
