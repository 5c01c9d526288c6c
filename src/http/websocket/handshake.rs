//! The HTTP/1.1 upgrade to a WebSocket, and the socket's size limits.
//!
//! We do the upgrade ourselves rather than through axum's `WebSocketUpgrade`, whose socket
//! takes one message size limit for its whole life and hides the stream it reads from:
//! an unacknowledged client must be held to far less than an acknowledged one, or a
//! thousand sockets that never send `connection_init` each buffer a megabyte of nothing.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{
    CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_PROTOCOL,
    SEC_WEBSOCKET_VERSION, UPGRADE,
};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

use super::protocol::Protocol;

/// The WebSocket a client upgraded to.
pub type Socket = WebSocketStream<Metered<TokioIo<Upgraded>>>;

/// An upgrade request that checked out, waiting to be answered.
pub struct Handshake {
    key: HeaderValue,
    on_upgrade: OnUpgrade,
    /// The subprotocol the client offered and we speak.
    pub protocol: Protocol,
}

impl Handshake {
    /// The handshake `request` asks for, or the answer refusing it.
    pub fn of(request: &mut Request) -> Result<Handshake, NotAHandshake> {
        let headers = request.headers();
        let is_upgrade = request.method() == Method::GET
            && header_has(headers, &CONNECTION, "upgrade")
            && header_has(headers, &UPGRADE, "websocket")
            && header_has(headers, &SEC_WEBSOCKET_VERSION, "13");
        let key = headers.get(SEC_WEBSOCKET_KEY).cloned();
        let (true, Some(key)) = (is_upgrade, key) else {
            return Err(NotAHandshake(
                StatusCode::BAD_REQUEST,
                "this is a WebSocket endpoint: connect with a WebSocket client",
            ));
        };
        let Some(protocol) = headers
            .get_all(SEC_WEBSOCKET_PROTOCOL)
            .iter()
            .filter_map(|offer| offer.to_str().ok())
            .find_map(Protocol::chosen_from)
        else {
            return Err(NotAHandshake(
                StatusCode::BAD_REQUEST,
                "offer graphql-transport-ws or graphql-ws in Sec-WebSocket-Protocol",
            ));
        };
        let Some(on_upgrade) = request.extensions_mut().remove::<OnUpgrade>() else {
            return Err(NotAHandshake(
                StatusCode::UPGRADE_REQUIRED,
                "this connection cannot be upgraded",
            ));
        };
        Ok(Handshake {
            key,
            on_upgrade,
            protocol,
        })
    }

    /// Answers the request with 101; the socket comes once the client has read that.
    pub fn accept(self, limits: SizeLimits) -> (Response, impl Future<Output = Option<Socket>>) {
        let response = Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header(CONNECTION, "upgrade")
            .header(UPGRADE, "websocket")
            .header(SEC_WEBSOCKET_ACCEPT, derive_accept_key(self.key.as_bytes()))
            .header(SEC_WEBSOCKET_PROTOCOL, self.protocol.name())
            .body(Body::empty())
            .expect("a valid 101 response");
        let on_upgrade = self.on_upgrade;
        let socket = async move {
            let upgraded = on_upgrade.await.ok()?;
            let config = WebSocketConfig::default()
                .max_message_size(Some(limits.message))
                .max_frame_size(Some(limits.message));
            let io = Metered {
                inner: TokioIo::new(upgraded),
                left: limits.before_init,
                lifted: Arc::clone(&limits.lifted),
            };
            Some(WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await)
        };
        (response, socket)
    }
}

/// Why a request is no WebSocket handshake we take, and the status saying so.
pub struct NotAHandshake(StatusCode, &'static str);

impl IntoResponse for NotAHandshake {
    fn into_response(self) -> Response {
        (self.0, self.1).into_response()
    }
}

fn header_has(headers: &HeaderMap, name: &axum::http::HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|value| {
        value.to_str().is_ok_and(|value| {
            value
                .split(',')
                .any(|part| part.trim().eq_ignore_ascii_case(token))
        })
    })
}

/// How much a socket may read: per message, and in all before `connection_init` is
/// acknowledged.
#[derive(Debug, Clone)]
pub struct SizeLimits {
    /// Largest message (and frame) accepted once the connection is acknowledged.
    pub message: usize,
    /// Bytes read before it is.
    pub before_init: usize,
    /// Set once the connection is acknowledged, lifting `before_init`.
    lifted: Arc<AtomicBool>,
}

impl SizeLimits {
    /// Messages up to `message` bytes, and `before_init` bytes before the acknowledgement.
    pub fn new(message: usize, before_init: usize) -> SizeLimits {
        SizeLimits {
            message,
            before_init,
            lifted: Arc::default(),
        }
    }

    /// The connection is acknowledged: only the message limit holds from now on.
    pub fn lift_init_limit(&self) {
        self.lifted.store(true, Ordering::Release);
    }
}

/// A client's stream that fails a read once an unacknowledged client has sent more than its
/// share. Each read before then asks for no more than what is left, so the bytes the
/// WebSocket buffers never exceed it; a `connection_init` within it arrives whole, and the
/// limit is lifted before anything after it is read.
pub struct Metered<S> {
    inner: S,
    left: usize,
    lifted: Arc<AtomicBool>,
}

/// The read error of a client that sent too much before `connection_init` was acknowledged.
#[derive(Debug, thiserror::Error)]
#[error("too many bytes before connection_init was acknowledged")]
pub struct TooMuchBeforeInit;

impl<S: AsyncRead + Unpin> AsyncRead for Metered<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.lifted.load(Ordering::Acquire) {
            return Pin::new(&mut self.inner).poll_read(cx, buf);
        }
        if self.left == 0 {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::InvalidData,
                TooMuchBeforeInit,
            )));
        }
        let allowed = self.left.min(buf.remaining());
        let mut limited = ReadBuf::new(&mut buf.initialize_unfilled_to(allowed)[..allowed]);
        let polled = Pin::new(&mut self.inner).poll_read(cx, &mut limited);
        let read = limited.filled().len();
        buf.advance(read);
        self.left -= read;
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Metered<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt as _;

    fn metered(data: &'static [u8], before_init: usize) -> (Metered<&'static [u8]>, SizeLimits) {
        let limits = SizeLimits::new(1 << 20, before_init);
        let io = Metered {
            inner: data,
            left: limits.before_init,
            lifted: Arc::clone(&limits.lifted),
        };
        (io, limits)
    }

    #[tokio::test]
    async fn an_unacknowledged_client_is_read_no_further_than_its_share() {
        let (mut io, _limits) = metered(b"0123456789", 4);
        let mut buf = [0; 16];
        assert_eq!(io.read(&mut buf).await.unwrap(), 4);
        let error = io.read(&mut buf).await.unwrap_err();
        assert!(
            error
                .get_ref()
                .is_some_and(|error| error.is::<TooMuchBeforeInit>())
        );
    }

    #[tokio::test]
    async fn an_acknowledged_client_is_read_freely() {
        let (mut io, limits) = metered(b"0123456789", 4);
        let mut buf = [0; 16];
        assert_eq!(io.read(&mut buf).await.unwrap(), 4);
        limits.lift_init_limit();
        assert_eq!(io.read(&mut buf).await.unwrap(), 6);
    }
}
