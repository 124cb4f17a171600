//! The registry client: OCI distribution-spec v1.1 (`spec.md`) over HTTP.
//!
//! Written on reqwest rather than `oci-client` because sigil needs what that crate does not
//! give together: byte-exact manifests with their digests verified on every fetch, bounded
//! reads, cross-repo mounts, chunked uploads, the referrers API with its tag-schema fallback,
//! and Docker credential helpers.
//!
//! # Defaults
//! - HTTPS with certificate verification; plain HTTP only for loopback registries
//!   (`localhost`, 127.0.0.0/8, `[::1]`) or when [`ClientOptions::allow_insecure`] is set
//!   (cosign's `--allow-insecure-registry`), which also accepts invalid certificates.
//! - Manifests are read up to 4 MiB (distribution's own limit), blobs read into memory up to
//!   [`ClientOptions::max_blob_size`]; everything fetched is digest-verified.
//! - Connect timeout 10 s, read timeout 60 s: a stalled registry is an error, not a hang.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use reqwest::header::{
    HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE,
};
use reqwest::StatusCode;
use serde::Deserialize;
use sigil_core::{media_types, Digest, ImageRef};

use crate::auth::{parse_challenge, Challenge, Keychain, TokenAnswer};
use crate::manifest::{Descriptor, ImageIndex};
use crate::Error;

/// Largest manifest accepted (distribution refuses larger ones too).
pub const MAX_MANIFEST_SIZE: u64 = 4 << 20;

/// Client settings.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// Allow plain HTTP and invalid certificates for non-loopback registries.
    pub allow_insecure: bool,
    /// Largest blob read into memory by [`Client::get_blob`].
    pub max_blob_size: u64,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub keychain: Keychain,
    /// Upload chunk size: blobs larger than this are sent with chunked PATCH requests.
    pub chunk_size: usize,
}

impl Default for ClientOptions {
    fn default() -> ClientOptions {
        ClientOptions {
            allow_insecure: false,
            max_blob_size: 256 << 20,
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(60),
            keychain: Keychain::Docker,
            chunk_size: 64 << 20,
        }
    }
}

/// A manifest as fetched: its exact bytes, media type and verified digest.
#[derive(Clone, Debug)]
pub struct Manifest {
    pub bytes: Bytes,
    pub media_type: String,
    pub digest: Digest,
}

impl Manifest {
    /// The descriptor of this manifest.
    pub fn descriptor(&self) -> Descriptor {
        let mut d = Descriptor::for_bytes(&self.media_type, &self.bytes);
        d.digest = self.digest.clone();
        d
    }
}

/// Result of a manifest PUT.
#[derive(Clone, Debug)]
pub struct PushedManifest {
    pub digest: Digest,
    /// The registry answered `OCI-Subject`: it indexes referrers itself.
    pub subject_indexed: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scheme {
    Http,
    Https,
}

/// The registry client. Cheap to clone? No: share it behind an `Arc`; it caches tokens.
#[derive(Debug)]
pub struct Client {
    /// Plain HTTP to loopback registries, built without root certificates: reading and
    /// parsing the system's roots was a large part of a short command's start-up, and a
    /// loopback registry is spoken to in plain HTTP. It follows no redirects; a redirected
    /// request is sent again through the full client, which follows it (a registry may send
    /// blob reads on to HTTPS storage).
    plain: reqwest::Client,
    /// Verifying TLS (and plain HTTP where allowed), built on first use.
    http: OnceLock<reqwest::Client>,
    /// Accepting invalid certificates (`allow_insecure`), built on first use.
    insecure_http: OnceLock<reqwest::Client>,
    options: ClientOptions,
    /// Authorization header per (registry, scope).
    tokens: Mutex<HashMap<(String, String), HeaderValue>>,
    schemes: Mutex<HashMap<String, Scheme>>,
}

/// What a request needs from the repository: read, or read and write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    Pull,
    Push,
}

impl Client {
    pub fn new(options: ClientOptions) -> Result<Client, Error> {
        let plain = builder(&options)
            .tls_built_in_root_certs(false)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(setup_error)?;
        Ok(Client {
            plain,
            http: OnceLock::new(),
            insecure_http: OnceLock::new(),
            options,
            tokens: Mutex::new(HashMap::new()),
            schemes: Mutex::new(HashMap::new()),
        })
    }

