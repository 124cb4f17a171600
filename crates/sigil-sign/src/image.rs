//! Signing an image with a key, as `cosign sign --key` does (cosign
//! `cmd/cosign/cli/sign/sign.go`): the simple-signing payload for the image digest, an ECDSA
//! (or Ed25519/RSA) signature over the payload bytes, and a layer appended to the
//! `sha256-<hex>.sig` image with the signature in `dev.cosignproject.cosign/signature`.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use bytes::Bytes;
use sigil_core::keys::PrivateKey;
use sigil_core::{media_types, Digest, ImageRef, SimpleSigningPayload};
use sigil_oci::cosign::{attach_layer, Attached, Attachment, NewLayer};
use sigil_oci::Client;

use crate::Error;

/// Whether the signature is recorded in the transparency log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlogUpload {
    /// `--tlog-upload=false`.
    Disabled,
    /// Upload (cosign's default).
    Enabled,
}

/// How to sign.
#[derive(Clone, Debug)]
pub struct SignOptions {
    /// `-a key=value` annotations, signed under `optional`.
    pub annotations: BTreeMap<String, String>,
    pub tlog: TlogUpload,
    /// Where the `.sig` image goes (the image's repository unless `COSIGN_REPOSITORY`).
    pub signature_repository: Option<ImageRef>,
}

/// What was signed and where the signature went.
#[derive(Clone, Debug)]
pub struct SignedImage {
    pub payload: Vec<u8>,
    pub signature: Vec<u8>,
    pub attached: Attached,
}

/// Signs `image` at `digest` with `key` and attaches the signature.
pub async fn sign_image(
    client: &Client,
    image: &ImageRef,
    digest: &Digest,
    key: &PrivateKey,
    options: &SignOptions,
) -> Result<SignedImage, Error> {
    if options.tlog == TlogUpload::Enabled {
        return Err(Error::TlogUnavailable(
            "sigil's transparency log client is not wired into signing yet; pass --tlog-upload=false".into(),
        ));
    }
    let payload = SimpleSigningPayload::new(image, digest, &options.annotations).to_bytes();
    let signature = key.sign(&payload).map_err(Error::Sign)?;
    let mut annotations = BTreeMap::new();
    annotations.insert(
        media_types::ANNOTATION_SIGNATURE.to_owned(),
        B64.encode(&signature),
    );
    let repo = options.signature_repository.as_ref().unwrap_or(image);
    let attached = attach_layer(
        client,
        repo,
        digest,
        Attachment::Signature,
        NewLayer {
            media_type: media_types::COSIGN_SIMPLE_SIGNING.to_owned(),
            payload: Bytes::from(payload.clone()),
            annotations,
        },
    )
    .await
    .map_err(|source| Error::Attach {
        image: image.to_string(),
        source,
    })?;
    Ok(SignedImage {
        payload,
        signature,
        attached,
    })
}
