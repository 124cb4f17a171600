//! Content discovery: tag lists and the catalog with `n`/`last` pagination and `Link` headers
//! (§ Listing tags; the catalog is distribution's extension with the same paging), and the
//! referrers API with its `artifactType` filter (§ Listing referrers).

use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sigil_core::Digest;

use super::errors::ApiError;
use super::manifests::REFERRERS_MEDIA_TYPE;
use super::{query, query_param, ApiResult, AppState};
use crate::manifest::ReferrerDescriptor;
use crate::name::RepoName;

/// A page of entries and, when more follow, the `n` and `last` of the next page.
type Page = (Vec<String>, Option<(usize, String)>);

/// A page of a sorted list: the entries after `last`, at most `n` of them, and whether more
/// follow.
fn page(all: Vec<String>, q: &[(String, String)]) -> Result<Page, ApiError> {
    let n = match query_param(q, "n") {
        None => None,
        Some(v) => Some(v.parse::<usize>().map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "PAGINATION_NUMBER_INVALID",
                format!("invalid number of results requested: `{v}`"),
            )
        })?),
    };
    let last = query_param(q, "last");
    let mut items: Vec<String> = match last {
        Some(l) => all.into_iter().filter(|t| t.as_str() > l).collect(),
        None => all,
    };
    let mut next = None;
    if let Some(n) = n {
        if items.len() > n {
            items.truncate(n);
            if let Some(l) = items.last() {
                next = Some((n, l.clone()));
            }
        }
    }
    Ok((items, next))
}

fn json_page(body: serde_json::Value, link: Option<String>) -> Response {
    let mut resp = (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response();
    if let Some(l) = link.and_then(|l| HeaderValue::from_str(&l).ok()) {
        resp.headers_mut().insert(header::LINK, l);
    }
    resp
}

fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub(super) async fn tags(state: &AppState, repo: &RepoName, req: &Parts) -> ApiResult {
    let Some(all) = state.storage.tags(repo).await? else {
        return Err(ApiError::name_unknown(repo.as_str()));
    };
    let (tags, next) = page(all, &query(req))?;
    let link = next.map(|(n, last)| {
        format!(
            "</v2/{repo}/tags/list?n={n}&last={}>; rel=\"next\"",
            encode(&last)
        )
    });
    Ok(json_page(
        serde_json::json!({ "name": repo.as_str(), "tags": tags }),
        link,
    ))
}

pub(super) async fn catalog(state: &AppState, req: &Parts) -> ApiResult {
    let all = state.storage.repositories().await?;
    let (repos, next) = page(all, &query(req))?;
    let link =
        next.map(|(n, last)| format!("</v2/_catalog?n={n}&last={}>; rel=\"next\"", encode(&last)));
    Ok(json_page(
        serde_json::json!({ "repositories": repos }),
        link,
    ))
}

pub(super) async fn referrers(
    state: &AppState,
    repo: &RepoName,
    d: &str,
    req: &Parts,
) -> ApiResult {
    let subject: Digest = d
        .parse()
        .map_err(|e: sigil_core::Error| ApiError::digest_invalid(e.to_string()))?;
    let q = query(req);
    let filter = query_param(&q, "artifactType");
    let mut descriptors: Vec<ReferrerDescriptor> = Vec::new();
    for raw in state.storage.referrers(repo, &subject).await? {
        match serde_json::from_slice::<ReferrerDescriptor>(&raw) {
            Ok(desc) => descriptors.push(desc),
            Err(e) => tracing::warn!(error = %e, repo = %repo, "skipping a corrupt referrer entry"),
        }
    }
    if let Some(f) = filter {
        descriptors.retain(|x| x.artifact_type.as_deref() == Some(f));
    }
    descriptors.sort_by(|a, b| a.digest.cmp(&b.digest));
    let body = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": REFERRERS_MEDIA_TYPE,
        "manifests": descriptors,
    });
    let mut resp = (
        [(header::CONTENT_TYPE, REFERRERS_MEDIA_TYPE)],
        body.to_string(),
    )
        .into_response();
    if filter.is_some() {
        resp.headers_mut().insert(
            "oci-filters-applied",
            HeaderValue::from_static("artifactType"),
        );
    }
    Ok(resp)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::page;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn pagination() {
        let all: Vec<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
        let (p, next) = page(all.clone(), &q(&[("n", "2")])).unwrap();
        assert_eq!(p, ["a", "b"]);
        assert_eq!(next, Some((2, "b".to_string())));
        let (p, next) = page(all.clone(), &q(&[("n", "2"), ("last", "b")])).unwrap();
        assert_eq!(p, ["c", "d"]);
        assert_eq!(next, None);
        let (p, _) = page(all.clone(), &q(&[("n", "0")])).unwrap();
        assert!(p.is_empty());
        assert!(page(all, &q(&[("n", "x")])).is_err());
    }
}
