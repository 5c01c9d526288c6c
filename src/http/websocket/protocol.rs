//! The messages of the two GraphQL-over-WebSocket protocols, and the close codes we end a
//! connection with. Pure data: reading and writing the socket is `connection`'s job.
//!
//! `graphql-transport-ws` is <https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md>;
//! the legacy `graphql-ws` is subscriptions-transport-ws's. They share most message shapes,
//! so one parser takes both spellings (`subscribe`/`start`, `complete`/`stop`).

use async_graphql::{Request, Response, ServerError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Which protocol a connection speaks, chosen from the client's `Sec-WebSocket-Protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `graphql-transport-ws`, of the graphql-ws library.
    TransportWs,
    /// `graphql-ws`, of the retired subscriptions-transport-ws library.
    Legacy,
}

impl Protocol {
    /// The first protocol in a `Sec-WebSocket-Protocol` offer that we speak.
    pub fn chosen_from(offer: &str) -> Option<Protocol> {
        offer.split(',').find_map(|name| match name.trim() {
            name if name.eq_ignore_ascii_case("graphql-transport-ws") => {
                Some(Protocol::TransportWs)
            }
            name if name.eq_ignore_ascii_case("graphql-ws") => Some(Protocol::Legacy),
            _ => None,
        })
    }

    /// The protocol's name, as the handshake answers it.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::TransportWs => "graphql-transport-ws",
            Protocol::Legacy => "graphql-ws",
        }
    }

    /// A result of operation `id`.
    pub fn next(self, id: &str, payload: &Response) -> String {
        match self {
            Protocol::TransportWs => encode(&ServerMessage::Next { id, payload }),
            Protocol::Legacy => encode(&ServerMessage::Data { id, payload }),
        }
    }

    /// Operation `id` was refused before it ran (a validation error, a limit, write
    /// access). `graphql-transport-ws` has a message for that, after which no `complete`
    /// follows; the legacy protocol's clients expect a result with the errors, then `complete`.
    pub fn refusal(self, id: &str, errors: &[ServerError]) -> Vec<String> {
        match self {
            Protocol::TransportWs => vec![encode(&ServerMessage::Error {
                id,
                payload: errors,
            })],
            Protocol::Legacy => {
                let response = Response::from_errors(errors.to_vec());
                vec![self.next(id, &response), complete(id)]
            }
        }
    }
}

/// The server has sent everything operation `id` will send.
pub fn complete(id: &str) -> String {
    encode(&ServerMessage::Complete { id })
}

/// `connection_init` is accepted.
pub fn ack() -> String {
    encode(&ServerMessage::ConnectionAck)
}

/// The answer to a client's `ping`.
pub fn pong() -> String {
    encode(&ServerMessage::Pong { payload: None })
}

/// The legacy protocol's refusal of `connection_init`; `graphql-transport-ws` closes instead.
pub fn connection_error(message: &str) -> String {
    encode(&ServerMessage::ConnectionError {
        payload: serde_json::json!({ "message": message }),
    })
}

fn encode(message: &ServerMessage<'_>) -> String {
    serde_json::to_string(message).expect("server messages serialise")
}

/// What a client may send, in either protocol's spelling.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// Opens the connection; the payload may carry the write token.
    ConnectionInit {
        #[serde(default)]
        payload: Option<Value>,
    },
    /// Starts operation `id`.
    #[serde(alias = "start")]
    Subscribe { id: String, payload: Box<Request> },
    /// Stops operation `id`.
    #[serde(alias = "stop")]
    Complete { id: String },
    /// The legacy protocol's goodbye; `graphql-transport-ws` clients just close.
    ConnectionTerminate,
    /// Asks for a `pong`; its payload, if any, needs no answer.
    Ping {},
    /// Answers a `ping`; needs nothing from us.
    Pong {},
}

impl ClientMessage {
    /// The message in a text or binary frame; `None` when it is none of the above.
    pub fn parse(bytes: &[u8]) -> Option<ClientMessage> {
        serde_json::from_slice(bytes).ok()
    }
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ServerMessage<'a> {
    ConnectionAck,
    ConnectionError {
        payload: Value,
    },
    Next {
        id: &'a str,
        payload: &'a Response,
    },
    Data {
        id: &'a str,
        payload: &'a Response,
    },
    Error {
        id: &'a str,
        payload: &'a [ServerError],
    },
    Complete {
        id: &'a str,
    },
    Pong {
        #[serde(skip_serializing_if = "Option::is_none")]
        payload: Option<Value>,
    },
}

