use thiserror::Error;

/// Errors of the signing flows.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    #[error("signing the payload failed")]
    Sign(#[source] sigil_core::Error),
    #[error("attaching the signature to `{image}` failed")]
    Attach {
        image: String,
        #[source]
        source: sigil_oci::Error,
    },
    #[error("uploading to the transparency log failed: {0}")]
    TlogUnavailable(String),
    #[error("transparency log")]
    Tlog(#[source] crate::rekor::RekorClientError),
    #[error("certificate authority: {0}")]
    Ca(String),
    #[error("identity token: {0}")]
    Token(String),
}
