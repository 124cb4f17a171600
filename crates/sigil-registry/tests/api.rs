//! In-process tests of the distribution-spec v1.1 API through `router(state)`: pull and push
//! (the conformance suite's first two categories) and manifest checks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use axum::http::{Method, StatusCode};
use sigil_core::{media_types, Digest};

mod common;
use common::*;

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

/// Blobs above the in-memory size are streamed in 1 MiB chunks from recycled buffers: every
/// byte must arrive in order, whole and from a range that starts and ends mid-chunk.
#[tokio::test]
async fn pull_large_blob_streamed_in_chunks() {
    let r = reg();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let data: Vec<u8> = (0..(5 << 20) + 12_345)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let d = r.push_blob("lab/big", &data).await;
    for _ in 0..2 {
        let g = r.get(&format!("/v2/lab/big/blobs/{d}")).await;
        assert_eq!(g.status, StatusCode::OK);
        assert_eq!(g.body.len(), data.len());
        assert!(g.body == data, "streamed blob differs from what was pushed");
    }
    let (start, end) = ((1 << 20) - 7, (3 << 20) + 99);
    let p = r
        .send(
            Method::GET,
            &format!("/v2/lab/big/blobs/{d}"),
            &[("range", &format!("bytes={start}-{end}"))],
            vec![],
        )
        .await;
    assert_eq!(p.status, StatusCode::PARTIAL_CONTENT);
    assert!(p.body == data[start..=end], "ranged read differs");
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
