//! The accept loop: takes connections up to a cap, serves each over HTTP/1.1 with a
//! deadline for its request headers, and drains them on shutdown. Routing is not its job.
//!
//! `axum::serve` was the loop before; it has no knob for any of this, so a client sending
//! headers one byte at a time, or an idle keep-alive connection, held a socket forever,
//! and enough of them used up the process's file descriptors.

use std::io;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

/// Bounds on the connections a server holds.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Connections open at once, WebSockets included. Past this many, new connections wait
    /// in the listen queue until one closes, so the file descriptors a server needs stay
    /// bounded.
    pub max_connections: usize,
    /// Longest a client may take to send a request's headers, counted from the moment the
    /// server is ready for them; an idle keep-alive connection is closed after it too.
    pub header_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            // Room for as many plain HTTP connections as the WebSockets allowed at once.
            max_connections: 2 * super::MAX_WEBSOCKETS,
            header_timeout: Duration::from_secs(30),
        }
    }
}

/// Pause after an accept error that is not about one connection: out of file descriptors
/// or memory, retrying at once would only spin and flood the log.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Accepts and serves connections on `listener` until `stop` completes, then waits for
/// the connections being served to finish their requests (WebSockets, once upgraded, are
/// no longer waited for).
pub async fn serve_connections(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    stop: impl Future<Output = ()>,
) {
    let places = Arc::new(Semaphore::new(limits.max_connections));
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    // Every connection task holds a receiver; closing the sender asks them to finish, and
    // `closed()` completes once the last one has.
    let (draining, connections) = watch::channel(());
    let mut stop = pin!(stop);
    loop {
        let accepted = tokio::select! {
            () = &mut stop => break,
            accepted = accept(&listener, &places) => accepted,
        };
        let (stream, place) = accepted;
        let io = TokioIo::new(Counted {
            stream,
            _place: place,
        });
        let service = TowerToHyperService::new(router.clone());
        let connection = http.serve_connection(io, service).with_upgrades();
        let mut stopping = connections.clone();
        tokio::spawn(async move {
            let mut connection = pin!(connection);
            tokio::select! {
                served = connection.as_mut() => log_end(served),
                _ = stopping.changed() => {
                    connection.as_mut().graceful_shutdown();
                    log_end(connection.await);
                }
            }
        });
    }
    drop(listener);
    drop(connections);
    draining.send_replace(());
    draining.closed().await;
}

/// The next connection, once there is a place for it. Errors are logged, not returned:
/// the loop must go on serving the connections it has whatever `accept` says.
async fn accept(
    listener: &TcpListener,
    places: &Arc<Semaphore>,
) -> (TcpStream, OwnedSemaphorePermit) {
    let place = Arc::clone(places)
        .acquire_owned()
        .await
        .expect("the semaphore is never closed");
    let mut failing = false;
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                if failing {
                    tracing::info!("accepting connections again");
                }
                return (stream, place);
            }
            // The client gave up between connecting and being accepted: nothing to do.
            Err(error) if is_about_one_connection(&error) => {}
            Err(error) => {
                if !failing {
                    tracing::error!(
                        %error,
                        "cannot accept connections; serving those already open and retrying"
                    );
                    failing = true;
                }
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
}

fn is_about_one_connection(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
    )
}

fn log_end(served: Result<(), hyper::Error>) {
    // Clients that hang up, time out on their headers or send garbage end here; they say
    // nothing about the server's health.
    if let Err(error) = served {
        tracing::debug!(%error, "connection ended with an error");
    }
}

/// A connection that keeps its place under the cap for as long as its socket is open,
/// including after a WebSocket upgrade takes the socket over.
struct Counted {
    stream: TcpStream,
    _place: OwnedSemaphorePermit,
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
