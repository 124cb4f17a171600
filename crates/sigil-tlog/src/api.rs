//! Rekor's v1 REST API (rekor `openapi.yaml`) over a [`Log`].
//!
//! Errors use Rekor's shape, `{"code":<status>,"message":"…"}`, with 4xx for anything the
//! client can fix; internal failures are logged and answered with a generic 500 message.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value;
use sigil_core::merkle;
use sigil_core::rekor::{self, ApiError, ConsistencyProof, LogEntries, LogInfo};

use crate::log::{AppendError, Log};
use crate::store::{search_key, NewLeaf, Nodes};

/// Most items in one retrieve request, as Rekor limits them.
const MAX_RETRIEVE: usize = 10;

/// The router serving Rekor's v1 API and the tlog-tiles reads for `log`.
pub fn router(log: Arc<Log>) -> Router {
    // The request may be somewhat larger than the canonical body it produces (base64 of
    // base64 in intoto); allow twice the entry limit on the wire, check the body exactly.
    let limit = log.shared.max_entry_size.saturating_mul(2).max(4096);
    Router::new()
        .route("/api/v1/log", get(log_info))
        .route("/api/v1/log/publicKey", get(public_key))
        .route("/api/v1/log/proof", get(consistency))
        .route(
            "/api/v1/log/entries",
            post(create_entry).get(entry_by_index),
        )
        .route("/api/v1/log/entries/retrieve", post(retrieve))
        .route("/api/v1/log/entries/{uuid}", get(entry_by_uuid))
        .route("/api/v1/index/retrieve", post(search_index))
        .merge(crate::tiles::routes())
        .layer(DefaultBodyLimit::max(limit))
        .with_state(log)
}

pub(crate) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    let body = ApiError {
        code: i64::from(status.as_u16()),
        message: message.into(),
    };
    (status, Json(body)).into_response()
}

/// A request body that could not be read (too large, or a broken connection), in Rekor's
/// error shape rather than axum's plain text.
fn body_error(e: BytesRejection) -> Response {
    error(e.status(), e.body_text())
}

pub(crate) fn internal(e: impl std::fmt::Display) -> Response {
    tracing::error!("internal error: {e}");
    error(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
}

async fn log_info(State(log): State<Arc<Log>>) -> Response {
    let head = log.head();
    Json(LogInfo {
        root_hash: hex::encode(head.root),
        tree_size: head.size as i64,
        signed_tree_head: head.note.clone(),
        tree_id: log.tree_id().to_string(),
        inactive_shards: Vec::new(),
    })
    .into_response()
}

async fn public_key(State(log): State<Arc<Log>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        log.public_key().to_pem(),
    )
        .into_response()
}

// Handlers return early with a ready `Response` as the error: it is large, but built only on
// the error path and immediately returned, so boxing it would buy nothing.
/// Parses an integer query parameter that Rekor declares as int64 ≥ `min`.
#[allow(clippy::result_large_err)]
fn int_param(raw: Option<&str>, name: &str, min: i64) -> Result<Option<u64>, Response> {
    let Some(raw) = raw else { return Ok(None) };
    let v: i64 = raw.parse().map_err(|_| {
        error(
            StatusCode::BAD_REQUEST,
            format!("{name} must be an integer, got `{raw}`"),
        )
    })?;
    if v < min {
        return Err(error(
            StatusCode::BAD_REQUEST,
            format!("{name} must be at least {min}, got {v}"),
        ));
    }
    Ok(Some(v as u64))
}

#[derive(Debug, Deserialize)]
struct ProofQuery {
    #[serde(rename = "firstSize")]
    first_size: Option<String>,
    #[serde(rename = "lastSize")]
    last_size: Option<String>,
    #[serde(rename = "treeID")]
    tree_id: Option<String>,
}

async fn consistency(State(log): State<Arc<Log>>, Query(q): Query<ProofQuery>) -> Response {
    let first = match int_param(q.first_size.as_deref(), "firstSize", 1) {
        Ok(v) => v.unwrap_or(1),
        Err(r) => return r,
    };
    let last = match int_param(q.last_size.as_deref(), "lastSize", 1) {
        Ok(Some(v)) => v,
        Ok(None) => return error(StatusCode::BAD_REQUEST, "lastSize is required"),
        Err(r) => return r,
    };
    if let Some(t) = q.tree_id.as_deref() {
        if t != log.tree_id().to_string() {
            return error(StatusCode::BAD_REQUEST, format!("unknown treeID `{t}`"));
        }
    }
    if first > last {
        return error(
            StatusCode::BAD_REQUEST,
            format!("firstSize({first}) must be less than or equal to lastSize({last})"),
        );
    }
    let head = log.head();
    if last > head.size {
        return error(
            StatusCode::BAD_REQUEST,
            format!(
                "lastSize({last}) is larger than the tree size ({})",
                head.size
            ),
        );
    }
    let result = if last == head.size {
        let nodes = head.nodes(log.store().as_ref());
        merkle::consistency_proof(&nodes, first, last).map(|p| (head.root, p))
    } else {
        let nodes = Nodes(log.store().as_ref());
        merkle::root(&nodes, last)
            .and_then(|root| Ok((root, merkle::consistency_proof(&nodes, first, last)?)))
    };
    match result {
        Ok((root, hashes)) => Json(ConsistencyProof {
            root_hash: hex::encode(root),
            hashes: hashes.iter().map(hex::encode).collect(),
        })
        .into_response(),
        Err(e) => internal(e),
    }
}

