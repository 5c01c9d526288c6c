//! Request bodies, read whole up to the size limit. A larger one is refused, but read to
//! its end first (within a bound), as nginx's lingering close does: clients such as Node's
//! `http.request` and `fetch` write the whole body before reading, and a server that
//! answers and closes while they write leaves them a broken pipe instead of the 413.

use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use futures_util::TryStreamExt as _;

use super::incoming::Rejection;

/// Largest request body accepted; larger ones get 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Most of an oversized body read and thrown away so the client can read the 413; past
/// this much the connection is closed instead. Reading costs bandwidth, not memory, and
/// the request's time limit bounds it too.
const MAX_DRAINED_BYTES: usize = 16 * MAX_BODY_BYTES;

/// The whole body, or a 413 once it is over [`MAX_BODY_BYTES`]. (axum's `Bytes` extractor
/// with `DefaultBodyLimit` stops reading at the limit and answers in plain text.)
pub async fn read(body: Body) -> Result<Bytes, Rejection> {
    let mut chunks = body.into_data_stream();
    let mut read = Vec::new();
    let mut seen = 0;
    while let Some(chunk) = chunks.try_next().await.map_err(unreadable)? {
        seen += chunk.len();
        if seen <= MAX_BODY_BYTES {
            read.extend_from_slice(&chunk);
        } else if seen > MAX_DRAINED_BYTES {
            break;
        }
    }
    if seen > MAX_BODY_BYTES {
        return Err(Rejection {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            message: format!("the body is larger than {MAX_BODY_BYTES} bytes"),
            code: "BAD_REQUEST",
        });
    }
    Ok(Bytes::from(read))
}

fn unreadable(error: axum::Error) -> Rejection {
    Rejection::bad_request(format!("the body could not be read: {error}"))
}
