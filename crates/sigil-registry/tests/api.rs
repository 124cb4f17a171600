//! In-process tests of the distribution-spec v1.1 API through `router(state)`, one per
//! behaviour of the conformance suite's four categories (pull, push, content discovery,
//! content management) plus the registry's own integrity rules.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use sigil_core::{media_types, Digest};
use sigil_registry::{router, AppState, FsStorage, Storage, StorageLimits};
use tower::ServiceExt;

struct Reg {
    app: Router,
    _dir: tempfile::TempDir,
}

struct Resp {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or_else(|| panic!("no {name} header in {:?}", self.headers))
    }

    fn error_code(&self) -> String {
        let v: serde_json::Value = serde_json::from_slice(&self.body).unwrap();
        v["errors"][0]["code"].as_str().unwrap().to_owned()
    }
}

fn reg_with(limits: StorageLimits) -> Reg {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(FsStorage::open(dir.path(), limits).unwrap());
    Reg {
        app: router(AppState::new(storage)),
        _dir: dir,
    }
}

fn reg() -> Reg {
    reg_with(StorageLimits::default())
}

impl Reg {
    async fn send(
        &self,
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Resp {
        let mut req = Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = self
            .app
            .clone()
            .oneshot(req.body(Body::from(body)).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        Resp {
            status,
            headers,
            body,
        }
    }

    async fn get(&self, uri: &str) -> Resp {
        self.send(Method::GET, uri, &[], Vec::new()).await
    }

    async fn push_blob(&self, repo: &str, data: &[u8]) -> Digest {
        let d = Digest::sha256(data);
        let r = self
            .send(
                Method::POST,
                &format!("/v2/{repo}/blobs/uploads/?digest={d}"),
                &[("content-type", "application/octet-stream")],
                data.to_vec(),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::CREATED,
            "{}",
            String::from_utf8_lossy(&r.body)
        );
        assert_eq!(r.header("location"), format!("/v2/{repo}/blobs/{d}"));
        d
    }

    async fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        body: &[u8],
    ) -> Resp {
        self.send(
            Method::PUT,
            &format!("/v2/{repo}/manifests/{reference}"),
            &[("content-type", media_type)],
            body.to_vec(),
        )
        .await
    }
}

fn image_manifest(config: &Digest, layers: &[(&Digest, usize)], extra: &str) -> Vec<u8> {
    let layers: Vec<String> = layers
        .iter()
        .map(|(d, n)| {
            format!(
                r#"{{"mediaType":"{}","digest":"{d}","size":{n}}}"#,
                media_types::OCI_LAYER
            )
        })
        .collect();
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"{}","digest":"{config}","size":2}},"layers":[{}]{extra}}}"#,
        media_types::OCI_MANIFEST,
        media_types::OCI_CONFIG,
        layers.join(",")
    )
    .into_bytes()
}

/// Pushes a config `{}` and one layer, then a manifest tagged `tag`; returns its digest.
async fn push_image(r: &Reg, repo: &str, tag: &str, layer: &[u8]) -> (Digest, Vec<u8>) {
    let c = r.push_blob(repo, b"{}").await;
    let l = r.push_blob(repo, layer).await;
    let m = image_manifest(&c, &[(&l, layer.len())], "");
    let resp = r
        .put_manifest(repo, tag, media_types::OCI_MANIFEST, &m)
        .await;
    assert_eq!(
        resp.status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&resp.body)
    );
    (Digest::sha256(&m), m)
}

#[tokio::test]
async fn base_endpoint_answers_with_the_api_version() {
    let r = reg();
    let resp = r.get("/v2/").await;
    assert_eq!(resp.status, StatusCode::OK);
    assert_eq!(
        resp.header("docker-distribution-api-version"),
        "registry/2.0"
    );
    assert_eq!(resp.body, b"{}");
}

