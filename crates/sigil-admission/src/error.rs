//! The crate's one error type.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A policy document does not parse or breaks a rule Kyverno's admission webhook enforces.
    #[error("policy `{policy}`: {detail}")]
    Policy { policy: String, detail: String },
    /// A YAML or JSON document does not parse.
    #[error("{what}: not valid YAML/JSON")]
    Parse {
        what: String,
        #[source]
        source: serde_yaml::Error,
    },
    #[error("reading `{path}`")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An image string that is not a valid reference.
    #[error("invalid image reference `{image}`: {detail}")]
    Image { image: String, detail: String },
    /// The resource under review is malformed where images live.
    #[error("malformed resource: {0}")]
    Resource(String),
    /// TLS material could not be loaded or generated.
    #[error("TLS: {detail}")]
    Tls { detail: String },
    #[error("binding `{addr}`")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
}