    /// The client with the system's root certificates (accepting invalid certificates when
    /// `insecure`), built the first time it is needed.
    fn full(&self, insecure: bool) -> Result<&reqwest::Client, Error> {
        let cell = if insecure {
            &self.insecure_http
        } else {
            &self.http
        };
        if let Some(c) = cell.get() {
            return Ok(c);
        }
        let built = builder(&self.options)
            .danger_accept_invalid_certs(insecure)
            .build()
            .map_err(setup_error)?;
        Ok(cell.get_or_init(|| built))
    }

    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    fn scheme(&self, registry: &str) -> Scheme {
        if sigil_core::is_loopback_host(registry) {
            return Scheme::Http;
        }
        self.schemes
            .lock()
            .map(|m| m.get(registry).copied())
            .ok()
            .flatten()
            .unwrap_or(Scheme::Https)
    }

    fn http_for(&self, registry: &str) -> Result<&reqwest::Client, Error> {
        if sigil_core::is_loopback_host(registry) {
            return Ok(&self.plain);
        }
        self.full(self.options.allow_insecure)
    }

    /// `scheme://registry/v2/<repo>/<rest>`
    pub(crate) fn url(&self, image: &ImageRef, rest: &str) -> String {
        self.base(image.registry()) + &format!("/v2/{}/{rest}", image.repository())
    }

    fn base(&self, registry: &str) -> String {
        match self.scheme(registry) {
            Scheme::Http => format!("http://{registry}"),
            Scheme::Https => format!("https://{registry}"),
        }
    }

    fn scope(image: &ImageRef, access: Access) -> String {
        match access {
            Access::Pull => format!("repository:{}:pull", image.repository()),
            Access::Push => format!("repository:{}:pull,push", image.repository()),
        }
    }

    /// Sends a request built by `make`, answering one auth challenge if the registry sends
    /// one. `make` is called again for the retry, so bodies must be cheap to rebuild.
    pub(crate) async fn send(
        &self,
        image: &ImageRef,
        access: Access,
        make: impl Fn(&reqwest::Client, &str) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, Error> {
        let registry = image.registry();
        let scope = Client::scope(image, access);
        let key = (registry.to_owned(), scope.clone());
        let cached = self.tokens.lock().ok().and_then(|m| m.get(&key).cloned());
        let resp = self.send_once(registry, &make, cached.clone()).await?;
        if resp.status() != StatusCode::UNAUTHORIZED {
            return Ok(resp);
        }
        let challenge = resp
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_challenge);
        let Some(challenge) = challenge else {
            return Err(Error::Unauthorized {
                registry: registry.to_owned(),
                detail: Some("401 without a usable WWW-Authenticate challenge".into()),
            });
        };
        let credential = self.options.keychain.resolve(registry).await?;
        let header = match challenge {
            Challenge::Basic => {
                let Some(c) = credential else {
                    return Err(Error::Unauthorized {
                        registry: registry.to_owned(),
                        detail: Some("the registry wants a username and password; none is configured (docker login)".into()),
                    });
                };
                c.basic_header()
            }
            Challenge::Bearer { realm, service, .. } => {
                format!(
                    "Bearer {}",
                    self.fetch_token(registry, &realm, service.as_deref(), &scope, credential)
                        .await?
                )
            }
        };
        let header = HeaderValue::from_str(&header).map_err(|_| Error::Unauthorized {
            registry: registry.to_owned(),
            detail: Some("token is not a valid header value".into()),
        })?;
        if let Ok(mut m) = self.tokens.lock() {
            m.insert(key, header.clone());
        }
        let resp = self.send_once(registry, &make, Some(header)).await?;
        if resp.status() == StatusCode::UNAUTHORIZED {
            return Err(Error::Unauthorized {
                registry: registry.to_owned(),
                detail: None,
            });
        }
        Ok(resp)
    }

