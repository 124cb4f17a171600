//! Blob endpoints: pull with `Range` (§ Pulling blobs), monolithic, chunked and streamed
//! pushes, cross-repository mounts (§ Pushing blobs), and deletes (§ Deleting blobs).

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::Response;
use futures_util::TryStreamExt;
use sigil_core::Digest;

use super::errors::{range_header, ApiError};
use super::{empty, header_str, query, query_param, ApiResult, AppState};
use crate::name::RepoName;
use crate::storage::{BlobContent, BodyStream};

/// Streamed blob reads use buffers of this size.
const READ_CHUNK: usize = 1 << 20;
/// Chunks read ahead of the network.
const READ_AHEAD: usize = 4;
/// Buffers the reader keeps for reuse: the ones queued for the network, plus the ones hyper
/// is still writing.
const READ_BUFFERS: usize = READ_AHEAD + 4;

/// Streams `len` bytes of `file` from a blocking reader thread, so disk reads overlap with
/// sending (tokio's `File` would hop to the blocking pool for every read instead).
///
/// The reader recycles its buffers: it keeps a handle on each chunk it sends and reuses the
/// memory once hyper has written and dropped its copy of the handle. A fresh 1 MiB buffer per
/// chunk cost more than the reads themselves: the allocator hands large blocks back to the
/// kernel when they are freed, so every chunk paid page faults and zeroing of new pages.
fn file_stream(
    file: std::fs::File,
    len: u64,
) -> impl futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> {
    let (tx, rx) = tokio::sync::mpsc::channel(READ_AHEAD);
    tokio::task::spawn_blocking(move || {
        let mut reader = ChunkReader {
            file,
            left: len,
            sent: std::collections::VecDeque::with_capacity(READ_BUFFERS),
        };
        loop {
            let item = match reader.next_chunk() {
                Ok(None) => return,
                Ok(Some(chunk)) => Ok(chunk),
                Err(e) => Err(e),
            };
            let failed = item.is_err();
            if tx.blocking_send(item).is_err() || failed {
                return; // the client went away, or the read failed (reported in the stream)
            }
        }
    });
    futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) })
}

/// The reading side of [`file_stream`].
struct ChunkReader {
    file: std::fs::File,
    left: u64,
    /// Handles on the chunks handed out, oldest first.
    sent: std::collections::VecDeque<bytes::Bytes>,
}

impl ChunkReader {
    fn next_chunk(&mut self) -> Result<Option<bytes::Bytes>, std::io::Error> {
        use std::io::Read;
        if self.left == 0 {
            return Ok(None);
        }
        let want = self.left.min(READ_CHUNK as u64);
        let mut buf = self.free_buffer();
        // `read_to_end` on a `Take<File>` reads into the spare capacity without zeroing it.
        (&mut self.file).take(want).read_to_end(&mut buf)?;
        if buf.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "blob shorter than its size",
            ));
        }
        self.left -= buf.len() as u64;
        let chunk = bytes::Bytes::from(buf);
        if self.sent.len() < READ_BUFFERS {
            self.sent.push_back(chunk.clone());
        }
        Ok(Some(chunk))
    }

    /// An empty buffer of `READ_CHUNK` capacity: the oldest chunk handed out if nobody else
    /// holds it any more, else a new one.
    fn free_buffer(&mut self) -> Vec<u8> {
        if self.sent.front().is_some_and(bytes::Bytes::is_unique) {
            if let Some(Ok(reused)) = self.sent.pop_front().map(bytes::Bytes::try_into_mut) {
                let mut v = Vec::from(reused);
                if v.capacity() >= READ_CHUNK {
                    v.clear();
                    return v;
                }
            }
        }
        Vec::with_capacity(READ_CHUNK)
    }
}

fn digest(s: &str) -> Result<Digest, ApiError> {
    s.parse()
        .map_err(|e: sigil_core::Error| ApiError::digest_invalid(e.to_string()))
}

fn body_stream(body: Body) -> BodyStream {
    Box::pin(body.into_data_stream().map_err(std::io::Error::other))
}

fn upload_location(repo: &RepoName, id: &str) -> String {
    format!("/v2/{repo}/blobs/uploads/{id}")
}

fn blob_created(repo: &RepoName, d: &Digest) -> Response {
    empty(
        StatusCode::CREATED,
        &[
            ("location", format!("/v2/{repo}/blobs/{d}")),
            ("docker-content-digest", d.to_string()),
        ],
    )
}

