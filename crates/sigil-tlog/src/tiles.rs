//! C2SP tlog-tiles reads (`c2sp.org/tlog-tiles`) over the same tree as the Rekor API.
//!
//! - `GET /checkpoint`: the latest signed checkpoint (the note `GET /api/v1/log` returns).
//! - `GET /tile/<L>/<N>[.p/<W>]`: hashes of tree level `8·L`, nodes `256·N .. 256·N+W`
//!   (W = 256 for a full tile), 32 bytes each; `<N>` in the spec's `x001/x234/067` form.
//! - `GET /tile/entries/<N>[.p/<W>]`: entries `256·N ..`, each as a big-endian uint16 length
//!   and the canonical body. Bodies above 65535 bytes cannot be framed this way; a bundle
//!   holding one is answered with 422 (the Rekor API still serves such entries).
//!
//! Full tiles never change and are served as immutable; partial tiles are served whenever
//! the log holds their nodes.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::api::{error, internal};
use crate::log::Log;

const TILE_WIDTH: u64 = 256;

pub(crate) fn routes() -> Router<Arc<Log>> {
    Router::new()
        .route("/checkpoint", get(checkpoint))
        .route("/tile/{*path}", get(tile))
}

async fn checkpoint(State(log): State<Arc<Log>>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        log.head().note.clone(),
    )
        .into_response()
}

/// A parsed tile path.
#[derive(Debug, PartialEq, Eq)]
struct TilePath {
    /// `None` for entry bundles.
    level: Option<u32>,
    index: u64,
    /// `None` for a full tile.
    width: Option<u64>,
}

/// Parses `<L>/<N>[.p/<W>]` or `entries/<N>[.p/<W>]`.
fn parse_path(path: &str) -> Option<TilePath> {
    let (head, rest) = path.split_once('/')?;
    let level = if head == "entries" {
        None
    } else {
        if head.is_empty() || head.len() > 2 || !head.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(head.parse::<u32>().ok()?)
    };
    let (n, width) = match rest.split_once(".p/") {
        Some((n, w)) => {
            if w.is_empty()
                || w.len() > 3
                || !w.bytes().all(|b| b.is_ascii_digit())
                || w.starts_with('0')
            {
                return None;
            }
            let w: u64 = w.parse().ok()?;
            if w == 0 || w >= TILE_WIDTH {
                return None;
            }
            (n, Some(w))
        }
        None => (rest, None),
    };
    // N: groups of three digits, all but the last prefixed with `x`.
    let groups: Vec<&str> = n.split('/').collect();
    let (last, init) = groups.split_last()?;
    let mut index: u64 = 0;
    for g in init {
        let d = g.strip_prefix('x')?;
        if d.len() != 3 || !d.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        index = index.checked_mul(1000)?.checked_add(d.parse().ok()?)?;
    }
    if last.len() != 3 || !last.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    index = index.checked_mul(1000)?.checked_add(last.parse().ok()?)?;
    Some(TilePath {
        level,
        index,
        width,
    })
}

async fn tile(State(log): State<Arc<Log>>, Path(path): Path<String>) -> Response {
    let Some(t) = parse_path(&path) else {
        return error(
            StatusCode::NOT_FOUND,
            format!("`/tile/{path}` is not a tile path"),
        );
    };
    let width = t.width.unwrap_or(TILE_WIDTH);
    let size = log.head().size;
    let Some(start) = t.index.checked_mul(TILE_WIDTH) else {
        return error(StatusCode::NOT_FOUND, "tile index out of range");
    };
    let cache = if t.width.is_none() {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let store = log.store();
    let body = match t.level {
        Some(level) => {
            let tree_level = level.saturating_mul(8);
            if tree_level >= 64 || start.saturating_add(width) > size >> tree_level {
                return error(StatusCode::NOT_FOUND, "tile not available");
            }
            match store.nodes(tree_level, start, width) {
                Ok(b) => b,
                Err(e) => return internal(e),
            }
        }
        None => {
            if start.saturating_add(width) > size {
                return error(StatusCode::NOT_FOUND, "entry bundle not available");
            }
            let mut out = Vec::new();
            for i in start..start + width {
                let data = match store.leaf_data(i) {
                    Ok(d) => d,
                    Err(e) => return internal(e),
                };
                let Ok(len) = u16::try_from(data.len()) else {
                    return error(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        format!("entry {i} is larger than a tlog-tiles bundle can frame"),
                    );
                };
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(&data);
            }
            out
        }
    };
    (
        [
            (header::CONTENT_TYPE, "application/octet-stream"),
            (header::CACHE_CONTROL, cache),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tile_paths() {
        let p = |s: &str| parse_path(s);
        assert_eq!(
            p("0/000"),
            Some(TilePath {
                level: Some(0),
                index: 0,
                width: None
            })
        );
        assert_eq!(
            p("1/x001/x234/067.p/8"),
            Some(TilePath {
                level: Some(1),
                index: 1_234_067,
                width: Some(8)
            })
        );
        assert_eq!(
            p("entries/005"),
            Some(TilePath {
                level: None,
                index: 5,
                width: None
            })
        );
        for bad in [
            "0/5",
            "0/x005",
            "0/000.p/0",
            "0/000.p/256",
            "0/000.p/08",
            "a/000",
            "0/001/002",
            "",
        ] {
            assert_eq!(p(bad), None, "{bad}");
        }
    }
}