    async fn send_once(
        &self,
        registry: &str,
        make: &impl Fn(&reqwest::Client, &str) -> reqwest::RequestBuilder,
        auth: Option<HeaderValue>,
    ) -> Result<reqwest::Response, Error> {
        let http = self.http_for(registry)?;
        let base = self.base(registry);
        let mut rb = make(http, &base);
        if let Some(a) = &auth {
            rb = rb.header(AUTHORIZATION, a.clone());
        }
        match rb.send().await {
            Ok(r)
                if r.status().is_redirection()
                    && r.headers().contains_key(reqwest::header::LOCATION)
                    && std::ptr::eq(http, &self.plain) =>
            {
                let mut rb = make(self.full(self.options.allow_insecure)?, &base);
                if let Some(a) = auth {
                    rb = rb.header(AUTHORIZATION, a);
                }
                rb.send().await.map_err(|source| Error::Transport {
                    url: base.clone(),
                    source,
                })
            }
            Ok(r) => Ok(r),
            Err(e) => {
                let url = e
                    .url()
                    .map(|u| u.to_string())
                    .unwrap_or_else(|| base.clone());
                // cosign's --allow-insecure-registry falls back to plain HTTP when TLS fails.
                if self.options.allow_insecure
                    && self.scheme(registry) == Scheme::Https
                    && (e.is_connect() || e.is_request())
                {
                    if let Ok(mut m) = self.schemes.lock() {
                        m.insert(registry.to_owned(), Scheme::Http);
                    }
                    let mut rb = make(http, &self.base(registry));
                    if let Some(a) = auth {
                        rb = rb.header(AUTHORIZATION, a);
                    }
                    return rb
                        .send()
                        .await
                        .map_err(|source| Error::Transport { url, source });
                }
                Err(Error::Transport { url, source: e })
            }
        }
    }

    async fn fetch_token(
        &self,
        registry: &str,
        realm: &str,
        service: Option<&str>,
        scope: &str,
        credential: Option<crate::auth::Credential>,
    ) -> Result<String, Error> {
        let mut url = url::Url::parse(realm).map_err(|e| Error::Unauthorized {
            registry: registry.to_owned(),
            detail: Some(format!("invalid token realm `{realm}`: {e}")),
        })?;
        if url.scheme() != "https"
            && !(url.scheme() == "http"
                && (self.options.allow_insecure
                    || url.host_str().is_some_and(sigil_core::is_loopback_host)))
        {
            return Err(Error::Unauthorized {
                registry: registry.to_owned(),
                detail: Some(format!(
                    "refusing to send credentials to non-HTTPS token realm `{realm}`"
                )),
            });
        }
        {
            let mut q = url.query_pairs_mut();
            if let Some(s) = service {
                q.append_pair("service", s);
            }
            q.append_pair("scope", scope);
        }
        // By the realm's own scheme: a loopback registry may use an HTTPS token server.
        let http = if url.scheme() == "http" {
            &self.plain
        } else {
            self.full(self.options.allow_insecure)?
        };
        let mut rb = http.get(url.clone());
        if let Some(c) = &credential {
            rb = rb.basic_auth(&c.username, Some(c.secret()));
        }
        let resp = rb.send().await.map_err(|source| Error::Transport {
            url: url.to_string(),
            source,
        })?;
        if !resp.status().is_success() {
            return Err(Error::Unauthorized {
                registry: registry.to_owned(),
                detail: Some(format!("token endpoint answered {}", resp.status())),
            });
        }
        let body = read_limited(resp, 1 << 20, "token response").await?;
        let ans: TokenAnswer = serde_json::from_slice(&body).map_err(|e| Error::Malformed {
            what: "token response".into(),
            detail: e.to_string(),
        })?;
        ans.token
            .filter(|t| !t.is_empty())
            .or(ans.access_token)
            .ok_or_else(|| Error::Unauthorized {
                registry: registry.to_owned(),
                detail: Some("token endpoint answered no token".into()),
            })
    }

    /// GET a manifest by tag or digest (`image.reference()`), verifying its digest.
    pub async fn get_manifest(&self, image: &ImageRef) -> Result<Manifest, Error> {
        self.get_manifest_accepting(image, &media_types::MANIFEST_ACCEPT)
            .await
    }

