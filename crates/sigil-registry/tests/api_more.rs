//! In-process tests of the distribution-spec v1.1 API through `router(state)`: content
//! discovery and management (the conformance suite's last two categories), referrers, limits,
//! concurrency, restarts and metrics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use sigil_core::{media_types, Digest};
use sigil_registry::{router, AppState, FsStorage, Storage, StorageLimits};

mod common;
use common::*;

#[tokio::test]
async fn index_children_must_exist() {
    let r = reg();
    let (child, m) = push_image(&r, "multi", "amd64", b"l1").await;
    let index = |d: &Digest| {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","manifests":[{{"mediaType":"{}","digest":"{d}","size":{},"platform":{{"architecture":"amd64","os":"linux"}}}}]}}"#,
            media_types::OCI_INDEX,
            media_types::OCI_MANIFEST,
            m.len()
        )
    };
    let missing = Digest::sha256(b"absent child");
    let resp = r
        .put_manifest(
            "multi",
            "latest",
            media_types::OCI_INDEX,
            index(&missing).as_bytes(),
        )
        .await;
    assert_eq!(resp.error_code(), "MANIFEST_BLOB_UNKNOWN");
    let resp = r
        .put_manifest(
            "multi",
            "latest",
            media_types::OCI_INDEX,
            index(&child).as_bytes(),
        )
        .await;
    assert_eq!(resp.status, StatusCode::CREATED);
    let g = r.get("/v2/multi/manifests/latest").await;
    assert_eq!(g.header("content-type"), media_types::OCI_INDEX);
}

#[tokio::test]
async fn referrers_with_subject_and_filter() {
    let r = reg();
    let (subject, m) = push_image(&r, "app", "v1", b"base").await;
    let empty = r.push_blob("app", b"{}").await;
    let mut digests = Vec::new();
    for (kind, blob) in [
        ("application/vnd.example.sbom", &b"sbom"[..]),
        ("application/vnd.example.sig", &b"sig"[..]),
    ] {
        let l = r.push_blob("app", blob).await;
        let art = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","artifactType":"{kind}","config":{{"mediaType":"{}","digest":"{empty}","size":2}},"layers":[{{"mediaType":"application/octet-stream","digest":"{l}","size":{}}}],"subject":{{"mediaType":"{}","digest":"{subject}","size":{}}},"annotations":{{"k":"v"}}}}"#,
            media_types::OCI_MANIFEST,
            media_types::OCI_EMPTY,
            blob.len(),
            media_types::OCI_MANIFEST,
            m.len()
        );
        let ad = Digest::sha256(art.as_bytes());
        let resp = r
            .put_manifest(
                "app",
                &ad.to_string(),
                media_types::OCI_MANIFEST,
                art.as_bytes(),
            )
            .await;
        assert_eq!(resp.status, StatusCode::CREATED);
        assert_eq!(resp.header("oci-subject"), subject.to_string());
        digests.push(ad);
    }
    let all = r.get(&format!("/v2/app/referrers/{subject}")).await;
    assert_eq!(all.status, StatusCode::OK);
    assert_eq!(all.header("content-type"), media_types::OCI_INDEX);
    let v: serde_json::Value = serde_json::from_slice(&all.body).unwrap();
    assert_eq!(v["manifests"].as_array().unwrap().len(), 2);
    assert_eq!(v["manifests"][0]["annotations"]["k"], "v");
    let filtered = r
        .get(&format!(
            "/v2/app/referrers/{subject}?artifactType=application/vnd.example.sbom"
        ))
        .await;
    assert_eq!(filtered.header("oci-filters-applied"), "artifactType");
    let v: serde_json::Value = serde_json::from_slice(&filtered.body).unwrap();
    assert_eq!(v["manifests"].as_array().unwrap().len(), 1);
    assert_eq!(
        v["manifests"][0]["artifactType"],
        "application/vnd.example.sbom"
    );
    assert_eq!(v["manifests"][0]["digest"], digests[0].to_string());
    // Deleting a referrer removes it from the list.
    let del = r
        .send(
            Method::DELETE,
            &format!("/v2/app/manifests/{}", digests[1]),
            &[],
            vec![],
        )
        .await;
    assert_eq!(del.status, StatusCode::ACCEPTED);
    let v: serde_json::Value =
        serde_json::from_slice(&r.get(&format!("/v2/app/referrers/{subject}")).await.body).unwrap();
    assert_eq!(v["manifests"].as_array().unwrap().len(), 1);
    // No referrers: an empty index, not a 404.
    let none = r
        .get(&format!("/v2/app/referrers/{}", Digest::sha256(b"z")))
        .await;
    assert_eq!(none.status, StatusCode::OK);
}

