//! Signing flows: a payload is built, signed, optionally recorded in the transparency log,
//! and attached to the image in the registry exactly as cosign attaches it.

mod attest;
mod blob;
mod error;
pub mod fulcio;
mod image;
pub mod rekor;
pub mod token;
pub mod tuf;

// The public interface is:
pub use attest::{
    attest_image, http_client, sign_image_bundle, AttestOptions, Attested, StorageFormat, Stored,
};
pub use blob::{bundle_entry, sign_blob};
pub use error::Error;
pub use image::{sign_image, PreparedSigner, SignOptions, SignedImage, Signer, TlogUpload};
