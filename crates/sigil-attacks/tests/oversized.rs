//! Oversized inputs: manifests at the registry, log entries at the transparency log,
//! in-toto predicates and DSSE envelopes. Each is refused with a size error before it is
//! parsed or stored, and the service keeps serving. (Admission reviews: `admission.rs`.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use serde_json::{json, Value};
use sigil_core::intoto::{self, IntotoError, Statement, MAX_PREDICATE_SIZE};
use sigil_core::{Digest, ImageRef};
use tower::ServiceExt as _;

async fn call(
    app: &axum::Router,
    method: &str,
    uri: &str,
    ct: &str,
    body: Vec<u8>,
) -> (u16, String) {
    let req = axum::http::Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", ct)
        .body(axum::body::Body::from(body))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

/// A manifest past the 4 MiB the OCI distribution spec asks registries to accept
/// (distribution refuses them the same way): 413/400 with nothing stored; a normal-size PUT
/// afterwards is still answered.
#[tokio::test]
async fn oversized_manifest_at_the_registry() {
    let dir = tempfile::tempdir().unwrap();
    let storage = sigil_registry::FsStorage::open(dir.path(), Default::default()).unwrap();
    let app = sigil_registry::router(sigil_registry::AppState::new(Arc::new(storage)));
    let mut m = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": Digest::sha256(b"{}").to_string(), "size": 2},
        "layers": [],
    });
    m["annotations"] = json!({"pad": "x".repeat(5 << 20)});
    let ct = "application/vnd.oci.image.manifest.v1+json";
    let (status, body) = call(
        &app,
        "PUT",
        "/v2/a/b/manifests/big",
        ct,
        serde_json::to_vec(&m).unwrap(),
    )
    .await;
    assert!(status == 413 || status == 400, "{status} {body}");
    let (status, _) = call(&app, "GET", "/v2/a/b/manifests/big", ct, Vec::new()).await;
    assert_eq!(status, 404, "nothing was stored");
}

/// A Rekor entry larger than the log's limit (128 KiB by default, as Rekor's
/// `--max_request_body_size` guards its own): 413 with the limit named, the tree unchanged.
#[tokio::test]
async fn oversized_log_entry() {
    let dir = tempfile::tempdir().unwrap();
    let log =
        Arc::new(sigil_tlog::Log::open(dir.path(), sigil_tlog::LogConfig::default()).unwrap());
    let app = sigil_tlog::router(log);
    let sig = "A".repeat(200 << 10);
    let proposed = json!({
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "signature": {"content": sig, "publicKey": {"content": "AAAA"}},
            "data": {"hash": {"algorithm": "sha256", "value": "0".repeat(64)}},
        },
    });
    let (status, body) = call(
        &app,
        "POST",
        "/api/v1/log/entries",
        "application/json",
        serde_json::to_vec(&proposed).unwrap(),
    )
    .await;
    assert!(status == 413 || status == 400, "{status} {body}");
    let (status, info) = call(&app, "GET", "/api/v1/log", "application/json", Vec::new()).await;
    assert_eq!(status, 200);
    let info: Value = serde_json::from_str(&info).unwrap();
    assert_eq!(info["treeSize"], 0, "{info}");
}

/// A predicate past 32 MiB (`sigil attest --predicate`), and an envelope that would decode to
/// one (an `.att` layer or bundle from a registry): refused by size before JSON parsing.
#[test]
fn oversized_predicate_and_envelope() {
    let image: ImageRef = "ghcr.io/u/app".parse().unwrap();
    let big = vec![b' '; MAX_PREDICATE_SIZE + 1];
    let err = Statement::for_image(
        &image,
        &Digest::sha256(b"m"),
        "custom",
        &big,
        "2024-01-01T00:00:00Z",
    )
    .unwrap_err();
    assert!(matches!(err, IntotoError::TooLarge { .. }), "{err}");
    let envelope = vec![b' '; MAX_PREDICATE_SIZE / 3 * 4 + (64 << 10) + 1];
    let err = intoto::parse_envelope(&envelope).unwrap_err();
    assert!(matches!(err, IntotoError::TooLarge { .. }), "{err}");
}
