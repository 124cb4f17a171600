//! Pure types of the container-image trust chain. Nothing here does I/O: clients, servers and
//! the verification pipeline wrap these types.
//!
//! - [`Digest`]: OCI content digests (sha256, sha512).
//! - [`ImageRef`]: image references with distribution's grammar and go-containerregistry's
//!   normalisation.
//! - [`media_types`]: the media types and annotation keys of OCI and cosign.
//! - [`SimpleSigningPayload`]: the payload cosign signs for an image.
//! - [`keys`]: cosign key files (encrypted PKCS#8), public keys, signing and verifying.

mod digest;
mod error;
pub mod keys;
pub mod media_types;
mod payload;
mod reference;

// The public interface is:
pub use digest::{Algorithm, Digest, Hasher};
pub use error::Error;
pub use payload::{SimpleSigningPayload, SIMPLE_SIGNING_TYPE};
pub use reference::{is_loopback_host, ImageRef, DOCKER_HUB};