fn upload_accepted(status: StatusCode, repo: &RepoName, id: &str, size: u64) -> Response {
    empty(
        status,
        &[
            ("location", upload_location(repo, id)),
            ("range", range_header(size)),
            ("docker-upload-uuid", id.to_owned()),
        ],
    )
}

/// Parses a `Range: bytes=…` request header against a blob of `size` bytes. `Ok(None)` is a
/// header we do not interpret (the whole blob is sent, as RFC 9110 allows).
fn byte_range(value: &str, size: u64) -> Result<Option<std::ops::Range<u64>>, ()> {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None); // multiple ranges: serve the whole blob
    }
    let (a, b) = spec.split_once('-').ok_or(())?;
    let (a, b) = (a.trim(), b.trim());
    let range = if a.is_empty() {
        let n: u64 = b.parse().map_err(|_| ())?;
        if n == 0 {
            return Err(());
        }
        size.saturating_sub(n)..size
    } else {
        let start: u64 = a.parse().map_err(|_| ())?;
        let end = if b.is_empty() {
            size
        } else {
            let e: u64 = b.parse().map_err(|_| ())?;
            if e < start {
                return Err(());
            }
            e.saturating_add(1).min(size)
        };
        start..end
    };
    if range.start >= size {
        return Err(());
    }
    Ok(Some(range))
}

pub(super) async fn get(state: &AppState, repo: &RepoName, d: &str, req: &Parts) -> ApiResult {
    let d = digest(d)?;
    let Some(size) = state.storage.blob_size(repo, &d).await? else {
        return Err(ApiError::blob_unknown(&d.to_string()));
    };
    let range = match header_str(&req.headers, header::RANGE) {
        None => None,
        Some(v) => byte_range(v, size).map_err(|()| {
            ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "BLOB_UNKNOWN",
                "requested range not satisfiable",
            )
            .header(header::CONTENT_RANGE, &format!("bytes */{size}"))
        })?,
    };
    let (status, len) = match &range {
        Some(r) => (StatusCode::PARTIAL_CONTENT, r.end - r.start),
        None => (StatusCode::OK, size),
    };
    let mut resp = if req.method == Method::HEAD {
        Response::new(Body::empty())
    } else {
        let Some(content) = state.storage.blob_read(repo, &d, range.clone()).await? else {
            return Err(ApiError::blob_unknown(&d.to_string()));
        };
        match content {
            BlobContent::Bytes(b) => Response::new(Body::from(b)),
            BlobContent::File { file, len } => {
                Response::new(Body::from_stream(file_stream(file.into_std().await, len)))
            }
        }
    };
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Ok(v) = HeaderValue::from_str(&d.to_string()) {
        h.insert("docker-content-digest", v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("\"{d}\"")) {
        h.insert(header::ETAG, v);
    }
    if let Some(r) = &range {
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {}-{}/{size}", r.start, r.end - 1)) {
            h.insert(header::CONTENT_RANGE, v);
        }
    }
    Ok(resp)
}

pub(super) async fn delete(state: &AppState, repo: &RepoName, d: &str) -> ApiResult {
    let d = digest(d)?;
    if state.storage.blob_delete(repo, &d).await? {
        Ok(empty(StatusCode::ACCEPTED, &[]))
    } else {
        Err(ApiError::blob_unknown(&d.to_string()))
    }
}

/// `POST /v2/<name>/blobs/uploads/`: a mount (`?mount=&from=`), a monolithic push
/// (`?digest=`), or the start of a session.
pub(super) async fn start(state: &AppState, repo: &RepoName, req: &Parts, body: Body) -> ApiResult {
    let q = query(req);
    if let Some(m) = query_param(&q, "mount") {
        let d = digest(m)?;
        if let Some(from) = query_param(&q, "from").and_then(RepoName::parse) {
            if state.storage.blob_mount(repo, &from, &d).await?.is_some() {
                return Ok(blob_created(repo, &d));
            }
        }
        // Not mountable: the spec's fallback is a regular session (202).
        let id = state.storage.upload_start(repo).await?;
        return Ok(upload_accepted(StatusCode::ACCEPTED, repo, &id, 0));
    }
    if let Some(dg) = query_param(&q, "digest") {
        let d = digest(dg)?;
        let id = state.storage.upload_start(repo).await?;
        let pushed = push_and_finish(state, repo, &id, None, &d, body_stream(body)).await;
        if pushed.is_err() {
            // A failed single-request push leaves no session behind (the client never
            // learned its id).
            let _ = state.storage.upload_cancel(repo, &id).await;
        }
        return pushed;
    }
    let id = state.storage.upload_start(repo).await?;
    Ok(upload_accepted(StatusCode::ACCEPTED, repo, &id, 0))
}

