//! Connections that hold a socket without sending a request: slow headers, idle
//! keep-alives, more connections than the cap and than the process has file descriptors.
//! Each is closed or kept waiting, and the server goes on answering everyone else.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bookgraph::graphql::build_schema;
use bookgraph::http::{AppState, ConnectionLimits, router, serve_with};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::bodies::read_response;
use crate::helpers::{TestApp, TestDatabase};
use crate::server::Server;
use crate::subscriptions::TRANSPORT_WS;

/// A second server, within `limits`, over the same database as `app`.
async fn serve_limited(app: &TestApp, limits: ConnectionLimits) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("local address");
    let state = AppState::new(build_schema(Default::default()), app.db.clone());
    tokio::spawn(serve_with(
        listener,
        router(state),
        limits,
        std::future::pending(),
    ));
    address
}

fn header_timeout(timeout: Duration) -> ConnectionLimits {
    ConnectionLimits {
        header_timeout: timeout,
        ..ConnectionLimits::default()
    }
}

/// How long until the server closes `stream`, reading whatever it sends and, when `drip`
/// is given, writing it every 100 ms; `None` if it is still open after `limit`.
async fn closed_after(
    stream: &mut TcpStream,
    drip: Option<&[u8]>,
    limit: Duration,
) -> Option<Duration> {
    let started = Instant::now();
    let mut buffer = [0; 4096];
    while started.elapsed() < limit {
        tokio::select! {
            read = stream.read(&mut buffer) => match read {
                Ok(0) | Err(_) => return Some(started.elapsed()),
                Ok(_) => {}
            },
            () = tokio::time::sleep(Duration::from_millis(100)) => {
                if let Some(drip) = drip
                    && stream.write_all(drip).await.is_err()
                {
                    return Some(started.elapsed());
                }
            }
        }
    }
    None
}

#[tokio::test]
async fn a_client_sending_its_headers_slowly_is_cut_off() {
    let app = TestApp::spawn().await;
    let address = serve_limited(&app, header_timeout(Duration::from_secs(1))).await;
    let mut slow = TcpStream::connect(address).await.unwrap();
    slow.write_all(b"GET /health HTTP/1.1\r\nhost: localhost\r\n")
        .await
        .unwrap();
    let closed = closed_after(&mut slow, Some(b"x-drip: 1\r\n"), Duration::from_secs(5)).await;
    assert!(
        closed.is_some_and(|after| after < Duration::from_secs(3)),
        "a connection still sending headers after 1 s is closed: {closed:?}"
    );
    let health = app
        .client()
        .get(format!("http://{address}/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200, "the server goes on serving");
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let app = TestApp::spawn().await;
    let address = serve_limited(&app, header_timeout(Duration::from_secs(1))).await;
    let mut idle = TcpStream::connect(address).await.unwrap();
    idle.write_all(b"GET /health HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut response = [0; 12];
    idle.read_exact(&mut response).await.unwrap();
    assert_eq!(&response, b"HTTP/1.1 200", "the request was answered");
    let closed = closed_after(&mut idle, None, Duration::from_secs(5)).await;
    assert!(
        closed.is_some_and(|after| after < Duration::from_secs(3)),
        "a keep-alive connection idle for 1 s is closed: {closed:?}"
    );
}

#[tokio::test]
async fn a_connection_past_the_cap_waits_until_another_closes() {
    let app = TestApp::spawn().await;
    let limits = ConnectionLimits {
        max_connections: 2,
        header_timeout: Duration::from_secs(30),
    };
    let address = serve_limited(&app, limits).await;
    let health = format!("http://{address}/health");
    let first = TcpStream::connect(address).await.unwrap();
    let _second = TcpStream::connect(address).await.unwrap();

    assert_waits_while(&app, &health, first, "a third connection").await;
}

#[tokio::test]
async fn an_open_websocket_keeps_its_place_under_the_cap() {
    let app = TestApp::spawn().await;
    let limits = ConnectionLimits {
        max_connections: 1,
        header_timeout: Duration::from_secs(30),
    };
    let address = serve_limited(&app, limits).await;
    let health = format!("http://{address}/health");
    let mut request = format!("ws://{address}/graphql/ws")
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_static(TRANSPORT_WS),
    );
    let (socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("upgraded");

    assert_waits_while(
        &app,
        &health,
        socket,
        "the WebSocket holding the only place",
    )
    .await;
}

/// A request to `health` is not served while `holder` keeps the last place open, and is
/// once `holder` is dropped.
async fn assert_waits_while(app: &TestApp, health: &str, holder: impl Sized, what: &str) {
    let waiting = app
        .client()
        .get(health)
        .timeout(Duration::from_millis(500))
        .send()
        .await;
    assert!(waiting.is_err(), "served beside {what}: {waiting:?}");

    drop(holder);
    let served = app
        .client()
        .get(health)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .unwrap_or_else(|error| panic!("not served once {what} closed: {error}"));
    assert_eq!(served.status(), 200);
}

#[tokio::test]
async fn out_of_file_descriptors_the_server_serves_the_connections_it_has_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::new(dir.path()).await;
    // A cap above what 64 descriptors allow, so the server does run out of them. The header
    // timeout outlasts the hogs' connecting, the pause and the kept connection's answer
    // (3.3 s at most), so that answer comes before any idle connection is shed; the last
    // request's 30 s leave room for the hogs to be shed over several timeouts.
    let flags = ["--max-connections", "1000", "--header-timeout", "5"];
    let mut server = Server::start_with_open_files(&database.url, &flags, 64);
    let address: SocketAddr = server.address().parse().unwrap();

    let health_request = b"GET /health HTTP/1.1\r\nhost: localhost\r\n\r\n";
    let mut kept = TcpStream::connect(address).await.unwrap();
    kept.write_all(health_request).await.unwrap();
    assert_eq!(read_response(&mut kept).await.0, 200);

    let mut hogs = Vec::new();
    for _ in 0..100 {
        hogs.push(TcpStream::connect(address).await.unwrap());
    }
    // Well within the header timeout: the server is out of descriptors, not yet recovered.
    tokio::time::sleep(Duration::from_millis(300)).await;
    kept.write_all(health_request).await.unwrap();
    let answered = tokio::time::timeout(Duration::from_secs(3), read_response(&mut kept)).await;
    assert_eq!(
        answered.map(|(status, _)| status).ok(),
        Some(200),
        "a connection already open is served at once"
    );
    let client = reqwest::Client::new();
    let started = Instant::now();
    let health = client
        .get(server.url("/health"))
        .timeout(Duration::from_secs(30))
        .send()
        .await;
    let log = server.stop();
    let status = health.map(|response| response.status());
    assert!(
        matches!(status, Ok(reqwest::StatusCode::OK)),
        "a new client is served once the idle connections are closed: {status:?} after {:?}\n{log}",
        started.elapsed()
    );
    assert!(
        log.contains("Too many open files"),
        "the server did run out of descriptors:\n{log}"
    );
    drop(hogs);
}