#[tokio::test]
async fn pull_blob_whole_head_and_ranges() {
    let r = reg();
    let data: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
    let d = r.push_blob("lab/app", &data).await;
    let g = r.get(&format!("/v2/lab/app/blobs/{d}")).await;
    assert_eq!(g.status, StatusCode::OK);
    assert_eq!(g.body, data);
    assert_eq!(g.header("docker-content-digest"), d.to_string());
    let h = r
        .send(Method::HEAD, &format!("/v2/lab/app/blobs/{d}"), &[], vec![])
        .await;
    assert_eq!(h.status, StatusCode::OK);
    assert_eq!(h.header("content-length"), "1000");
    assert!(h.body.is_empty());
    let p = r
        .send(
            Method::GET,
            &format!("/v2/lab/app/blobs/{d}"),
            &[("range", "bytes=10-19")],
            vec![],
        )
        .await;
    assert_eq!(p.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(p.body, &data[10..20]);
    assert_eq!(p.header("content-range"), "bytes 10-19/1000");
    let bad = r
        .send(
            Method::GET,
            &format!("/v2/lab/app/blobs/{d}"),
            &[("range", "bytes=1000-")],
            vec![],
        )
        .await;
    assert_eq!(bad.status, StatusCode::RANGE_NOT_SATISFIABLE);
    // Blobs are scoped to repositories.
    let other = r.get(&format!("/v2/lab/other/blobs/{d}")).await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    assert_eq!(other.error_code(), "BLOB_UNKNOWN");
    let bad_digest = r.get("/v2/lab/app/blobs/sha256:abc").await;
    assert_eq!(bad_digest.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad_digest.error_code(), "DIGEST_INVALID");
}

#[tokio::test]
async fn large_blobs_stream_from_disk() {
    let r = reg();
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7) as u8).collect();
    let d = r.push_blob("big", &data).await;
    let g = r.get(&format!("/v2/big/blobs/{d}")).await;
    assert_eq!(g.body.len(), data.len());
    assert!(d.matches(&g.body));
    let p = r
        .send(
            Method::GET,
            &format!("/v2/big/blobs/{d}"),
            &[("range", "bytes=1000000-")],
            vec![],
        )
        .await;
    assert_eq!(p.body, &data[1_000_000..]);
}

#[tokio::test]
async fn post_then_put_monolithic_upload() {
    let r = reg();
    let start = r
        .send(Method::POST, "/v2/a/blobs/uploads/", &[], vec![])
        .await;
    assert_eq!(start.status, StatusCode::ACCEPTED);
    let loc = start.header("location").to_owned();
    assert!(loc.starts_with("/v2/a/blobs/uploads/"));
    assert_eq!(start.header("range"), "0-0");
    let d = Digest::sha256(b"hello");
    let put = r
        .send(
            Method::PUT,
            &format!("{loc}?digest={d}"),
            &[],
            b"hello".to_vec(),
        )
        .await;
    assert_eq!(put.status, StatusCode::CREATED);
    assert_eq!(put.header("docker-content-digest"), d.to_string());
    assert_eq!(r.get(&format!("/v2/a/blobs/{d}")).await.body, b"hello");
    // The session is gone once closed.
    assert_eq!(r.get(&loc).await.status, StatusCode::NOT_FOUND);
    assert_eq!(r.get(&loc).await.error_code(), "BLOB_UPLOAD_UNKNOWN");
}