fn entries_response(log: &Log, index: u64, status: StatusCode) -> Response {
    let head = log.head();
    if index >= head.size {
        return error(StatusCode::NOT_FOUND, format!("entry {index} not found"));
    }
    match log.shared.entry(index, &head) {
        Ok((uuid, entry)) => {
            let mut headers = HeaderMap::new();
            if let Ok(v) = HeaderValue::from_str(&uuid) {
                headers.insert(header::ETAG, v);
            }
            if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/log/entries/{uuid}")) {
                headers.insert(header::LOCATION, v);
            }
            let mut map = LogEntries::new();
            map.insert(uuid, entry);
            (status, headers, Json(map)).into_response()
        }
        Err(e) => internal(e),
    }
}

async fn create_entry(
    State(log): State<Arc<Log>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(e) => return body_error(e),
    };
    let max = log.shared.max_entry_size;
    // The common hashedrekord shape is read without building a JSON tree; everything else
    // (and every malformed request) goes through the general path and its errors.
    let accepted = match rekor::canonicalize_proposed_slice(&body) {
        Some(a) => a,
        None => match serde_json::from_slice::<Value>(&body) {
            Ok(proposed) => rekor::canonicalize_proposed(&proposed),
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("request body is not a JSON proposed entry: {e}"),
                )
            }
        },
    };
    let accepted = match accepted {
        Ok(a) => a,
        Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
    };
    if accepted.body.len() > max {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "entry is {} bytes, above the limit of {max}",
                accepted.body.len()
            ),
        );
    }
    let leaf = NewLeaf {
        keys: accepted.index_keys.iter().map(|k| search_key(k)).collect(),
        data: accepted.body,
    };
    match log.submit(leaf).await {
        Ok(a) => {
            let resp = log.shared.entry_from(&a.info, &a.data, &a.head);
            match resp {
                Ok((uuid, entry)) => {
                    let mut map = LogEntries::new();
                    map.insert(uuid.clone(), entry);
                    let mut headers = HeaderMap::new();
                    if let Ok(v) = HeaderValue::from_str(&uuid) {
                        headers.insert(header::ETAG, v);
                    }
                    if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/log/entries/{uuid}")) {
                        headers.insert(header::LOCATION, v);
                    }
                    (StatusCode::CREATED, headers, Json(map)).into_response()
                }
                Err(e) => internal(e),
            }
        }
        Err(AppendError::Duplicate(i)) => {
            let uuid = match log.store().leaf_info(i) {
                Ok(info) => rekor::entry_uuid(log.tree_id(), &info.leaf_hash),
                Err(e) => return internal(e),
            };
            let mut r = error(
                StatusCode::CONFLICT,
                format!(
                    "an equivalent entry already exists in the transparency log with UUID {uuid}"
                ),
            );
            if let Ok(v) = HeaderValue::from_str(&format!("/api/v1/log/entries/{uuid}")) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            r
        }
        Err(AppendError::Failed(e)) => internal(e),
    }
}

#[derive(Debug, Deserialize)]
struct IndexQuery {
    #[serde(rename = "logIndex")]
    log_index: Option<String>,
}

async fn entry_by_index(State(log): State<Arc<Log>>, Query(q): Query<IndexQuery>) -> Response {
    match int_param(q.log_index.as_deref(), "logIndex", 0) {
        Ok(Some(i)) => entries_response(&log, i, StatusCode::OK),
        Ok(None) => error(StatusCode::BAD_REQUEST, "logIndex is required"),
        Err(r) => r,
    }
}

#[allow(clippy::result_large_err)]
fn find_uuid(log: &Log, uuid: &str) -> Result<Option<u64>, Response> {
    let Some(leaf) = rekor::uuid_leaf_hash(uuid) else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            format!("`{uuid}` is not an entry UUID (64 or 80 hex digits)"),
        ));
    };
    if uuid.len() == 80 && uuid.get(..16) != Some(format!("{:016x}", log.tree_id()).as_str()) {
        return Ok(None);
    }
    match log.store().find_leaf(&leaf) {
        Ok(Some(i)) if i < log.head().size => Ok(Some(i)),
        Ok(_) => Ok(None),
        Err(e) => Err(internal(e)),
    }
}

async fn entry_by_uuid(State(log): State<Arc<Log>>, Path(uuid): Path<String>) -> Response {
    match find_uuid(&log, &uuid) {
        Ok(Some(i)) => entries_response(&log, i, StatusCode::OK),
        Ok(None) => error(StatusCode::NOT_FOUND, format!("entry {uuid} not found")),
        Err(r) => r,
    }
}

