//! Refreshing a trusted root from a TUF repository over HTTP, as `cosign initialize` and
//! sigstore-python do: [`refresh`] runs [`sigil_core::tuf::Update`] (all the verification)
//! against a mirror, fetching each file with its size limit, and on success caches the
//! verified metadata (for the next run's rollback checks) and targets in a [`TufCache`].
//!
//! # Defaults
//! - The mirror is public-good Sigstore's, [`PUBLIC_GOOD_MIRROR`].
//! - The cache directory of a mirror is its URL percent-encoded into one path component,
//!   as sigstore-python names its cache (`https%3A%2F%2Ftuf-repo-cdn.sigstore.dev`).
//! - A failed update leaves the cache as it was: files are written only after every check
//!   passed, each through a temporary file renamed into place.
//! - HTTP 404 and 403 mean "not there" (the end of the root chain), as in python-tuf.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use sigil_core::tuf::{Cached, Need, TufError, Update, Updated};
use time::OffsetDateTime;

/// Public-good Sigstore's TUF repository.
pub const PUBLIC_GOOD_MIRROR: &str = "https://tuf-repo-cdn.sigstore.dev";
/// The target holding the Sigstore trusted root.
pub const TRUSTED_ROOT: &str = "trusted_root.json";
/// The target holding the Sigstore signing config, when the repository has one.
pub const SIGNING_CONFIG: &str = "signing_config.v0.2.json";

const WANTED: &[(&str, Need)] = &[
    (TRUSTED_ROOT, Need::Required),
    (SIGNING_CONFIG, Need::Optional),
];
const METADATA: [&str; 4] = [
    "root.json",
    "timestamp.json",
    "snapshot.json",
    "targets.json",
];
/// The file in the TUF home naming the mirror `sigil initialize` last refreshed from.
const REMOTE: &str = "remote.json";

/// Why a refresh failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TufClientError {
    #[error("fetching `{url}` failed")]
    Fetch {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("fetching `{url}` failed: HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("`{url}` is larger than the {limit}-byte limit")]
    TooLarge { url: String, limit: u64 },
    #[error("TUF verification failed")]
    Verify(#[source] TufError),
    #[error("{action} `{}`", path.display())]
    Cache {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The cached state of one mirror: `root.json`, `timestamp.json`, `snapshot.json`,
/// `targets.json` and `targets/<name>`.
#[derive(Clone, Debug)]
pub struct TufCache {
    dir: PathBuf,
}

impl TufCache {
    /// The cache of `mirror` under `home` (e.g. `~/.sigil/tuf`).
    pub fn new(home: &Path, mirror: &str) -> TufCache {
        TufCache {
            dir: home.join(escape(mirror.trim_end_matches('/'))),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where a verified target is cached.
    pub fn target_path(&self, name: &str) -> PathBuf {
        self.dir.join("targets").join(name)
    }

    /// The cached metadata; a missing or unreadable file is simply not cached.
    pub fn cached(&self) -> Cached {
        let read = |name: &str| std::fs::read(self.dir.join(name)).ok();
        Cached {
            root: read("root.json"),
            timestamp: read("timestamp.json"),
            snapshot: read("snapshot.json"),
            targets: read("targets.json"),
        }
    }

    /// Stores a verified update: metadata first, then targets.
    pub fn store(&self, updated: &Updated) -> Result<(), TufClientError> {
        let metadata = [
            &updated.root,
            &updated.timestamp,
            &updated.snapshot,
            &updated.targets,
        ];
        for (name, bytes) in METADATA.iter().zip(metadata) {
            write_atomic(&self.dir.join(name), bytes)?;
        }
        for file in &updated.files {
            // Names are the fixed ones asked for; refuse anything that would leave the cache.
            if file.name.contains(['/', '\\']) || file.name.starts_with('.') {
                continue;
            }
            write_atomic(&self.target_path(&file.name), &file.bytes)?;
        }
        Ok(())
    }
}

/// Runs the TUF client workflow against `mirror`, starting from the cached root or
/// `bootstrap_root`, and caches the result. Returns the verified metadata and targets.
pub async fn refresh(
    client: &reqwest::Client,
    mirror: &str,
    bootstrap_root: &[u8],
    cache: &TufCache,
    now: OffsetDateTime,
) -> Result<Updated, TufClientError> {
    let base = mirror.trim_end_matches('/');
    let mut update =
        Update::new(bootstrap_root, cache.cached(), WANTED, now).map_err(TufClientError::Verify)?;
    while let Some(request) = update.request() {
        let url = format!("{base}/{}", request.path);
        let body = fetch(client, &url, request.max_length).await?;
        update.receive(body).map_err(TufClientError::Verify)?;
    }
    let updated = update.finish().map_err(TufClientError::Verify)?;
    cache.store(&updated)?;
    Ok(updated)
}

/// Records `mirror` as the one the CLI's trust defaults read from.
pub fn record_mirror(home: &Path, mirror: &str) -> Result<(), TufClientError> {
    let body = serde_json::json!({ "mirror": mirror.trim_end_matches('/') });
    write_atomic(&home.join(REMOTE), body.to_string().as_bytes())
}

/// The mirror [`record_mirror`] recorded, if any.
pub fn recorded_mirror(home: &Path) -> Option<String> {
    let bytes = std::fs::read(home.join(REMOTE)).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    v.get("mirror")?.as_str().map(str::to_owned)
}

async fn fetch(
    client: &reqwest::Client,
    url: &str,
    limit: u64,
) -> Result<Option<Vec<u8>>, TufClientError> {
    let fetch_err = |source| TufClientError::Fetch {
        url: url.to_owned(),
        source,
    };
    let too_large = || TufClientError::TooLarge {
        url: url.to_owned(),
        limit,
    };
    let mut response = client.get(url).send().await.map_err(fetch_err)?;
    let status = response.status();
    if status == reqwest::StatusCode::NOT_FOUND || status == reqwest::StatusCode::FORBIDDEN {
        return Ok(None);
    }
    if !status.is_success() {
        return Err(TufClientError::Status {
            url: url.to_owned(),
            status: status.as_u16(),
        });
    }
    if response.content_length().is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    // Read in chunks and stop at the limit: a hostile mirror cannot make us buffer more.
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(fetch_err)? {
        if (body.len() + chunk.len()) as u64 > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), TufClientError> {
    let err = |action, source| TufClientError::Cache {
        action,
        path: path.to_owned(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| err("creating the directory of", e))?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = std::fs::File::create(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(err("writing", e));
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        err("replacing", e)
    })?;
    Ok(())
}

/// Percent-encodes every byte but RFC 3986's unreserved characters, as Python's
/// `urllib.parse.quote(url, safe="")` (sigstore-python's cache directory name).
fn escape(url: &str) -> String {
    let mut out = String::with_capacity(url.len() * 3);
    for b in url.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_directory_is_named_as_sigstore_python_names_it() {
        let cache = TufCache::new(Path::new("/h"), "https://tuf-repo-cdn.sigstore.dev/");
        assert_eq!(
            cache.dir(),
            Path::new("/h/https%3A%2F%2Ftuf-repo-cdn.sigstore.dev")
        );
    }
}
