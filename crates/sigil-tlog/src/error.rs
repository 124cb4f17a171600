use thiserror::Error;

use crate::store::StoreError;

/// Errors of the transparency log.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    #[error("log storage failed")]
    Store(#[from] StoreError),
    #[error("{what}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("log key: {0}")]
    Key(String),
    #[error("invalid log configuration: {0}")]
    Config(String),
}
