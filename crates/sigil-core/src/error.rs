use thiserror::Error;

/// Errors of the pure core. Each names the value at fault.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    #[error("invalid image reference {0}")]
    InvalidReference(String),
    #[error("invalid digest: {0}")]
    InvalidDigest(String),
    #[error("digest mismatch: expected {expected}, content hashes to {actual}")]
    DigestMismatch { expected: String, actual: String },
    #[error("invalid signature payload: {0}")]
    InvalidPayload(String),
    #[error("invalid key: {0}")]
    InvalidKey(String),
    #[error("unsupported pem type `{0}`")]
    UnsupportedPemType(String),
    #[error("decrypting the private key failed: wrong password or corrupted key file")]
    WrongPassword,
    #[error("signing failed: {0}")]
    Signing(String),
}
