//! The crate's error type and its HTTP mapping.
//!
//! Client faults (bad token, bad key, bad proof, malformed request) map to 4xx with a message
//! that says what was wrong; server faults (storage, signing, CT log) map to 5xx with a generic
//! message, and their details go to the log only (axum's advice: never leak internals).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Errors of the CA, the CT log and the OIDC issuer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ---- the identity token
    #[error("invalid identity token: {0}")]
    Token(&'static str),
    #[error("invalid identity token")]
    TokenValidation(#[source] jsonwebtoken::errors::Error),
    #[error("identity token issuer `{0}` is not configured on this CA")]
    UnknownIssuer(String),
    #[error("identity token has no usable `{0}` claim")]
    MissingClaim(&'static str),
    #[error("identity token subject `{subject}` is not allowed for issuer `{issuer}`: {reason}")]
    SubjectNotAllowed {
        subject: String,
        issuer: String,
        reason: &'static str,
    },
    #[error("identity `{0}` is not ASCII, which an email or URI SAN must be")]
    NotAscii(String),
    #[error("no key with id `{kid}` in the JWKS of issuer `{issuer}`")]
    UnknownKey { issuer: String, kid: String },
    #[error("fetching the signing keys of issuer `{issuer}` failed")]
    Discovery {
        issuer: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },

    // ---- the request
    #[error("malformed request: {0}")]
    MalformedRequest(String),
    #[error("request body over {0} bytes")]
    TooLarge(usize),
    #[error("unsupported public key: {0}")]
    UnsupportedKey(String),
    #[error("proof of possession does not verify: it must be a signature by the requested key over `{challenge}`")]
    ProofOfPossession { challenge: String },
    #[error("certificate signing request signature does not verify")]
    CsrSignature,
    #[error("malformed certificate signing request")]
    Csr(#[source] der::Error),
    #[error("missing bearer token")]
    Unauthenticated,

    // ---- the CT log
    #[error("invalid precertificate chain: {0}")]
    BadChain(&'static str),
    #[error("CT log submission failed")]
    CtSubmission(#[source] Box<dyn std::error::Error + Send + Sync>),

    // ---- internal
    #[error("{what} `{path}`")]
    Io {
        what: &'static str,
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("building the certificate failed")]
    Certificate(#[source] rcgen::Error),
    #[error("signing failed")]
    Signing,
    #[error("stored key `{0}` is corrupt")]
    CorruptKey(String),
    #[error(transparent)]
    Fulcio(#[from] sigil_core::fulcio::FulcioError),
    #[error("the CT log store has stopped")]
    StoreClosed,
    #[error("CT log storage failed: {0}")]
    Storage(String),
    #[error("{0} is beyond the log (tree size {1})")]
    OutOfRange(&'static str, u64),
    #[error("no leaf with this hash in the first {0} entries of the log")]
    LeafNotFound(u64),
}

impl Error {
    pub(crate) fn io(what: &'static str, path: &std::path::Path, source: std::io::Error) -> Self {
        Error::Io {
            what,
            path: path.display().to_string(),
            source,
        }
    }

    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::Token(_)
            | Error::TokenValidation(_)
            | Error::UnknownIssuer(_)
            | Error::UnknownKey { .. }
            | Error::Unauthenticated => StatusCode::UNAUTHORIZED,
            Error::MissingClaim(_)
            | Error::SubjectNotAllowed { .. }
            | Error::NotAscii(_)
            | Error::MalformedRequest(_)
            | Error::UnsupportedKey(_)
            | Error::ProofOfPossession { .. }
            | Error::CsrSignature
            | Error::Csr(_)
            | Error::BadChain(_)
            | Error::OutOfRange(..)
            | Error::LeafNotFound(_) => StatusCode::BAD_REQUEST,
            Error::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::Discovery { .. } | Error::CtSubmission(_) => StatusCode::BAD_GATEWAY,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The message with its causes, for client-facing 4xx answers.
fn chain(err: &dyn std::error::Error) -> String {
    let mut msg = err.to_string();
    let mut cur = err.source();
    while let Some(c) = cur {
        msg.push_str(": ");
        msg.push_str(&c.to_string());
        cur = c.source();
    }
    msg
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        // grpc-gateway's error shape, as Fulcio answers: {"code": N, "message": "..."}.
        let message = if status.is_server_error() {
            tracing::error!(error = %chain(&self), "request failed");
            match self {
                Error::Discovery { .. } => self.to_string(),
                _ => "internal error; see the server log".to_owned(),
            }
        } else {
            tracing::debug!(error = %chain(&self), "request refused");
            chain(&self)
        };
        let body = serde_json::json!({ "code": status.as_u16(), "message": message });
        (status, axum::Json(body)).into_response()
    }
}
