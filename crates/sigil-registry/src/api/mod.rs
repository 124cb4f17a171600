//! The HTTP API of distribution-spec v1.1 (`spec.md` § Endpoints, end-1 … end-13), built as
//! an axum [`Router`] so tests drive it in process and servers mount it on any listener.
//!
//! Repository names contain `/`, so routes cannot be expressed as path patterns; one handler
//! parses `/v2/<name>/<kind>/<arg>` from the right, where the endpoint kinds are fixed.

mod blobs;
mod discovery;
pub(crate) mod errors;
mod manifests;

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;

use crate::auth::Htpasswd;
use crate::metrics::{Metrics, RouteKind};
use crate::name::RepoName;
use crate::storage::Storage;
use errors::ApiError;

/// Limits the HTTP layer enforces before storage sees a request.
#[derive(Clone, Copy, Debug)]
pub struct ApiLimits {
    /// The largest manifest accepted (the spec asks registries to accept at least 4 MiB).
    pub max_manifest_size: usize,
}

impl Default for ApiLimits {
    /// 4 MiB manifests, as distribution.
    fn default() -> Self {
        ApiLimits {
            max_manifest_size: 4 << 20,
        }
    }
}

/// What the router needs: storage, limits, the optional credentials and the metrics.
#[derive(Clone, Debug)]
pub struct AppState {
    pub storage: Arc<dyn Storage>,
    pub limits: ApiLimits,
    pub auth: Option<Arc<Htpasswd>>,
    pub metrics: Arc<Metrics>,
}

impl AppState {
    /// Anonymous access, default limits, fresh metrics.
    pub fn new(storage: Arc<dyn Storage>) -> AppState {
        AppState {
            storage,
            limits: ApiLimits::default(),
            auth: None,
            metrics: Arc::new(Metrics::default()),
        }
    }
}

/// The registry's routes: `/v2/…` and `/metrics`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .fallback(
            |State(state): State<AppState>, req: Request| async move { handle(&state, req).await },
        )
        .with_state(state)
}

type ApiResult = Result<Response, ApiError>;

/// One request from start to end: authentication, the endpoint, the API version header,
/// metrics and the request log. [`router`] wraps it for in-process use; the server calls it
/// straight from hyper, without a router or middleware layer in between (the registry has one
/// handler, and every layer cost allocations on every manifest GET).
pub(crate) async fn handle(state: &AppState, req: Request) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let kind = RouteKind::of(req.uri().path());
    // The path is copied for the debug log only: this runs on every request.
    let path = tracing::enabled!(tracing::Level::DEBUG).then(|| req.uri().path().to_owned());
    let authorized = match &state.auth {
        None => true,
        Some(a) => a.check(req.headers().get(header::AUTHORIZATION)).await,
    };
    let mut resp = if authorized {
        match route(state, req).await {
            Ok(r) => r,
            Err(e) => e.into_response(),
        }
    } else {
        ApiError::unauthorized().into_response()
    };
    resp.headers_mut().insert(
        "docker-distribution-api-version",
        HeaderValue::from_static("registry/2.0"),
    );
    let status = resp.status();
    let elapsed = started.elapsed();
    state
        .metrics
        .record(&method, kind, status.as_u16(), elapsed);
    tracing::debug!(%method, path = path.as_deref().unwrap_or(""), status = status.as_u16(), micros = elapsed.as_micros() as u64, "request");
    resp
}

/// The endpoint a path names.
enum Endpoint<'a> {
    Base,
    Catalog,
    Metrics,
    Tags(&'a str),
    Manifest(&'a str, &'a str),
    UploadStart(&'a str),
    Upload(&'a str, &'a str),
    Blob(&'a str, &'a str),
    Referrers(&'a str, &'a str),
}

fn parse_path(path: &str) -> Option<Endpoint<'_>> {
    if path == "/metrics" {
        return Some(Endpoint::Metrics);
    }
    if path == "/v2" || path == "/v2/" {
        return Some(Endpoint::Base);
    }
    let rest = path.strip_prefix("/v2/")?;
    if rest == "_catalog" {
        return Some(Endpoint::Catalog);
    }
    // Split off the last one to three segments.
    let (head, last) = rest.rsplit_once('/')?;
    let (head2, prev) = head.rsplit_once('/').unwrap_or(("", head));
    if prev == "tags" && last == "list" {
        return Some(Endpoint::Tags(head2));
    }
    if prev == "manifests" {
        return Some(Endpoint::Manifest(head2, last));
    }
    if prev == "referrers" {
        return Some(Endpoint::Referrers(head2, last));
    }
    if prev == "blobs" && last == "uploads" {
        return Some(Endpoint::UploadStart(head2));
    }
    if prev == "uploads" {
        let (name, blobs) = head2.rsplit_once('/')?;
        if blobs == "blobs" {
            return Some(if last.is_empty() {
                Endpoint::UploadStart(name)
            } else {
                Endpoint::Upload(name, last)
            });
        }
    }
    if prev == "blobs" {
        return Some(Endpoint::Blob(head2, last));
    }
    None
}

