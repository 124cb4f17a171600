//! Pure types of the container-image trust chain. Nothing here does I/O: clients, servers and
//! the verification pipeline wrap these types.
//!
//! - [`Digest`]: OCI content digests (sha256, sha512).
//! - [`ImageRef`]: image references with distribution's grammar and go-containerregistry's
//!   normalisation.
//! - [`media_types`]: the media types and annotation keys of OCI and cosign.
//! - [`SimpleSigningPayload`]: the payload cosign signs for an image.
//! - [`keys`]: cosign key files (encrypted PKCS#8), public keys, signing and verifying.
//! - [`merkle`]: RFC 6962 Merkle hashing, inclusion and consistency proofs.
//! - [`checkpoint`]: C2SP signed-note checkpoints.
//! - [`rekor`]: Rekor entry bodies, signed entry timestamps (RFC 8785 canonical JSON).
//! - [`bundle`]: Sigstore bundles v0.1–v0.3 (proto3 JSON) and DSSE's PAE.
//! - [`trust_root`]: `trusted_root.json` and ClientTrustConfig.
//! - [`fulcio`]: Fulcio's certificate extensions (OIDs 1.3.6.1.4.1.57264.1.*).
//! - [`tuf`]: a TUF client's verification (spec 1.0), to refresh the trusted root.
//! - [`threads`]: two pieces of CPU work side by side (large attestations).

pub mod bundle;
pub mod checkpoint;
mod digest;
mod error;
pub mod fulcio;
pub mod intoto;
pub mod keys;
pub mod media_types;
pub mod merkle;
mod payload;
mod reference;
pub mod rekor;
pub mod threads;
pub mod trust_root;
pub mod tuf;

// The public interface is:
pub use digest::{Algorithm, Digest, Hasher};
pub use error::Error;
pub use payload::{SimpleSigningPayload, SIMPLE_SIGNING_TYPE};
pub use reference::{is_loopback_host, ImageRef, DOCKER_HUB};
