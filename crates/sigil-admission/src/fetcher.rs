//! Where signatures, attestations and digests come from: the [`Fetcher`] trait and its
//! implementation over sigil's registry client, reading both generations of cosign's layout
//! exactly as `sigil verify` and `sigil verify-attestation` do: `.sig`/`.att` tags and
//! Sigstore bundle referrers (OCI 1.1 referrers API, or the `sha256-<hex>` fallback index).

use std::sync::Arc;

use sigil_core::{Digest, ImageRef};
use sigil_oci::cosign::{fetch_layers, Attachment};
use sigil_oci::referrers::{fetch_bundle_referrers, ANNOTATION_PREDICATE_TYPE};
use sigil_oci::Client;
use sigil_verify::{AttestationCandidate, SignatureCandidate};

use crate::verifier::VerifyError;

/// One Sigstore bundle referrer of an image.
#[derive(Clone, Debug)]
pub struct BundleBlob {
    /// The referrer's `dev.sigstore.bundle.predicateType` annotation, when it has one
    /// (cosign v3 signatures carry `https://sigstore.dev/cosign/sign/v1`).
    pub predicate_type: Option<String>,
    /// The bundle JSON.
    pub bundle: Vec<u8>,
}

/// Where signatures and digests come from.
#[async_trait::async_trait]
pub trait Fetcher: Send + Sync + 'static {
    /// The digest `image`'s tag points to now.
    async fn resolve(&self, image: &ImageRef) -> Result<Digest, VerifyError>;
    /// The `.sig` layers attached to `digest` in `repository`; `None` when there are none.
    async fn signatures(
        &self,
        repository: &ImageRef,
        digest: &Digest,
    ) -> Result<Option<Vec<SignatureCandidate>>, VerifyError>;
    /// The Sigstore bundle referrers of `digest` in `repository` (signatures and
    /// attestations of cosign v3). None by default.
    async fn bundles(
        &self,
        _repository: &ImageRef,
        _digest: &Digest,
    ) -> Result<Vec<BundleBlob>, VerifyError> {
        Ok(Vec::new())
    }
    /// The layers of the `.att` tag of `digest` in `repository`, as attestation
    /// candidates. None by default.
    async fn attestation_layers(
        &self,
        _repository: &ImageRef,
        _digest: &Digest,
    ) -> Result<Vec<AttestationCandidate>, VerifyError> {
        Ok(Vec::new())
    }
}

/// [`Fetcher`] over sigil's registry client (the same layout reading as `sigil verify`).
#[derive(Debug)]
pub struct RegistryFetcher {
    pub client: Arc<Client>,
}

fn transport(e: sigil_oci::Error) -> VerifyError {
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    VerifyError::Unavailable(msg)
}

#[async_trait::async_trait]
impl Fetcher for RegistryFetcher {
    async fn resolve(&self, image: &ImageRef) -> Result<Digest, VerifyError> {
        match self.client.head_manifest(image).await {
            Ok(Some(d)) => Ok(d.digest),
            Ok(None) => Err(VerifyError::Failed(format!("image not found: {image}"))),
            Err(e) => Err(transport(e)),
        }
    }

    async fn signatures(
        &self,
        repository: &ImageRef,
        digest: &Digest,
    ) -> Result<Option<Vec<SignatureCandidate>>, VerifyError> {
        let layers = fetch_layers(&self.client, repository, digest, Attachment::Signature)
            .await
            .map_err(transport)?;
        Ok(layers.map(|layers| {
            layers
                .into_iter()
                .map(|l| SignatureCandidate {
                    signature_b64: l.signature_b64().map(str::to_owned),
                    certificate_pem: l.certificate().map(str::to_owned),
                    chain_pem: l.chain().map(str::to_owned),
                    rekor_bundle: l.bundle().map(str::to_owned),
                    payload: l.payload.to_vec(),
                })
                .collect()
        }))
    }

    async fn bundles(
        &self,
        repository: &ImageRef,
        digest: &Digest,
    ) -> Result<Vec<BundleBlob>, VerifyError> {
        let found = fetch_bundle_referrers(&self.client, repository, digest)
            .await
            .map_err(transport)?;
        Ok(found
            .into_iter()
            .map(|r| BundleBlob {
                predicate_type: r
                    .descriptor
                    .annotations
                    .get(ANNOTATION_PREDICATE_TYPE)
                    .cloned(),
                bundle: r.bundle.to_vec(),
            })
            .collect())
    }

    async fn attestation_layers(
        &self,
        repository: &ImageRef,
        digest: &Digest,
    ) -> Result<Vec<AttestationCandidate>, VerifyError> {
        let layers = fetch_layers(&self.client, repository, digest, Attachment::Attestation)
            .await
            .map_err(transport)?;
        Ok(layers
            .unwrap_or_default()
            .into_iter()
            .map(|l| AttestationCandidate::Legacy {
                certificate_pem: l.certificate().map(str::to_owned),
                chain_pem: l.chain().map(str::to_owned),
                rekor_bundle: l.bundle().map(str::to_owned),
                envelope: l.payload.to_vec(),
            })
            .collect())
    }
}