    /// GET a manifest with a specific Accept list.
    pub async fn get_manifest_accepting(
        &self,
        image: &ImageRef,
        accept: &[&str],
    ) -> Result<Manifest, Error> {
        let reference = image.reference();
        let rest = format!("manifests/{reference}");
        let accept = accept.join(", ");
        let resp = self
            .send(image, Access::Pull, |c, _| {
                c.get(self.url(image, &rest)).header(ACCEPT, &accept)
            })
            .await?;
        let what = format!("manifest `{image}`");
        let resp = check_status(resp, &what).await?;
        let media_type = content_type(resp.headers());
        let header_digest = docker_digest(resp.headers());
        let bytes = read_limited(resp, MAX_MANIFEST_SIZE, &what).await?;
        let digest = match (image.digest(), header_digest) {
            (Some(d), _) => {
                d.verify(&bytes).map_err(|_| mismatch(&what, d, &bytes))?;
                d.clone()
            }
            (None, Some(h)) => {
                h.verify(&bytes).map_err(|_| mismatch(&what, &h, &bytes))?;
                h
            }
            (None, None) => Digest::sha256(&bytes),
        };
        let media_type = media_type
            .or_else(|| sniff_media_type(&bytes))
            .unwrap_or_else(|| media_types::OCI_MANIFEST.to_owned());
        Ok(Manifest {
            bytes,
            media_type,
            digest,
        })
    }

    /// HEAD a manifest: its descriptor, or `None` when it does not exist. Falls back to GET
    /// when the registry's HEAD answer lacks `Docker-Content-Digest`.
    pub async fn head_manifest(&self, image: &ImageRef) -> Result<Option<Descriptor>, Error> {
        let rest = format!("manifests/{}", image.reference());
        let accept = media_types::MANIFEST_ACCEPT.join(", ");
        let resp = self
            .send(image, Access::Pull, |c, _| {
                c.head(self.url(image, &rest)).header(ACCEPT, &accept)
            })
            .await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let what = format!("manifest `{image}`");
        let resp = check_status(resp, &what).await?;
        let digest = docker_digest(resp.headers());
        let media_type = content_type(resp.headers());
        let size = resp.content_length();
        match (digest, media_type, size) {
            (Some(digest), Some(media_type), Some(size))
                if image.digest().is_none_or(|d| *d == digest) =>
            {
                let mut d = Descriptor::for_bytes(&media_type, b"");
                d.digest = digest;
                d.size = size;
                Ok(Some(d))
            }
            _ => match self.get_manifest(image).await {
                Ok(m) => Ok(Some(m.descriptor())),
                Err(e) if e.is_not_found() => Ok(None),
                Err(e) => Err(e),
            },
        }
    }

    /// Resolves a reference to the descriptor of its manifest (a tag to its digest).
    pub async fn resolve(&self, image: &ImageRef) -> Result<Descriptor, Error> {
        self.head_manifest(image)
            .await?
            .ok_or_else(|| Error::NotFound {
                what: format!("image tag `{image}`"),
            })
    }

    /// PUT a manifest under `reference` (a tag or its digest).
    pub async fn put_manifest(
        &self,
        image: &ImageRef,
        reference: &str,
        bytes: Bytes,
        media_type: &str,
    ) -> Result<PushedManifest, Error> {
        if bytes.len() as u64 > MAX_MANIFEST_SIZE {
            return Err(Error::TooLarge {
                what: format!("manifest for `{image}`"),
                limit: MAX_MANIFEST_SIZE,
            });
        }
        let rest = format!("manifests/{reference}");
        let resp = self
            .send(image, Access::Push, |c, _| {
                c.put(self.url(image, &rest))
                    .header(CONTENT_TYPE, media_type)
                    .body(bytes.clone())
            })
            .await?;
        let what = format!("manifest `{}:{reference}`", image.name());
        let resp = check_status(resp, &what).await?;
        let digest = Digest::sha256(&bytes);
        if let Some(h) = docker_digest(resp.headers()) {
            if h.algorithm() == digest.algorithm() && h != digest {
                return Err(Error::DigestMismatch {
                    what,
                    expected: digest.to_string(),
                    actual: h.to_string(),
                });
            }
        }
        Ok(PushedManifest {
            digest,
            subject_indexed: resp.headers().contains_key("oci-subject"),
        })
    }

