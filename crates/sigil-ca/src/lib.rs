//! sigil-ca: a certificate authority with Fulcio's v2 API and certificate profile, the RFC 6962
//! CT log its precertificates go to, OIDC identity-token verification, and a dev OIDC issuer
//! that mints tokens with GitHub Actions' claims and speaks its runner token protocol.
//!
//! - [`router`] / [`open_ca`]: the CA (`POST /api/v2/signingCert`, `GET /api/v2/trustBundle`,
//!   `GET /api/v2/configuration`, `GET /api/v1/rootCert`) and the embedded CT log
//!   (`POST /ct/v1/add-pre-chain`, `GET /ct/v1/get-roots`).
//! - [`issuer_router`] / [`DevIssuer`]: the dev OIDC issuer (discovery, JWKS, `/token`).
//! - [`CaConfig`]: `ca.yaml`, Fulcio's issuer configuration.
//! - [`Signer`]: where CA and CT keys live (files now; KMS/PKCS#11 later).
//! - [`spawn`]: serve a router on a listener, for the CLI and for `sigil up`.
//!
//! The certificate extensions and SCT encodings themselves are in `sigil_core::fulcio`, shared
//! with the verifier.

mod api;
mod authority;
mod config;
mod ct;
mod error;
mod issuer;
mod keys;
mod principal;
mod server;
mod signer;
mod store;
mod verify;

// The public interface is:
pub use api::{ct_router, router, CaState, MAX_BODY};
pub use authority::{Authority, CaFiles, IssuedChain, Principal, LEAF_VALIDITY};
pub use config::{CaConfig, IssuerConfig, IssuerKind};
pub use ct::{
    certificate_leaf, AddChainRequest, AddChainResponse, CtLog, CtSubmitter, SignedTreeHead,
    MAX_GET_ENTRIES,
};
pub use error::Error;
pub use issuer::{
    router as issuer_router, DevIssuer, IssuerSettings, WorkflowProfile, REQUEST_TOKEN_TTL_SECS,
    TOKEN_TTL_SECS,
};
pub use keys::{KeyKind, SubjectKey};
pub use principal::principal;
pub use server::{open_ca, spawn, ServerHandle};
pub use signer::{FileSigner, Signer};
pub use verify::{TokenVerifier, VerifiedToken};