fn repo(name: &str) -> Result<RepoName, ApiError> {
    RepoName::parse(name).ok_or_else(|| ApiError::name_invalid(name))
}

async fn route(state: &AppState, req: Request) -> ApiResult {
    let (parts, body) = req.into_parts();
    let Some(endpoint) = parse_path(parts.uri.path()) else {
        return Err(ApiError::unsupported(
            StatusCode::NOT_FOUND,
            "no such endpoint",
        ));
    };
    let method = parts.method.clone();
    let req = &parts;
    let not_allowed =
        || ApiError::unsupported(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
    let get_or_head = method == Method::GET || method == Method::HEAD;
    match endpoint {
        Endpoint::Base if get_or_head => {
            Ok(([(header::CONTENT_TYPE, "application/json")], "{}").into_response())
        }
        Endpoint::Metrics if get_or_head => Ok(state.metrics.render().into_response()),
        Endpoint::Catalog if get_or_head => discovery::catalog(state, req).await,
        Endpoint::Tags(name) if get_or_head => discovery::tags(state, &repo(name)?, req).await,
        Endpoint::Referrers(name, d) if get_or_head => {
            discovery::referrers(state, &repo(name)?, d, req).await
        }
        Endpoint::Manifest(name, r) => {
            let name = repo(name)?;
            match method {
                Method::GET | Method::HEAD => manifests::get(state, &name, r, req).await,
                Method::PUT => manifests::put(state, &name, r, req, body).await,
                Method::DELETE => manifests::delete(state, &name, r).await,
                _ => Err(not_allowed()),
            }
        }
        Endpoint::Blob(name, d) => {
            let name = repo(name)?;
            match method {
                Method::GET | Method::HEAD => blobs::get(state, &name, d, req).await,
                Method::DELETE => blobs::delete(state, &name, d).await,
                _ => Err(not_allowed()),
            }
        }
        Endpoint::UploadStart(name) if method == Method::POST => {
            blobs::start(state, &repo(name)?, req, body).await
        }
        Endpoint::Upload(name, id) => {
            let name = repo(name)?;
            match method {
                Method::GET => blobs::status(state, &name, id).await,
                Method::PATCH => blobs::patch(state, &name, id, req, body).await,
                Method::PUT => blobs::finish(state, &name, id, req, body).await,
                Method::DELETE => blobs::cancel(state, &name, id).await,
                _ => Err(not_allowed()),
            }
        }
        _ => Err(not_allowed()),
    }
}

/// The query parameters of a request, decoded.
pub(crate) fn query(req: &Parts) -> Vec<(String, String)> {
    req.uri
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

pub(crate) fn query_param<'a>(q: &'a [(String, String)], key: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

pub(crate) fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A response with no body and the given headers (values that are not valid header text are
/// dropped; they are built from validated names and digests, so that does not happen).
pub(crate) fn empty(status: StatusCode, headers: &[(&str, String)]) -> Response {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = status;
    for (k, v) in headers {
        if let (Ok(k), Ok(v)) = (
            header::HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            resp.headers_mut().insert(k, v);
        }
    }
    resp.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    resp
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn kind(p: &str) -> String {
        match parse_path(p) {
            None => "none".into(),
            Some(Endpoint::Base) => "base".into(),
            Some(Endpoint::Catalog) => "catalog".into(),
            Some(Endpoint::Metrics) => "metrics".into(),
            Some(Endpoint::Tags(n)) => format!("tags {n}"),
            Some(Endpoint::Manifest(n, r)) => format!("manifest {n} {r}"),
            Some(Endpoint::UploadStart(n)) => format!("start {n}"),
            Some(Endpoint::Upload(n, i)) => format!("upload {n} {i}"),
            Some(Endpoint::Blob(n, d)) => format!("blob {n} {d}"),
            Some(Endpoint::Referrers(n, d)) => format!("referrers {n} {d}"),
        }
    }

    #[test]
    fn paths_are_parsed_from_the_right() {
        assert_eq!(kind("/v2/"), "base");
        assert_eq!(kind("/v2/_catalog"), "catalog");
        assert_eq!(kind("/v2/a/b/tags/list"), "tags a/b");
        assert_eq!(
            kind("/v2/a/manifests/b/manifests/v1"),
            "manifest a/manifests/b v1"
        );
        assert_eq!(kind("/v2/a/blobs/uploads/"), "start a");
        assert_eq!(kind("/v2/a/blobs/uploads"), "start a");
        assert_eq!(kind("/v2/a/b/blobs/uploads/abc"), "upload a/b abc");
        assert_eq!(kind("/v2/a/blobs/sha256:00"), "blob a sha256:00");
        assert_eq!(kind("/v2/a/referrers/sha256:00"), "referrers a sha256:00");
        assert_eq!(kind("/v2/manifests/v1"), "manifest  v1");
        assert_eq!(kind("/v3/a"), "none");
    }
}
