//! Manifest endpoints: pull by tag or digest with content negotiation (§ Pulling manifests),
//! push with blob checks and `OCI-Subject` (§ Pushing manifests), delete (§ Deleting tags,
//! § Deleting manifests).

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use http_body_util::BodyExt;
use sigil_core::{media_types, Algorithm, Digest};

use super::errors::ApiError;
use super::{empty, header_str, ApiResult, AppState};
use crate::manifest::{self, Invalid, ReferrerDescriptor};
use crate::name::{Reference, RepoName};
use crate::storage::NewManifest;

fn manifest_invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "MANIFEST_INVALID", message)
}

/// Whether an `Accept` header admits `media_type`. No header, or one naming no manifest type
/// at all (e.g. `*/*`), admits everything; otherwise the type must be listed. Distribution
/// answers 404 MANIFEST_UNKNOWN when it holds only a type the client did not ask for, and so
/// do we.
fn acceptable(accept: &[&str], media_type: &str) -> bool {
    // Walks the listed types without collecting them: this runs on every manifest GET.
    let listed = || {
        accept
            .iter()
            .flat_map(|h| h.split(','))
            .map(|t| t.split(';').next().unwrap_or("").trim())
            .filter(|t| !t.is_empty())
    };
    if listed().next().is_none() || listed().any(|t| t == "*/*" || t == media_type) {
        return true;
    }
    // A client that names no manifest type at all accepts what it gets.
    !listed().any(|t| t.contains("manifest") || t.contains("index"))
}

pub(super) async fn get(state: &AppState, repo: &RepoName, r: &str, req: &Parts) -> ApiResult {
    let Some(reference) = Reference::parse(r) else {
        if r.contains(':') {
            return Err(ApiError::digest_invalid(format!("invalid digest `{r}`")));
        }
        return Err(ApiError::manifest_unknown(r));
    };
    let Some(m) = state.storage.manifest_get(repo, &reference).await? else {
        return Err(ApiError::manifest_unknown(r));
    };
    let accept: Vec<&str> = req
        .headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if !acceptable(&accept, &m.media_type) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "MANIFEST_UNKNOWN",
            format!(
                "manifest is a `{}`, which the Accept header does not list",
                m.media_type
            ),
        ));
    }
    let len = m.content.len();
    let mut resp = if req.method == Method::HEAD {
        Response::new(Body::empty())
    } else {
        Response::new(Body::from(m.content))
    };
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&m.media_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    let digest = m.digest.to_string();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{digest}\"")) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::try_from(digest) {
        h.insert("docker-content-digest", v);
    }
    Ok(resp)
}

async fn read_limited(req: &Parts, body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "MANIFEST_INVALID",
            format!("manifest exceeds the limit of {limit} bytes"),
        )
    };
    if let Some(len) =
        header_str(&req.headers, header::CONTENT_LENGTH).and_then(|l| l.trim().parse::<u64>().ok())
    {
        if len > limit as u64 {
            return Err(too_large());
        }
    }
    match http_body_util::Limited::new(body, limit).collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Err(_) => Err(manifest_invalid("the request body could not be read")),
    }
}

