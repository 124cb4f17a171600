//! The registry side of sigil's client: OCI distribution v1.1 requests with credentials and
//! the token flow, plus cosign's storage layouts for signatures (`sha256-<hex>.sig`).

mod auth;
mod blobs;
mod client;
pub mod cosign;
mod error;
pub mod layout;
pub mod manifest;
pub mod pack;
pub mod referrers;

// The public interface is:
pub use auth::{Credential, Keychain};
pub use client::{
    referrers_tag, Client, ClientOptions, Manifest, PushedManifest, MAX_MANIFEST_SIZE,
};
pub use error::Error;
pub use manifest::{Descriptor, ImageIndex, ImageManifest, Platform};
