//! The crate's one error type.
use std::path::PathBuf;

/// Why a scan failed as a whole. Problems confined to one file (a malformed package database,
/// an unreadable binary) are not errors: they become [`crate::Warning`]s and the scan goes on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The source string names no known scheme or is empty.
    #[error("unsupported source `{0}`; use oci-dir:PATH, oci-archive:FILE, docker-archive:FILE, dir:PATH or registry:REF")]
    UnsupportedSource(String),
    /// A file of the source could not be read.
    #[error("failed to read `{path}`")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The image layout (index.json, manifest.json, a manifest or config) is not what the format says.
    #[error("invalid image `{what}`: {reason}")]
    InvalidImage { what: String, reason: String },
    /// A JSON document of the image could not be parsed.
    #[error("invalid JSON in `{what}`")]
    Json {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    /// A layer stream is truncated, corrupt or not a tar.
    #[error("failed to read layer {index} (`{digest}`)")]
    Layer {
        index: usize,
        digest: String,
        #[source]
        source: std::io::Error,
    },
    /// A blob's content does not match its digest.
    #[error("blob `{expected}` has digest `{actual}`")]
    DigestMismatch { expected: String, actual: String },
    /// A configured limit was exceeded (see [`crate::Limits`]).
    #[error("layer {index}: {what} exceeds the limit of {limit}; raise it with --max-* flags if the image is trusted")]
    LimitExceeded {
        index: usize,
        what: &'static str,
        limit: u64,
    },
    /// The registry source could not be fetched.
    #[error("failed to fetch `{reference}` from its registry")]
    Registry {
        reference: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Writing an output document failed.
    #[error("failed to write the {format} document")]
    Write {
        format: &'static str,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
    pub(crate) fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidImage {
            what: what.into(),
            reason: reason.into(),
        }
    }
}
