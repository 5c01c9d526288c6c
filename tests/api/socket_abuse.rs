//! What a WebSocket client cannot do to the server, or to the other clients: hold it open
//! without initialising, send it huge messages, run without end on one connection, fall
//! behind unnoticed, or bend the `graphql-transport-ws` protocol.

use std::time::{Duration, Instant};

use bookgraph::db::events::Event;
use bookgraph::http::SocketLimits;
use serde_json::{Value, json};

use crate::helpers::{TestApp, add_book};
use crate::subscriptions::{
    ARRIVAL, LEGACY_WS, Received, SILENCE, Socket, TRANSPORT_WS, wait_for_subscriber,
};

/// Issue 13's Q1: about 1,300 rows of a generated catalogue of 1,000 authors.
const Q1: &str = "{ authors(first: 100) { nodes { name books { title publishers { name } } } } }";

async fn generated_catalogue(authors: u64) -> TestApp {
    let mut csv = Vec::new();
    bookgraph::generate::generate_csv(authors, 1, &mut csv).expect("generate a catalogue");
    TestApp::spawn_with_csv(std::str::from_utf8(&csv).expect("UTF-8 CSV")).await
}

/// The close frame that must come next, skipping any messages before it.
async fn close_code(socket: &mut Socket) -> Option<(u16, String)> {
    loop {
        match socket.receive(ARRIVAL).await {
            Some(Received::Json(_)) => {}
            Some(Received::Closed(frame)) => return frame,
            None => panic!("the server kept the socket open"),
        }
    }
}

fn codes(payload: &Value) -> Vec<&str> {
    payload
        .as_array()
        .unwrap_or_else(|| panic!("errors expected in {payload}"))
        .iter()
        .map(|error| error["extensions"]["code"].as_str().unwrap_or(""))
        .collect()
}

#[tokio::test]
async fn every_query_on_a_connection_has_a_row_budget_of_its_own() {
    let app = generated_catalogue(1000).await;
    let mut socket = Socket::open(app.address, TRANSPORT_WS, json!({})).await;
    // 100 of them read far more than 100,000 rows in all, each well under.
    for n in 0..100 {
        let id = n.to_string();
        socket.subscribe(TRANSPORT_WS, &id, Q1).await;
        let reply = socket.next_message().await;
        assert_eq!(reply["type"], "next", "query {n}: {reply}");
        assert!(
            reply["payload"].get("errors").is_none(),
            "query {n}: {}",
            reply["payload"]["errors"][0]
        );
        assert_eq!(socket.next_message().await["type"], "complete");
    }
}

#[tokio::test]
async fn every_event_of_a_subscription_has_a_row_budget_of_its_own() {
    let app = generated_catalogue(1000).await;
    let biggest = app
        .data("{ publishers(first: 1, orderBy: {field: BOOK_COUNT, direction: DESC}) { nodes { name bookCount } } }")
        .await["publishers"]["nodes"][0]
        .clone();
    let publisher = biggest["name"].as_str().expect("publisher name").to_owned();
    assert!(biggest["bookCount"].as_u64() > Some(500), "{biggest}");
    let mut socket = Socket::open(app.address, TRANSPORT_WS, json!({})).await;
    // Each event reads the publisher's books and their publishers: thousands of rows.
    socket
        .subscribe(
            TRANSPORT_WS,
            "big",
            "subscription { bookAdded { title publishers { books { publishers { name } } } } }",
        )
        .await;
    wait_for_subscriber(&app).await;

    for n in 0..60 {
        let title = format!("Budget {n}");
        add_book(&app, "Event", "Reader", &title, &publisher).await;
        let event = socket.next_message().await;
        assert!(
            event["payload"].get("errors").is_none(),
            "event {n}: {}",
            event["payload"]["errors"][0]
        );
        assert_eq!(event["payload"]["data"]["bookAdded"]["title"], title);
    }
}

#[tokio::test]
async fn a_socket_sending_more_than_16_kib_before_connection_init_is_acknowledged_is_closed() {
    let app = TestApp::spawn().await;
    let mut socket = Socket::connect(app.address, TRANSPORT_WS).await;
    let padding = "x".repeat(64 * 1024);
    let sent = socket
        .try_send(json!({ "type": "connection_init", "payload": { "padding": padding } }))
        .await;

    let received = socket.receive(ARRIVAL).await;
    assert!(
        matches!(received, Some(Received::Closed(None | Some((1009, _))))),
        "sent: {sent}, received {received:?}"
    );
    // A small connection_init is still welcome.
    Socket::open(
        app.address,
        TRANSPORT_WS,
        json!({ "token": "x".repeat(1000) }),
    )
    .await;
}