#[derive(Debug, Deserialize)]
struct RetrieveRequest {
    #[serde(rename = "entryUUIDs", default)]
    entry_uuids: Vec<String>,
    #[serde(rename = "logIndexes", default)]
    log_indexes: Vec<i64>,
    #[serde(default)]
    entries: Vec<Value>,
}

async fn retrieve(State(log): State<Arc<Log>>, body: Result<Bytes, BytesRejection>) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(e) => return body_error(e),
    };
    let req: RetrieveRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("malformed request: {e}")),
    };
    if req.entry_uuids.len() > MAX_RETRIEVE
        || req.log_indexes.len() > MAX_RETRIEVE
        || req.entries.len() > MAX_RETRIEVE
    {
        return error(
            StatusCode::BAD_REQUEST,
            format!("at most {MAX_RETRIEVE} entryUUIDs, logIndexes and entries per request"),
        );
    }
    let mut indexes = Vec::new();
    for u in &req.entry_uuids {
        match find_uuid(&log, u) {
            Ok(Some(i)) => indexes.push(i),
            Ok(None) => {}
            Err(r) => return r,
        }
    }
    for i in &req.log_indexes {
        if *i < 0 {
            return error(StatusCode::BAD_REQUEST, format!("negative logIndex {i}"));
        }
        indexes.push(*i as u64);
    }
    for e in &req.entries {
        match rekor::canonicalize_proposed(e) {
            Ok(a) => match log.store().find_leaf(&merkle::leaf_hash(&a.body)) {
                Ok(Some(i)) => indexes.push(i),
                Ok(None) => {}
                Err(e) => return internal(e),
            },
            Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
        }
    }
    let head = log.head();
    let mut out = Vec::new();
    for i in indexes {
        if i >= head.size {
            continue;
        }
        match log.shared.entry(i, &head) {
            Ok((uuid, entry)) => {
                let mut m = LogEntries::new();
                m.insert(uuid, entry);
                out.push(m);
            }
            Err(e) => return internal(e),
        }
    }
    Json(out).into_response()
}

#[derive(Debug, Deserialize)]
struct SearchRequest {
    hash: Option<String>,
    email: Option<String>,
    subject: Option<String>,
    #[serde(rename = "publicKey")]
    public_key: Option<SearchKey>,
    operator: Option<String>,
}

#[derive(Debug, Deserialize)]
struct SearchKey {
    format: Option<String>,
    content: Option<String>,
}

/// `POST /api/v1/index/retrieve`: Rekor's (deprecated, still served) search.
async fn search_index(
    State(log): State<Arc<Log>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(e) => return body_error(e),
    };
    let req: SearchRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("malformed request: {e}")),
    };
    let and = match req.operator.as_deref() {
        None | Some("or") => false,
        Some("and") => true,
        Some(o) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("operator must be `and` or `or`, got `{o}`"),
            )
        }
    };
    // Each criterion is a set of alternative keys; the result per criterion is their union.
    let mut criteria: Vec<Vec<String>> = Vec::new();
    if let Some(h) = &req.hash {
        let h = h.to_ascii_lowercase();
        let key = if h.contains(':') {
            h
        } else {
            format!("sha256:{h}")
        };
        criteria.push(vec![key]);
    }
    if let Some(e) = &req.email {
        criteria.push(vec![e.to_ascii_lowercase()]);
    }
    if let Some(s) = &req.subject {
        criteria.push(vec![s.to_ascii_lowercase()]);
    }
    if let Some(pk) = &req.public_key {
        match pk.format.as_deref() {
            Some("x509") | None => {}
            Some(f) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("unsupported publicKey format `{f}` (only x509)"),
                )
            }
        }
        let Some(content) = pk.content.as_deref() else {
            return error(StatusCode::BAD_REQUEST, "publicKey.content is required");
        };
        let pem = match B64.decode(content) {
            Ok(p) => p,
            Err(_) => return error(StatusCode::BAD_REQUEST, "publicKey.content is not base64"),
        };
        match rekor::canonical_verifier_pem(&pem) {
            Ok(c) => {
                let h = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(c.as_bytes()));
                criteria.push(vec![h.clone(), format!("sha256:{h}")]);
            }
            Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
        }
    }
    if criteria.is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "at least one of hash, email, subject or publicKey is required",
        );
    }
    let mut result: Option<BTreeSet<u64>> = None;
    for alternatives in criteria {
        let mut found = BTreeSet::new();
        for k in alternatives {
            match log.store().search(search_key(&k)) {
                Ok(v) => found.extend(v),
                Err(e) => return internal(e),
            }
        }
        result = Some(match result {
            None => found,
            Some(acc) if and => acc.intersection(&found).copied().collect(),
            Some(mut acc) => {
                acc.extend(found);
                acc
            }
        });
    }
    let size = log.head().size;
    let mut uuids = Vec::new();
    for i in result.unwrap_or_default() {
        if i >= size {
            continue;
        }
        match log.store().leaf_info(i) {
            Ok(info) => uuids.push(rekor::entry_uuid(log.tree_id(), &info.leaf_hash)),
            Err(e) => return internal(e),
        }
    }
    Json(uuids).into_response()
}
