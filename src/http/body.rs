//! Request bodies, read whole up to the size limit. A larger one is refused, but read to
//! its end first (within a bound), as nginx's lingering close does: clients such as Node's
//! `http.request` and `fetch` write the whole body before reading, and a server that
//! answers and closes while they write leaves them a broken pipe instead of the 413.

use axum::body::{Body, Bytes, HttpBody as _};
use axum::http::StatusCode;
use futures_util::TryStreamExt as _;

use super::incoming::Rejection;
use crate::error::Code;

/// Largest request body accepted; larger ones get 413.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Most of an oversized body read and thrown away so the client can read the 413; past
/// this much the connection is closed instead. Reading costs bandwidth, not memory, and
/// the request's time limit bounds it too.
const MAX_DRAINED_BYTES: usize = 16 * MAX_BODY_BYTES;

/// The whole body, or a 413 once it is over [`MAX_BODY_BYTES`]. (axum's `Bytes` extractor
/// with `DefaultBodyLimit` stops reading at the limit and answers in plain text.)
pub async fn read(body: Body) -> Result<Bytes, Rejection> {
    // A declared length past what we would drain gets the same broken pipe now as after
    // reading that much; better not to spend the bandwidth.
    if body.size_hint().lower() > MAX_DRAINED_BYTES as u64 {
        return Err(too_large());
    }
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
        return Err(too_large());
    }
    Ok(Bytes::from(read))
}

fn too_large() -> Rejection {
    Rejection {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        message: format!("the body is larger than {MAX_BODY_BYTES} bytes"),
        code: Code::BadRequest,
    }
}

fn unreadable(error: axum::Error) -> Rejection {
    Rejection::bad_request(format!("the body could not be read: {error}"))
}