async fn push_and_finish(
    state: &AppState,
    repo: &RepoName,
    id: &str,
    offset: Option<u64>,
    d: &Digest,
    body: BodyStream,
) -> ApiResult {
    let appended = state.storage.upload_append(repo, id, offset, body).await;
    if let Err(e) = appended {
        return Err(e.into());
    }
    state.storage.upload_finish(repo, id, d).await?;
    Ok(blob_created(repo, d))
}

pub(super) async fn status(state: &AppState, repo: &RepoName, id: &str) -> ApiResult {
    let size = state.storage.upload_size(repo, id).await?;
    Ok(upload_accepted(StatusCode::NO_CONTENT, repo, id, size))
}

/// The start offset of a `Content-Range: <start>-<end>` chunk header (distribution's form,
/// also accepted with a `bytes ` prefix), checked against `Content-Length` when both are set.
fn chunk_start(req: &Parts) -> Result<Option<u64>, ApiError> {
    let Some(v) = header_str(&req.headers, header::CONTENT_RANGE) else {
        return Ok(None);
    };
    let invalid = || {
        ApiError::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "BLOB_UPLOAD_INVALID",
            format!("invalid Content-Range `{v}`: expected `<start>-<end>`"),
        )
    };
    let spec = v
        .trim()
        .trim_start_matches("bytes")
        .trim_start_matches([' ', '=']);
    let spec = spec.split('/').next().unwrap_or(spec);
    let (a, b) = spec.split_once('-').ok_or_else(invalid)?;
    let start: u64 = a.trim().parse().map_err(|_| invalid())?;
    let end: u64 = b.trim().parse().map_err(|_| invalid())?;
    if end < start {
        return Err(invalid());
    }
    if let Some(len) =
        header_str(&req.headers, header::CONTENT_LENGTH).and_then(|l| l.trim().parse::<u64>().ok())
    {
        if len != end - start + 1 {
            return Err(invalid());
        }
    }
    Ok(Some(start))
}

pub(super) async fn patch(
    state: &AppState,
    repo: &RepoName,
    id: &str,
    req: &Parts,
    body: Body,
) -> ApiResult {
    let start = chunk_start(req)?;
    match state
        .storage
        .upload_append(repo, id, start, body_stream(body))
        .await
    {
        Ok(size) => Ok(upload_accepted(StatusCode::ACCEPTED, repo, id, size)),
        Err(e @ crate::Error::RangeInvalid { .. }) => {
            Err(ApiError::from(e).header(header::LOCATION, &upload_location(repo, id)))
        }
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn finish(
    state: &AppState,
    repo: &RepoName,
    id: &str,
    req: &Parts,
    body: Body,
) -> ApiResult {
    let q = query(req);
    let Some(dg) = query_param(&q, "digest") else {
        return Err(ApiError::digest_invalid(
            "closing an upload needs `?digest=<algorithm>:<hex>`",
        ));
    };
    let d = digest(dg)?;
    let start = chunk_start(req)?;
    push_and_finish(state, repo, id, start, &d, body_stream(body)).await
}

pub(super) async fn cancel(state: &AppState, repo: &RepoName, id: &str) -> ApiResult {
    state.storage.upload_cancel(repo, id).await?;
    Ok(empty(StatusCode::NO_CONTENT, &[]))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::byte_range;

    #[test]
    fn ranges() {
        assert_eq!(byte_range("bytes=0-9", 100), Ok(Some(0..10)));
        assert_eq!(byte_range("bytes=90-", 100), Ok(Some(90..100)));
        assert_eq!(byte_range("bytes=-10", 100), Ok(Some(90..100)));
        assert_eq!(byte_range("bytes=95-200", 100), Ok(Some(95..100)));
        assert_eq!(byte_range("bytes=100-", 100), Err(()));
        assert_eq!(byte_range("bytes=5-4", 100), Err(()));
        assert_eq!(byte_range("bytes=x-4", 100), Err(()));
        assert_eq!(byte_range("items=0-1", 100), Ok(None));
    }
}