#[tokio::test]
async fn tags_and_catalog_paginate() {
    let r = reg();
    for t in ["c", "a", "b", "d"] {
        push_image(&r, "x/y", t, b"l").await;
    }
    push_image(&r, "z", "v", b"l").await;
    let all: serde_json::Value =
        serde_json::from_slice(&r.get("/v2/x/y/tags/list").await.body).unwrap();
    assert_eq!(all["tags"], serde_json::json!(["a", "b", "c", "d"]));
    assert_eq!(all["name"], "x/y");
    let p1 = r.get("/v2/x/y/tags/list?n=2").await;
    assert_eq!(
        p1.header("link"),
        "</v2/x/y/tags/list?n=2&last=b>; rel=\"next\""
    );
    let v: serde_json::Value = serde_json::from_slice(&p1.body).unwrap();
    assert_eq!(v["tags"], serde_json::json!(["a", "b"]));
    let p2 = r.get("/v2/x/y/tags/list?n=2&last=b").await;
    assert!(p2.headers.get("link").is_none());
    let v: serde_json::Value = serde_json::from_slice(&p2.body).unwrap();
    assert_eq!(v["tags"], serde_json::json!(["c", "d"]));
    let unknown = r.get("/v2/nope/tags/list").await;
    assert_eq!(unknown.error_code(), "NAME_UNKNOWN");
    let cat: serde_json::Value = serde_json::from_slice(&r.get("/v2/_catalog").await.body).unwrap();
    assert_eq!(cat["repositories"], serde_json::json!(["x/y", "z"]));
    let c1 = r.get("/v2/_catalog?n=1").await;
    assert!(c1.header("link").contains("last=x%2Fy"));
}

