//! One WebSocket connection, from the upgrade to its close: `connection_init` within its
//! time limit, then operations by id until the client leaves or the server stops.
//!
//! async-graphql's own loop polls every operation of a connection whenever any of them is
//! woken, so one event to n subscriptions costs n², and it leaves idle sockets open forever.
//! This loop keeps running operations in a `SelectAll`, which polls only the woken ones.

use std::collections::HashMap;
use std::time::Duration;

use async_graphql::ServerError;
use futures_util::stream::{AbortHandle, Abortable, BoxStream, SelectAll};
use futures_util::{SinkExt as _, StreamExt as _};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message};

use super::SocketLimits;
use super::handshake::{SizeLimits, Socket, TooMuchBeforeInit};
use super::operations::{Operations, Reply};
use super::protocol::{self, ClientMessage, Close, Protocol};
use crate::error::{ClientError, Error};
use crate::http::access::WriteAccess;

/// How long a closing server waits for the client's half of the closing handshake.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// Everything one connection needs.
pub struct Connection {
    pub protocol: Protocol,
    pub access: WriteAccess,
    pub operations: Operations,
    pub limits: SocketLimits,
    pub sizes: SizeLimits,
    /// Turns true when the server starts stopping.
    pub going_away: watch::Receiver<bool>,
}

/// Why a connection ends.
enum Ending {
    /// We close it, saying why.
    Close(Close),
    /// The client closed it, went away, or broke the socket: nothing to say.
    Gone,
}

impl From<Close> for Ending {
    fn from(close: Close) -> Self {
        Ending::Close(close)
    }
}

impl Connection {
    /// Serves `socket` until it closes.
    pub async fn serve(self, mut socket: Socket) {
        let ended = match self.initialise(&mut socket).await {
            Ok(()) => self.run(&mut socket).await,
            Err(ending) => ending,
        };
        if let Ending::Close(close) = ended {
            tracing::debug!(code = close.code, reason = %close.reason, "closing a WebSocket");
            let frame = CloseFrame {
                code: close.code.into(),
                reason: close.reason.into(),
            };
            if socket.close(Some(frame)).await.is_ok() {
                // The client answers with its own close frame; leaving before it has read
                // ours could reset the connection under it.
                let answered = async { while let Some(Ok(_)) = socket.next().await {} };
                let _ = tokio::time::timeout(CLOSE_GRACE, answered).await;
            }
        }
    }

    /// Waits for an acceptable `connection_init` and acknowledges it.
    async fn initialise(&self, socket: &mut Socket) -> Result<(), Ending> {
        let deadline = tokio::time::sleep(self.limits.init_timeout);
        tokio::pin!(deadline);
        let mut going_away = self.going_away.clone();
        loop {
            let message = tokio::select! {
                () = &mut deadline => return Err(Close::init_timeout().into()),
                () = stopping(&mut going_away) => {
                    return Err(Close::going_away().into());
                }
                frame = socket.next() => self.read(frame)?,
            };
            match message {
                Some(ClientMessage::ConnectionInit { payload }) => {
                    let payload = payload.unwrap_or_default();
                    if let Err(denied) = self.access.permits_connection(&payload) {
                        tracing::info!(?denied, "WebSocket connection refused");
                        let reason = denied.connection_message();
                        if self.protocol == Protocol::Legacy {
                            send(socket, protocol::connection_error(reason)).await?;
                        }
                        return Err(Close::refused(reason).into());
                    }
                    self.sizes.lift_init_limit();
                    return send(socket, protocol::ack()).await;
                }
                Some(ClientMessage::Subscribe { .. }) => return Err(Close::unauthorized().into()),
                Some(ClientMessage::Ping {}) => send(socket, protocol::pong()).await?,
                Some(ClientMessage::ConnectionTerminate) => return Err(Ending::Gone),
                Some(ClientMessage::Pong {} | ClientMessage::Complete { .. }) | None => {}
            }
        }
    }

    /// Runs operations until the connection ends.
    async fn run(&self, socket: &mut Socket) -> Ending {
        let mut running = Running::default();
        let mut going_away = self.going_away.clone();
        loop {
            let result = tokio::select! {
                () = stopping(&mut going_away) => {
                    return Close::going_away().into();
                }
                frame = socket.next() => match self.read(frame) {
                    Ok(Some(message)) => self.handle(socket, &mut running, message).await,
                    Ok(None) => Ok(()),
                    Err(ending) => Err(ending),
                },
                Some((id, tag, reply)) = running.replies.next(), if !running.replies.is_empty() => {
                    self.reply(socket, &mut running, &id, tag, reply).await
                }
            };
            if let Err(ending) = result {
                return ending;
            }
        }
    }