#[tokio::test]
async fn chunked_upload_checks_ranges() {
    let r = reg();
    let start = r
        .send(Method::POST, "/v2/a/blobs/uploads/", &[], vec![])
        .await;
    let loc = start.header("location").to_owned();
    let c1 = r
        .send(
            Method::PATCH,
            &loc,
            &[("content-range", "0-4"), ("content-length", "5")],
            b"hello".to_vec(),
        )
        .await;
    assert_eq!(c1.status, StatusCode::ACCEPTED);
    assert_eq!(c1.header("range"), "0-4");
    // A gap: the next chunk must start at 5.
    let gap = r
        .send(
            Method::PATCH,
            &loc,
            &[("content-range", "7-9"), ("content-length", "3")],
            b"xyz".to_vec(),
        )
        .await;
    assert_eq!(gap.status, StatusCode::RANGE_NOT_SATISFIABLE);
    let st = r.get(&loc).await;
    assert_eq!(st.status, StatusCode::NO_CONTENT);
    assert_eq!(st.header("range"), "0-4");
    let c2 = r
        .send(
            Method::PATCH,
            &loc,
            &[("content-range", "5-10"), ("content-length", "6")],
            b" world".to_vec(),
        )
        .await;
    assert_eq!(c2.header("range"), "0-10");
    // Streamed chunk without Content-Range.
    let c3 = r.send(Method::PATCH, &loc, &[], b"!".to_vec()).await;
    assert_eq!(c3.header("range"), "0-11");
    let d = Digest::sha256(b"hello world!");
    let put = r
        .send(Method::PUT, &format!("{loc}?digest={d}"), &[], vec![])
        .await;
    assert_eq!(put.status, StatusCode::CREATED);
    assert_eq!(
        r.get(&format!("/v2/a/blobs/{d}")).await.body,
        b"hello world!"
    );
}

#[tokio::test]
async fn digest_mismatch_is_rejected_and_nothing_is_stored() {
    let r = reg();
    let wrong = Digest::sha256(b"other");
    let resp = r
        .send(
            Method::POST,
            &format!("/v2/a/blobs/uploads/?digest={wrong}"),
            &[],
            b"data".to_vec(),
        )
        .await;
    assert_eq!(resp.status, StatusCode::BAD_REQUEST);
    assert_eq!(resp.error_code(), "DIGEST_INVALID");
    assert_eq!(
        r.get(&format!("/v2/a/blobs/{wrong}")).await.status,
        StatusCode::NOT_FOUND
    );
    let right = Digest::sha256(b"data");
    assert_eq!(
        r.get(&format!("/v2/a/blobs/{right}")).await.status,
        StatusCode::NOT_FOUND
    );
    let no_digest = r
        .send(Method::POST, "/v2/a/blobs/uploads/", &[], vec![])
        .await;
    let loc = no_digest.header("location").to_owned();
    let put = r.send(Method::PUT, &loc, &[], b"x".to_vec()).await;
    assert_eq!(put.error_code(), "DIGEST_INVALID");
}

#[tokio::test]
async fn sha512_blobs_and_manifests() {
    let r = reg();
    let d = Digest::sha512(b"five twelve");
    let resp = r
        .send(
            Method::POST,
            &format!("/v2/a/blobs/uploads/?digest={d}"),
            &[],
            b"five twelve".to_vec(),
        )
        .await;
    assert_eq!(resp.status, StatusCode::CREATED);
    assert_eq!(
        r.get(&format!("/v2/a/blobs/{d}")).await.body,
        b"five twelve"
    );
    let c = r.push_blob("a", b"{}").await;
    let m = image_manifest(&c, &[(&d, 11)], "");
    let md = Digest::sha512(&m);
    let put = r
        .put_manifest("a", &md.to_string(), media_types::OCI_MANIFEST, &m)
        .await;
    assert_eq!(put.status, StatusCode::CREATED);
    assert_eq!(put.header("docker-content-digest"), md.to_string());
    assert_eq!(r.get(&format!("/v2/a/manifests/{md}")).await.body, m);
}

#[tokio::test]
async fn cross_repository_mount() {
    let r = reg();
    let d = r.push_blob("src", b"shared").await;
    let m = r
        .send(
            Method::POST,
            &format!("/v2/dst/blobs/uploads/?mount={d}&from=src"),
            &[],
            vec![],
        )
        .await;
    assert_eq!(m.status, StatusCode::CREATED);
    assert_eq!(m.header("location"), format!("/v2/dst/blobs/{d}"));
    assert_eq!(r.get(&format!("/v2/dst/blobs/{d}")).await.body, b"shared");
    // Not in `from`: a normal session instead.
    let other = Digest::sha256(b"nope");
    let f = r
        .send(
            Method::POST,
            &format!("/v2/dst/blobs/uploads/?mount={other}&from=src"),
            &[],
            vec![],
        )
        .await;
    assert_eq!(f.status, StatusCode::ACCEPTED);
    assert!(f.header("location").contains("/blobs/uploads/"));
}