/// Why the server closes a connection: a close frame's code and reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Close {
    /// The close code: graphql-transport-ws's 44xx where it names one, RFC 6455's otherwise.
    pub code: u16,
    /// For people reading logs; clients act on the code.
    pub reason: String,
}

impl Close {
    fn new(code: u16, reason: impl Into<String>) -> Close {
        Close {
            code,
            reason: reason.into(),
        }
    }

    /// A message that is not one of the protocol's.
    pub fn invalid_message() -> Close {
        Close::new(4400, "invalid message received")
    }

    /// An operation before `connection_init` was acknowledged.
    pub fn unauthorized() -> Close {
        Close::new(4401, "Unauthorized")
    }

    /// No `connection_init` within the time allowed.
    pub fn init_timeout() -> Close {
        Close::new(4408, "Connection initialisation timeout")
    }

    /// An operation started under an id that is still running.
    pub fn duplicate(id: &str) -> Close {
        Close::new(4409, format!("Subscriber for {id} already exists"))
    }

    /// A second `connection_init`.
    pub fn second_init() -> Close {
        Close::new(4429, "Too many initialisation requests")
    }

    /// `connection_init` without the access it needs. 1002 rather than graphql-ws's 4403,
    /// which its clients would retry: without the right token, retrying cannot succeed.
    pub fn refused(reason: &str) -> Close {
        Close::new(1002, reason)
    }

    /// A message larger than the socket accepts.
    pub fn too_big(limit: usize) -> Close {
        Close::new(1009, format!("messages are limited to {limit} bytes here"))
    }

    /// The server is stopping.
    pub fn going_away() -> Close {
        Close::new(1001, "the server is stopping")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_protocol_offered_that_we_speak_is_chosen() {
        let cases = [
            ("graphql-transport-ws", Some(Protocol::TransportWs)),
            ("graphql-ws", Some(Protocol::Legacy)),
            (
                "mqtt, graphql-ws, graphql-transport-ws",
                Some(Protocol::Legacy),
            ),
            (" GRAPHQL-TRANSPORT-WS ", Some(Protocol::TransportWs)),
            ("mqtt", None),
            ("", None),
        ];
        for (offer, chosen) in cases {
            assert_eq!(Protocol::chosen_from(offer), chosen, "offer {offer:?}");
        }
    }

    #[test]
    fn both_spellings_of_starting_and_stopping_an_operation_are_understood() {
        for kind in ["subscribe", "start"] {
            let message =
                format!(r#"{{"type":"{kind}","id":"1","payload":{{"query":"{{ a }}"}}}}"#);
            assert!(
                matches!(ClientMessage::parse(message.as_bytes()), Some(ClientMessage::Subscribe { id, .. }) if id == "1"),
                "{kind}"
            );
        }
        for kind in ["complete", "stop"] {
            let message = format!(r#"{{"type":"{kind}","id":"1"}}"#);
            assert!(
                matches!(ClientMessage::parse(message.as_bytes()), Some(ClientMessage::Complete { id }) if id == "1"),
                "{kind}"
            );
        }
    }

    #[test]
    fn a_refusal_is_an_error_message_in_graphql_transport_ws_and_a_result_in_the_legacy_protocol() {
        let errors = [ServerError::new("no such field", None)];
        let modern: Value =
            serde_json::from_str(&Protocol::TransportWs.refusal("7", &errors)[0]).unwrap();
        assert_eq!(
            modern,
            serde_json::json!({ "type": "error", "id": "7", "payload": [{ "message": "no such field" }] })
        );
        let legacy = Protocol::Legacy.refusal("7", &errors);
        let kinds: Vec<Value> = legacy
            .iter()
            .map(|message| serde_json::from_str::<Value>(message).unwrap()["type"].clone())
            .collect();
        assert_eq!(kinds, ["data", "complete"]);
    }
}