    /// DELETE a manifest by digest (or a tag, where the registry allows it).
    pub async fn delete_manifest(&self, image: &ImageRef, reference: &str) -> Result<(), Error> {
        let rest = format!("manifests/{reference}");
        let resp = self
            .send(image, Access::Push, |c, _| c.delete(self.url(image, &rest)))
            .await?;
        check_status(resp, &format!("manifest `{}:{reference}`", image.name())).await?;
        Ok(())
    }

    /// Every tag of the repository, following `Link` pagination.
    pub async fn list_tags(&self, image: &ImageRef) -> Result<Vec<String>, Error> {
        self.list_tags_paged(image, 1000).await
    }

    /// Every tag of the repository, asking for `page_size` tags per request.
    pub async fn list_tags_paged(
        &self,
        image: &ImageRef,
        page_size: usize,
    ) -> Result<Vec<String>, Error> {
        #[derive(Deserialize)]
        struct Tags {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let mut out = Vec::new();
        let mut next = Some(self.url(image, &format!("tags/list?n={}", page_size.max(1))));
        let mut pages = 0;
        while let Some(url) = next.take() {
            pages += 1;
            if pages > 10_000 {
                return Err(Error::Malformed {
                    what: format!("tag list of `{}`", image.name()),
                    detail: "more than 10000 pages".into(),
                });
            }
            let u = url.clone();
            let resp = self.send(image, Access::Pull, |c, _| c.get(&u)).await?;
            let what = format!("tag list of `{}`", image.name());
            let resp = check_status(resp, &what).await?;
            if let Some(link) = resp.headers().get("link").and_then(|v| v.to_str().ok()) {
                next = parse_link(link).map(|l| {
                    if l.starts_with('/') {
                        self.base(image.registry()) + &l
                    } else {
                        l
                    }
                });
            }
            let body = read_limited(resp, MAX_MANIFEST_SIZE, &what).await?;
            let tags: Tags = serde_json::from_slice(&body).map_err(|e| Error::Malformed {
                what,
                detail: e.to_string(),
            })?;
            out.extend(tags.tags.unwrap_or_default());
        }
        Ok(out)
    }

    /// Manifests that refer to `digest` through `subject` (OCI 1.1 referrers API), falling
    /// back to the tag schema (`sha256-<hex>` index) when the registry lacks the API.
    pub async fn referrers(
        &self,
        image: &ImageRef,
        digest: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<ImageIndex, Error> {
        let mut rest = format!("referrers/{digest}");
        if let Some(t) = artifact_type {
            rest.push_str(&format!(
                "?artifactType={}",
                url::form_urlencoded::byte_serialize(t.as_bytes()).collect::<String>()
            ));
        }
        let resp = self
            .send(image, Access::Pull, |c, _| {
                c.get(self.url(image, &rest))
                    .header(ACCEPT, media_types::OCI_INDEX)
            })
            .await?;
        let what = format!("referrers of `{}@{digest}`", image.name());
        let status = resp.status();
        let is_index = content_type(resp.headers()).as_deref() == Some(media_types::OCI_INDEX);
        let mut index = if status.is_success() && is_index {
            let filtered = resp.headers().contains_key("oci-filters-applied");
            let body = read_limited(resp, MAX_MANIFEST_SIZE, &what).await?;
            let index: ImageIndex =
                serde_json::from_slice(&body).map_err(|e| Error::Malformed {
                    what: what.clone(),
                    detail: e.to_string(),
                })?;
            if filtered {
                return Ok(index);
            }
            index
        } else if status == StatusCode::NOT_FOUND
            || status == StatusCode::BAD_REQUEST
            || status == StatusCode::NOT_ACCEPTABLE
            || (status.is_success() && !is_index)
        {
            self.referrers_fallback(image, digest).await?
        } else {
            check_status(resp, &what).await?;
            ImageIndex::empty()
        };
        if let Some(t) = artifact_type {
            index
                .manifests
                .retain(|d| d.artifact_type.as_deref() == Some(t));
        }
        Ok(index)
    }

    /// The tag-schema fallback index (`<alg>-<hex>`), or an empty index.
    pub async fn referrers_fallback(
        &self,
        image: &ImageRef,
        digest: &Digest,
    ) -> Result<ImageIndex, Error> {
        let tag = referrers_tag(digest);
        let fallback = image.with_tag(&tag).map_err(|e| Error::Malformed {
            what: "referrers tag".into(),
            detail: e.to_string(),
        })?;
        match self
            .get_manifest_accepting(&fallback, &[media_types::OCI_INDEX])
            .await
        {
            Ok(m) => serde_json::from_slice(&m.bytes).map_err(|e| Error::Malformed {
                what: format!("referrers index `{fallback}`"),
                detail: e.to_string(),
            }),
            Err(e) if e.is_not_found() => Ok(ImageIndex::empty()),
            Err(e) => Err(e),
        }
    }
}

fn builder(options: &ClientOptions) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .user_agent(concat!("sigil/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(options.connect_timeout)
        .read_timeout(options.read_timeout)
}

fn setup_error(source: reqwest::Error) -> Error {
    Error::Transport {
        url: "(client setup)".into(),
        source,
    }
}

/// The referrers tag schema's tag for `digest`: `sha256-<hex>`.
pub fn referrers_tag(digest: &Digest) -> String {
    format!("{}-{}", digest.algorithm().as_str(), digest.hex())
}

fn mismatch(what: &str, expected: &Digest, bytes: &[u8]) -> Error {
    Error::DigestMismatch {
        what: what.to_owned(),
        expected: expected.to_string(),
        actual: Digest::compute(expected.algorithm(), bytes).to_string(),
    }
}

pub(crate) fn content_type(h: &HeaderMap) -> Option<String> {
    h.get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.split(';').next().unwrap_or(s).trim().to_owned())
        .filter(|s| !s.is_empty())
}

pub(crate) fn docker_digest(h: &HeaderMap) -> Option<Digest> {
    h.get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.trim().parse().ok())
}

fn sniff_media_type(bytes: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Probe {
        media_type: Option<String>,
        manifests: Option<serde_json::Value>,
    }
    let p: Probe = serde_json::from_slice(bytes).ok()?;
    p.media_type.or_else(|| {
        Some(if p.manifests.is_some() {
            media_types::OCI_INDEX.to_owned()
        } else {
            media_types::OCI_MANIFEST.to_owned()
        })
    })
}

/// `<url>; rel="next"` → url
fn parse_link(link: &str) -> Option<String> {
    let start = link.find('<')? + 1;
    let end = link[start..].find('>')? + start;
    Some(link[start..end].to_owned())
}

/// The registry's error body (`{"errors":[{"code","message"}]}`).
#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    errors: Vec<ErrorEntry>,
}

