use thiserror::Error;

/// Errors of the registry client. Each names the registry, repository or digest at fault.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    #[error("request to {url} failed")]
    Transport {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{url}: {status}{}", registry_message(.code, .message))]
    Status {
        url: String,
        status: u16,
        code: Option<String>,
        message: Option<String>,
    },
    #[error("{what} not found")]
    NotFound { what: String },
    #[error("unauthorized: {registry} refused the credentials{}", .detail.as_ref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Unauthorized {
        registry: String,
        detail: Option<String>,
    },
    #[error("{what} is larger than the {limit}-byte limit")]
    TooLarge { what: String, limit: u64 },
    #[error("content of {what} does not match its digest: expected {expected}, got {actual}")]
    DigestMismatch {
        what: String,
        expected: String,
        actual: String,
    },
    #[error("cannot access `{}`", .path.display())]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("malformed {what}: {detail}")]
    Malformed { what: String, detail: String },
    #[error("reading registry credentials: {0}")]
    Credentials(String),
    #[error("registry {registry} answered plain HTTP only; pass --allow-insecure-registry to allow that")]
    InsecureRefused { registry: String },
}

fn registry_message(code: &Option<String>, message: &Option<String>) -> String {
    match (code, message) {
        (Some(c), Some(m)) => format!(" {c}: {m}"),
        (Some(c), None) => format!(" {c}"),
        (None, Some(m)) => format!(" {m}"),
        (None, None) => String::new(),
    }
}

impl Error {
    /// Whether this error means the requested object does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound { .. })
    }
}