#[tokio::test]
async fn a_message_larger_than_the_request_body_limit_closes_the_socket() {
    let app = TestApp::spawn().await;
    let mut socket = Socket::open(app.address, TRANSPORT_WS, json!({})).await;
    // Under the limit: served.
    let comment = format!("# {}\n", "x".repeat(900 * 1024));
    let query = format!("{comment}{{ authors(first: 1) {{ totalCount }} }}");
    socket.subscribe(TRANSPORT_WS, "fits", &query).await;
    assert_eq!(socket.next_message().await["type"], "next");
    assert_eq!(socket.next_message().await["type"], "complete");

    let comment = format!("# {}\n", "x".repeat(2 * 1024 * 1024));
    let query = format!("{comment}{{ authors(first: 1) {{ totalCount }} }}");
    let sent = socket
        .try_send(json!({ "id": "huge", "type": "subscribe", "payload": { "query": query } }))
        .await;

    let received = socket.receive(ARRIVAL).await;
    assert!(
        matches!(received, Some(Received::Closed(None | Some((1009, _))))),
        "sent: {sent}, received {received:?}"
    );
}

#[tokio::test]
async fn a_socket_that_never_initialises_is_closed_with_4408_and_gives_its_place_back() {
    let app = TestApp::spawn_configured(|state| {
        state
            .with_max_websockets(1)
            .with_socket_limits(SocketLimits {
                init_timeout: Duration::from_millis(500),
                ..SocketLimits::default()
            })
    })
    .await;
    let started = Instant::now();
    let mut idle = Socket::connect(app.address, TRANSPORT_WS).await;

    let frame = close_code(&mut idle).await;
    assert_eq!(frame.map(|(code, _)| code), Some(4408));
    assert!(started.elapsed() >= Duration::from_millis(450));
    drop(idle);

    let deadline = Instant::now() + ARRIVAL;
    while Socket::try_connect(app.address, TRANSPORT_WS, None)
        .await
        .is_err()
    {
        assert!(
            Instant::now() < deadline,
            "the idle socket's place never came free"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_connection_runs_at_most_its_limit_of_operations_at_once() {
    let app = TestApp::spawn().await;
    let max = SocketLimits::default().max_operations;
    let mut socket = Socket::open(app.address, TRANSPORT_WS, json!({})).await;
    for n in 0..max {
        socket
            .subscribe(
                TRANSPORT_WS,
                &n.to_string(),
                "subscription { authorDeleted }",
            )
            .await;
    }
    socket
        .subscribe(
            TRANSPORT_WS,
            "one-too-many",
            "subscription { bookAdded { title } }",
        )
        .await;
    let refused = socket.next_message().await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["id"], "one-too-many");
    assert_eq!(codes(&refused["payload"]), ["QUERY_TOO_COMPLEX"]);

    // Completing one makes room for another.
    socket.send(json!({ "id": "0", "type": "complete" })).await;
    assert_eq!(
        socket.next_message().await,
        json!({ "id": "0", "type": "complete" })
    );
    socket
        .subscribe(TRANSPORT_WS, "room", "subscription { bookAdded { title } }")
        .await;
    while app.db.events().subscriber_count() < max {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    add_book(&app, "Room", "Made", "Room Made", "Taylor").await;
    let event = socket.next_message().await;
    assert_eq!(event["id"], "room", "{event}");
    assert_eq!(event["payload"]["data"]["bookAdded"]["title"], "Room Made");
}

/// How long `events` events take to reach each of `count` subscriptions on one socket: the
/// fastest of three rounds, since a machine busy with other tests can only slow a round.
async fn fan_out_time(count: usize, events: i64) -> Duration {
    let app = TestApp::spawn_configured(|state| {
        state.with_socket_limits(SocketLimits {
            max_operations: count,
            ..SocketLimits::default()
        })
    })
    .await;
    let mut socket = Socket::open(app.address, TRANSPORT_WS, json!({})).await;
    for n in 0..count {
        socket
            .subscribe(TRANSPORT_WS, &n.to_string(), "subscription { bookDeleted }")
            .await;
    }
    let deadline = Instant::now() + ARRIVAL;
    while app.db.events().subscriber_count() < count {
        assert!(
            Instant::now() < deadline,
            "the subscriptions never all went live"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut fastest = Duration::MAX;
    for _ in 0..3 {
        let started = Instant::now();
        app.db
            .events()
            .publish((0..events).map(Event::BookDeleted).collect());
        for _ in 0..count * usize::try_from(events).unwrap() {
            let message = socket.next_message().await;
            assert_eq!(message["type"], "next", "{message}");
        }
        fastest = fastest.min(started.elapsed());
    }
    fastest
}

#[tokio::test]
async fn delivering_an_event_costs_time_in_proportion_to_the_subscriptions() {
    let few = fan_out_time(500, 4).await;
    let many = fan_out_time(4000, 4).await;
    // Eight times the subscriptions: about eight times the time when delivery is linear,
    // sixty-four when each delivery polls every subscription.
    let ratio = many.as_secs_f64() / few.as_secs_f64().max(0.001);
    assert!(
        ratio < 24.0,
        "500 subscriptions: {few:?}; 4,000: {many:?} ({ratio:.1} times)"
    );
}

#[tokio::test]
async fn a_subscriber_that_falls_behind_is_told_and_its_subscription_ends() {
    let app = TestApp::spawn().await;
    let mut socket = Socket::open(app.address, TRANSPORT_WS, json!({})).await;
    socket
        .subscribe(TRANSPORT_WS, "slow", "subscription { bookDeleted }")
        .await;
    wait_for_subscriber(&app).await;

    // More changes at once than are kept for anyone behind.
    app.db
        .events()
        .publish((0..5000).map(Event::BookDeleted).collect());

    let mut delivered = 0;
    loop {
        let message = socket.next_message().await;
        assert_eq!(message["id"], "slow", "{message}");
        if let Some(errors) = message["payload"].get("errors") {
            assert_eq!(codes(errors), ["FELL_BEHIND"], "{message}");
            break;
        }
        delivered += 1;
        assert!(delivered < 5000, "every event arrived: nobody fell behind");
    }
    assert_eq!(
        socket.next_message().await,
        json!({ "id": "slow", "type": "complete" })
    );
    assert!(!app.db.events().has_subscribers());
}

#[tokio::test]
async fn subscribing_before_connection_init_closes_the_socket_with_4401() {
    let app = TestApp::spawn().await;
    let mut socket = Socket::connect(app.address, TRANSPORT_WS).await;
    socket
        .subscribe(
            TRANSPORT_WS,
            "early",
            "subscription { bookAdded { title } }",
        )
        .await;
    assert_eq!(
        close_code(&mut socket).await.map(|(code, _)| code),
        Some(4401)
    );
}

#[tokio::test]
async fn a_second_operation_under_a_running_id_closes_the_socket_with_4409() {
    let app = TestApp::spawn().await;
    let mut socket = Socket::open(app.address, TRANSPORT_WS, json!({})).await;
    socket
        .subscribe(TRANSPORT_WS, "same", "subscription { bookAdded { title } }")
        .await;
    socket
        .subscribe(TRANSPORT_WS, "same", "subscription { bookDeleted }")
        .await;
    assert_eq!(
        close_code(&mut socket).await.map(|(code, _)| code),
        Some(4409)
    );
}

#[tokio::test]
async fn an_operation_failing_validation_gets_an_error_message_and_no_complete() {
    let app = TestApp::spawn().await;
    let mut socket = Socket::open(app.address, TRANSPORT_WS, json!({})).await;
    socket
        .subscribe(
            TRANSPORT_WS,
            "bad",
            "subscription { bookAdded { noSuchField } }",
        )
        .await;
    let refused = socket.next_message().await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["id"], "bad");
    let message = refused["payload"][0]["message"].as_str().unwrap_or("");
    assert!(message.contains("noSuchField"), "{refused}");
    assert_eq!(
        socket.receive(SILENCE).await,
        None,
        "nothing follows an error"
    );

    // The legacy protocol has its clients expect the errors as a result, then `complete`.
    let mut legacy = Socket::open(app.address, LEGACY_WS, json!({})).await;
    legacy
        .subscribe(
            LEGACY_WS,
            "bad",
            "subscription { bookAdded { noSuchField } }",
        )
        .await;
    let refused = legacy.next_message().await;
    assert_eq!(refused["type"], "data", "{refused}");
    assert!(refused["payload"]["errors"][0]["message"].is_string());
    assert_eq!(
        legacy.next_message().await,
        json!({ "id": "bad", "type": "complete" })
    );
}

#[tokio::test]
async fn other_protocol_violations_close_the_socket_with_their_graphql_transport_ws_codes() {
    let app = TestApp::spawn().await;
    let cases = [
        (
            json!({ "type": "connection_init" }),
            4429,
            "a second connection_init",
        ),
        (
            json!({ "type": "launch", "id": "1" }),
            4400,
            "an unknown message type",
        ),
        (
            json!({ "id": "1", "type": "subscribe" }),
            4400,
            "subscribe without a payload",
        ),
    ];
    for (message, code, case) in cases {
        let mut socket = Socket::open(app.address, TRANSPORT_WS, json!({})).await;
        socket.send(message).await;
        assert_eq!(
            close_code(&mut socket).await.map(|(code, _)| code),
            Some(code),
            "{case}"
        );
    }
}