pub(super) async fn put(
    state: &AppState,
    repo: &RepoName,
    r: &str,
    req: &Parts,
    body: Body,
) -> ApiResult {
    let reference = Reference::parse(r).ok_or_else(|| {
        if r.contains(':') {
            ApiError::digest_invalid(format!("invalid digest `{r}`"))
        } else {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "TAG_INVALID",
                format!("invalid tag `{r}`: tags match [a-zA-Z0-9_][a-zA-Z0-9._-]{{0,127}}"),
            )
        }
    })?;
    let content_type = header_str(&req.headers, header::CONTENT_TYPE).map(str::to_owned);
    let content = read_limited(req, body, state.limits.max_manifest_size).await?;
    let digest = match &reference {
        Reference::Digest(d) => {
            if !d.matches(&content) {
                return Err(
                    ApiError::digest_invalid("provided digest did not match the manifest").detail(
                        serde_json::json!({
                            "expected": d.to_string(),
                            "actual": Digest::compute(d.algorithm(), &content).to_string(),
                        }),
                    ),
                );
            }
            d.clone()
        }
        Reference::Tag(_) => Digest::compute(Algorithm::Sha256, &content),
    };
    let parsed = manifest::parse(&content, content_type.as_deref()).map_err(|e| match e {
        Invalid::Malformed(m) => manifest_invalid(m),
        Invalid::BadDigest(d) => manifest_invalid(format!("invalid digest `{d}` in a descriptor")),
    })?;
    // Everything the manifest references must be in the repository.
    for b in &parsed.blobs {
        if state.storage.blob_size(repo, b).await?.is_none() {
            return Err(blob_missing(b));
        }
    }
    for c in &parsed.children {
        if state
            .storage
            .manifest_get(repo, &Reference::Digest(c.clone()))
            .await?
            .is_none()
        {
            return Err(blob_missing(c));
        }
    }
    let referrer = match &parsed.subject {
        None => None,
        Some(s) => {
            let desc = ReferrerDescriptor {
                media_type: parsed.media_type.clone(),
                digest: digest.to_string(),
                size: content.len() as u64,
                artifact_type: parsed.artifact_type.clone(),
                annotations: parsed.annotations.clone(),
            };
            let json = serde_json::to_vec(&desc)
                .map_err(|_| manifest_invalid("the manifest's descriptor cannot be encoded"))?;
            Some((s.clone(), Bytes::from(json)))
        }
    };
    let tag = match &reference {
        Reference::Tag(t) => Some(t.clone()),
        Reference::Digest(_) => None,
    };
    state
        .storage
        .manifest_put(
            repo,
            NewManifest {
                digest: digest.clone(),
                media_type: parsed.media_type.clone(),
                content,
                tag,
                referrer,
            },
        )
        .await?;
    let mut headers = vec![
        ("location", format!("/v2/{repo}/manifests/{digest}")),
        ("docker-content-digest", digest.to_string()),
    ];
    if let Some(s) = &parsed.subject {
        headers.push(("oci-subject", s.to_string()));
    }
    Ok(empty(StatusCode::CREATED, &headers))
}

fn blob_missing(d: &Digest) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "MANIFEST_BLOB_UNKNOWN",
        "manifest references a blob or manifest unknown to the repository",
    )
    .detail(serde_json::json!({ "digest": d.to_string() }))
}

pub(super) async fn delete(state: &AppState, repo: &RepoName, r: &str) -> ApiResult {
    let deleted = match Reference::parse(r) {
        Some(Reference::Digest(d)) => state.storage.manifest_delete(repo, &d).await?,
        Some(Reference::Tag(t)) => state.storage.tag_delete(repo, &t).await?,
        None if r.contains(':') => {
            return Err(ApiError::digest_invalid(format!("invalid digest `{r}`")))
        }
        None => false,
    };
    if deleted {
        Ok(empty(StatusCode::ACCEPTED, &[]))
    } else {
        Err(ApiError::manifest_unknown(r))
    }
}

/// The media types a referrers response is served as (kept here beside the other
/// manifest-shaped responses).
pub(super) const REFERRERS_MEDIA_TYPE: &str = media_types::OCI_INDEX;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::acceptable;

    #[test]
    fn accept_negotiation() {
        let oci = sigil_core::media_types::OCI_MANIFEST;
        assert!(acceptable(&[], oci));
        assert!(acceptable(&["*/*"], oci));
        assert!(acceptable(&["application/json"], oci));
        assert!(acceptable(
            &[&format!("{oci}, application/vnd.oci.image.index.v1+json")],
            oci
        ));
        assert!(!acceptable(
            &["application/vnd.docker.distribution.manifest.v2+json"],
            oci
        ));
    }
}
