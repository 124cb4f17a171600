//! The crate's error type. Storage and configuration failures are typed here; the HTTP layer
//! maps them onto the distribution-spec error codes (`api::errors`) and never shows the
//! internal detail (paths, OS errors) to clients: that goes to the log.

use std::path::PathBuf;

/// Errors of the registry library.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A filesystem operation failed.
    #[error("{action} `{}`", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Reading the request body failed (client went away, or a transport error).
    #[error("reading the request body")]
    Body(#[source] std::io::Error),
    /// No upload session with this id exists in this repository (never existed, finished,
    /// cancelled or expired).
    #[error("upload session `{0}` is unknown")]
    UploadUnknown(String),
    /// A chunk did not start where the session ends.
    #[error("chunk starts at offset {got}, the upload has {expected} bytes")]
    RangeInvalid { expected: u64, got: u64 },
    /// The content does not hash to the digest the client named.
    #[error("content hashes to {actual}, not {expected}")]
    DigestMismatch { expected: String, actual: String },
    /// A blob or upload exceeded the configured size limit.
    #[error("content exceeds the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    /// Too many upload sessions are open.
    #[error("too many open upload sessions (limit {limit})")]
    TooManyUploads { limit: usize },
    /// A stored file is not what it should be (for example a tag file that is not a digest).
    #[error("corrupt storage at `{}`: {reason}", path.display())]
    Corrupt { path: PathBuf, reason: &'static str },
    /// The configuration is not usable.
    #[error("{0}")]
    Config(String),
    /// The TLS certificate or key could not be loaded.
    #[error("loading TLS material from `{}`", path.display())]
    Tls {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The htpasswd file could not be used.
    #[error("htpasswd file `{}` line {line}: {reason}", path.display())]
    Htpasswd {
        path: PathBuf,
        line: usize,
        reason: &'static str,
    },
}

impl Error {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io {
            action,
            path,
            source,
        }
    }
}