#[tokio::test]
async fn manifests_by_tag_and_digest_with_negotiation() {
    let r = reg();
    let (d, m) = push_image(&r, "lab/app", "v1", b"layer").await;
    for reference in ["v1".to_string(), d.to_string()] {
        let g = r
            .send(
                Method::GET,
                &format!("/v2/lab/app/manifests/{reference}"),
                &[("accept", media_types::OCI_MANIFEST)],
                vec![],
            )
            .await;
        assert_eq!(g.status, StatusCode::OK);
        assert_eq!(g.body, m, "exact bytes are served");
        assert_eq!(g.header("content-type"), media_types::OCI_MANIFEST);
        assert_eq!(g.header("docker-content-digest"), d.to_string());
    }
    let h = r
        .send(Method::HEAD, "/v2/lab/app/manifests/v1", &[], vec![])
        .await;
    assert_eq!(h.status, StatusCode::OK);
    assert_eq!(h.header("content-length"), m.len().to_string());
    let docker_only = r
        .send(
            Method::GET,
            "/v2/lab/app/manifests/v1",
            &[("accept", media_types::DOCKER_MANIFEST)],
            vec![],
        )
        .await;
    assert_eq!(docker_only.status, StatusCode::NOT_FOUND);
    let missing = r.get("/v2/lab/app/manifests/v2").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.error_code(), "MANIFEST_UNKNOWN");
}

#[tokio::test]
async fn manifest_push_is_checked() {
    let r = reg();
    let c = r.push_blob("a", b"{}").await;
    let absent = Digest::sha256(b"never pushed");
    let m = image_manifest(&c, &[(&absent, 12)], "");
    let resp = r
        .put_manifest("a", "v1", media_types::OCI_MANIFEST, &m)
        .await;
    assert_eq!(resp.status, StatusCode::BAD_REQUEST);
    assert_eq!(resp.error_code(), "MANIFEST_BLOB_UNKNOWN");
    assert_eq!(
        r.get("/v2/a/manifests/v1").await.status,
        StatusCode::NOT_FOUND
    );
    let ok = image_manifest(&c, &[], "");
    let wrong = Digest::sha256(b"x");
    let resp = r
        .put_manifest("a", &wrong.to_string(), media_types::OCI_MANIFEST, &ok)
        .await;
    assert_eq!(resp.error_code(), "DIGEST_INVALID");
    let resp = r
        .put_manifest("a", "v1", media_types::OCI_MANIFEST, b"{not json")
        .await;
    assert_eq!(resp.error_code(), "MANIFEST_INVALID");
    let resp = r.put_manifest("a", "v1", media_types::OCI_INDEX, &ok).await;
    assert_eq!(
        resp.error_code(),
        "MANIFEST_INVALID",
        "Content-Type disagrees with mediaType"
    );
    let resp = r
        .put_manifest("a", "bad:tag!", media_types::OCI_MANIFEST, &ok)
        .await;
    assert_eq!(resp.status, StatusCode::BAD_REQUEST);
    let resp = r
        .put_manifest("A/B", "v1", media_types::OCI_MANIFEST, &ok)
        .await;
    assert_eq!(resp.error_code(), "NAME_INVALID");
    let big = vec![b' '; 5 << 20];
    let resp = r
        .put_manifest("a", "v1", media_types::OCI_MANIFEST, &big)
        .await;
    assert_eq!(resp.status, StatusCode::PAYLOAD_TOO_LARGE);
}

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