#[tokio::test]
async fn content_management_deletes() {
    let r = reg();
    let (d, _) = push_image(&r, "a", "v1", b"layer").await;
    r.put_manifest(
        "a",
        "v2",
        media_types::OCI_MANIFEST,
        &r.get("/v2/a/manifests/v1").await.body,
    )
    .await;
    // Delete a tag: the manifest and the other tag stay.
    assert_eq!(
        r.send(Method::DELETE, "/v2/a/manifests/v1", &[], vec![])
            .await
            .status,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        r.get("/v2/a/manifests/v1").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        r.get(&format!("/v2/a/manifests/{d}")).await.status,
        StatusCode::OK
    );
    // Delete the manifest: its tags go too.
    assert_eq!(
        r.send(Method::DELETE, &format!("/v2/a/manifests/{d}"), &[], vec![])
            .await
            .status,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        r.get(&format!("/v2/a/manifests/{d}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        r.get("/v2/a/manifests/v2").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        r.send(Method::DELETE, &format!("/v2/a/manifests/{d}"), &[], vec![])
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let l = Digest::sha256(b"layer");
    assert_eq!(
        r.send(Method::DELETE, &format!("/v2/a/blobs/{l}"), &[], vec![])
            .await
            .status,
        StatusCode::ACCEPTED
    );
    assert_eq!(
        r.get(&format!("/v2/a/blobs/{l}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        r.send(Method::DELETE, &format!("/v2/a/blobs/{l}"), &[], vec![])
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // Cancel an upload.
    let s = r
        .send(Method::POST, "/v2/a/blobs/uploads/", &[], vec![])
        .await;
    let loc = s.header("location").to_owned();
    assert_eq!(
        r.send(Method::DELETE, &loc, &[], vec![]).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(r.get(&loc).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn open_sessions_are_limited() {
    let r = reg_with(StorageLimits {
        max_blob_size: 10,
        max_uploads: 2,
    });
    for _ in 0..2 {
        assert_eq!(
            r.send(Method::POST, "/v2/a/blobs/uploads/", &[], vec![])
                .await
                .status,
            StatusCode::ACCEPTED
        );
    }
    let third = r
        .send(Method::POST, "/v2/a/blobs/uploads/", &[], vec![])
        .await;
    assert_eq!(third.status, StatusCode::TOO_MANY_REQUESTS);
    let d = Digest::sha256(&[0u8; 11]);
    let r2 = reg_with(StorageLimits {
        max_blob_size: 10,
        max_uploads: 2,
    });
    let big = r2
        .send(
            Method::POST,
            &format!("/v2/a/blobs/uploads/?digest={d}"),
            &[],
            vec![0u8; 11],
        )
        .await;
    assert_eq!(big.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn concurrent_pushes_of_the_same_blob() {
    let r = Arc::new(reg());
    let data: Vec<u8> = (0..500_000u32).map(|i| (i % 251) as u8).collect();
    let d = Digest::sha256(&data);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let r = r.clone();
        let data = data.clone();
        tasks.push(tokio::spawn(async move {
            let s = r
                .send(Method::POST, "/v2/a/blobs/uploads/", &[], vec![])
                .await;
            let loc = s.header("location").to_owned();
            let (a, b) = data.split_at(200_000);
            r.send(Method::PATCH, &loc, &[], a.to_vec()).await;
            r.send(Method::PATCH, &loc, &[], b.to_vec()).await;
            let d = Digest::sha256(&data);
            r.send(Method::PUT, &format!("{loc}?digest={d}"), &[], vec![])
                .await
                .status
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::CREATED);
    }
    let g = r.get(&format!("/v2/a/blobs/{d}")).await;
    assert_eq!(g.body, data);
}

#[tokio::test]
async fn sessions_survive_a_restart_and_stale_ones_expire() {
    let dir = tempfile::tempdir().unwrap();
    let loc;
    {
        let s = Arc::new(FsStorage::open(dir.path(), StorageLimits::default()).unwrap());
        let r = Reg {
            app: router(AppState::new(s)),
            _dir: tempfile::tempdir().unwrap(),
        };
        loc = r
            .send(Method::POST, "/v2/a/blobs/uploads/", &[], vec![])
            .await
            .header("location")
            .to_owned();
        r.send(Method::PATCH, &loc, &[], b"first half, ".to_vec())
            .await;
    }
    // A new process on the same root resumes the session where it stopped.
    let s = Arc::new(FsStorage::open(dir.path(), StorageLimits::default()).unwrap());
    let r = Reg {
        app: router(AppState::new(s.clone())),
        _dir: tempfile::tempdir().unwrap(),
    };
    let st = r.get(&loc).await;
    assert_eq!(st.header("range"), "0-11");
    let c = r
        .send(
            Method::PATCH,
            &loc,
            &[("content-range", "12-22")],
            b"second half".to_vec(),
        )
        .await;
    assert_eq!(c.status, StatusCode::ACCEPTED);
    let d = Digest::sha256(b"first half, second half");
    assert_eq!(
        r.send(Method::PUT, &format!("{loc}?digest={d}"), &[], vec![])
            .await
            .status,
        StatusCode::CREATED
    );
    // Expiry.
    let idle = r
        .send(Method::POST, "/v2/a/blobs/uploads/", &[], vec![])
        .await
        .header("location")
        .to_owned();
    assert_eq!(
        s.expire_uploads(Duration::from_secs(3600)).await.unwrap(),
        0
    );
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(s.expire_uploads(Duration::from_millis(1)).await.unwrap(), 1);
    assert_eq!(r.get(&idle).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn metrics_count_requests() {
    let r = reg();
    r.get("/v2/").await;
    r.get("/v2/a/manifests/missing").await;
    let m = r.get("/metrics").await;
    let text = String::from_utf8(m.body).unwrap();
    assert!(
        text.contains(
            "sigil_registry_requests_total{method=\"GET\",route=\"manifest\",status=\"404\"} 1"
        ),
        "{text}"
    );
    assert!(text.contains(
        "sigil_registry_request_duration_seconds_count{method=\"GET\",route=\"base\"} 1"
    ));
}
