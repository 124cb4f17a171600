//! Helpers shared by the in-process API tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use sigil_core::{media_types, Digest};
use sigil_registry::{router, AppState, FsStorage, StorageLimits};
use tower::ServiceExt;

pub struct Reg {
    pub app: Router,
    pub _dir: tempfile::TempDir,
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or_else(|| panic!("no {name} header in {:?}", self.headers))
    }

    pub fn error_code(&self) -> String {
        let v: serde_json::Value = serde_json::from_slice(&self.body).unwrap();
        v["errors"][0]["code"].as_str().unwrap().to_owned()
    }
}

pub fn reg_with(limits: StorageLimits) -> Reg {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(FsStorage::open(dir.path(), limits).unwrap());
    Reg {
        app: router(AppState::new(storage)),
        _dir: dir,
    }
}

pub fn reg() -> Reg {
    reg_with(StorageLimits::default())
}

impl Reg {
    pub async fn send(
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

    pub async fn get(&self, uri: &str) -> Resp {
        self.send(Method::GET, uri, &[], Vec::new()).await
    }

    pub async fn push_blob(&self, repo: &str, data: &[u8]) -> Digest {
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

    pub async fn put_manifest(
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

pub fn image_manifest(config: &Digest, layers: &[(&Digest, usize)], extra: &str) -> Vec<u8> {
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
pub async fn push_image(r: &Reg, repo: &str, tag: &str, layer: &[u8]) -> (Digest, Vec<u8>) {
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