    /// Acts on a client's message once the connection is acknowledged.
    async fn handle(
        &self,
        socket: &mut Socket,
        running: &mut Running,
        message: ClientMessage,
    ) -> Result<(), Ending> {
        match message {
            ClientMessage::Subscribe { id, payload } => {
                if running.is_live(&id) {
                    // The legacy protocol has no rule for this; its clients reuse the id of
                    // an operation they mean to replace.
                    if self.protocol == Protocol::TransportWs {
                        return Err(Close::duplicate(&id).into());
                    }
                    running.stop(&id);
                }
                if running.len() >= self.limits.max_operations {
                    let refusal = too_many_operations(self.limits.max_operations);
                    for message in self.protocol.refusal(&id, &[refusal]) {
                        send(socket, message).await?;
                    }
                    return Ok(());
                }
                running.start(id, self.operations.run(*payload));
                Ok(())
            }
            ClientMessage::Complete { id } => {
                if running.stop(&id) {
                    send(socket, protocol::complete(&id)).await?;
                }
                Ok(())
            }
            ClientMessage::ConnectionInit { .. } => Err(Close::second_init().into()),
            ClientMessage::Ping {} => send(socket, protocol::pong()).await,
            ClientMessage::Pong {} => Ok(()),
            ClientMessage::ConnectionTerminate => Err(Ending::Gone),
        }
    }

    /// Sends what operation `id` replied, unless the operation was stopped meanwhile.
    async fn reply(
        &self,
        socket: &mut Socket,
        running: &mut Running,
        id: &str,
        tag: u64,
        reply: Option<Reply>,
    ) -> Result<(), Ending> {
        if !running.is_current(id, tag) {
            return Ok(());
        }
        match reply {
            Some(Reply::Next(response)) => send(socket, self.protocol.next(id, &response)).await,
            Some(Reply::Refused(errors)) => {
                running.stop(id);
                for message in self.protocol.refusal(id, &errors) {
                    send(socket, message).await?;
                }
                Ok(())
            }
            None => {
                running.stop(id);
                send(socket, protocol::complete(id)).await
            }
        }
    }

    /// The client's message in `frame`; `None` for frames that carry none (pings).
    fn read(
        &self,
        frame: Option<Result<Message, tungstenite::Error>>,
    ) -> Result<Option<ClientMessage>, Ending> {
        let bytes = match frame {
            Some(Ok(Message::Text(text))) => text.into(),
            Some(Ok(Message::Binary(bytes))) => bytes,
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => return Ok(None),
            Some(Err(tungstenite::Error::Capacity(_))) => {
                return Err(Close::too_big(self.sizes.message).into());
            }
            Some(Err(tungstenite::Error::Io(error)))
                if error
                    .get_ref()
                    .is_some_and(|error| error.is::<TooMuchBeforeInit>()) =>
            {
                return Err(Close::too_big(self.sizes.before_init).into());
            }
            Some(Ok(Message::Close(_)) | Err(_)) | None => return Err(Ending::Gone),
        };
        match ClientMessage::parse(&bytes) {
            Some(message) => Ok(Some(message)),
            None => Err(Close::invalid_message().into()),
        }
    }
}

/// Completes once the server starts stopping, or is gone.
async fn stopping(going_away: &mut watch::Receiver<bool>) {
    let _ = going_away.wait_for(|&stopping| stopping).await;
}

async fn send(socket: &mut Socket, text: String) -> Result<(), Ending> {
    socket
        .send(Message::text(text))
        .await
        .map_err(|_| Ending::Gone)
}

fn too_many_operations(max: usize) -> ServerError {
    let error = Error::TooLarge(format!(
        "this connection already runs {max} operations; complete one or open another connection"
    ));
    async_graphql::Error::from(ClientError::from(error)).into_server_error(Default::default())
}

/// A reply of the operation running under an id, tagged with the run it belongs to: an
/// operation stopped and restarted under the same id must not take the old run's replies.
/// `None` after the last.
type Tagged = (String, u64, Option<Reply>);

/// The operations a connection runs.
#[derive(Default)]
struct Running {
    replies: SelectAll<BoxStream<'static, Tagged>>,
    live: HashMap<String, (u64, AbortHandle)>,
    runs: u64,
}

impl Running {
    fn len(&self) -> usize {
        self.live.len()
    }

    fn is_live(&self, id: &str) -> bool {
        self.live.contains_key(id)
    }

    fn is_current(&self, id: &str, tag: u64) -> bool {
        self.live.get(id).is_some_and(|(run, _)| *run == tag)
    }

    fn start(&mut self, id: String, replies: BoxStream<'static, Reply>) {
        self.runs += 1;
        let tag = self.runs;
        let (abort, registration) = AbortHandle::new_pair();
        let tagged = {
            let (id, last) = (id.clone(), id.clone());
            replies
                .map(move |reply| (id.clone(), tag, Some(reply)))
                .chain(futures_util::stream::once(async move { (last, tag, None) }))
        };
        self.replies
            .push(Abortable::new(tagged, registration).boxed());
        self.live.insert(id, (tag, abort));
    }

    /// Stops operation `id`; whether it was running.
    fn stop(&mut self, id: &str) -> bool {
        match self.live.remove(id) {
            Some((_, abort)) => {
                abort.abort();
                true
            }
            None => false,
        }
    }
}