#[derive(Deserialize)]
struct ErrorEntry {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// Maps non-success statuses to errors (404 → [`Error::NotFound`]).
pub(crate) async fn check_status(
    resp: reqwest::Response,
    what: &str,
) -> Result<reqwest::Response, Error> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let url = resp.url().to_string();
    if status == StatusCode::NOT_FOUND {
        return Err(Error::NotFound {
            what: what.to_owned(),
        });
    }
    let body = read_limited(resp, 64 << 10, what).await.unwrap_or_default();
    let entry = serde_json::from_slice::<ErrorBody>(&body)
        .ok()
        .and_then(|b| b.errors.into_iter().next());
    let (code, message) = match entry {
        Some(e) => (e.code, e.message),
        None => (None, None),
    };
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        return Err(Error::Unauthorized {
            registry: url,
            detail: Some(format!(
                "{status}{}",
                message.map(|m| format!(": {m}")).unwrap_or_default()
            )),
        });
    }
    Err(Error::Status {
        url,
        status: status.as_u16(),
        code,
        message,
    })
}

/// Reads a body, refusing more than `limit` bytes (by Content-Length and as it streams).
pub(crate) async fn read_limited(
    resp: reqwest::Response,
    limit: u64,
    what: &str,
) -> Result<Bytes, Error> {
    if resp.content_length().is_some_and(|l| l > limit) {
        return Err(Error::TooLarge {
            what: what.to_owned(),
            limit,
        });
    }
    let url = resp.url().to_string();
    let mut out = Vec::with_capacity(resp.content_length().unwrap_or(0).min(limit) as usize);
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|source| Error::Transport {
            url: url.clone(),
            source,
        })?;
        if out.len() as u64 + chunk.len() as u64 > limit {
            return Err(Error::TooLarge {
                what: what.to_owned(),
                limit,
            });
        }
        out.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(out))
}
