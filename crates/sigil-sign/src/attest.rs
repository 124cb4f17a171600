//! Attestations as `cosign attest` makes them (cosign `cmd/cosign/cli/attest/attest.go`): an
//! in-toto statement about the image digest ([`sigil_core::intoto::Statement`]), wrapped in a
//! DSSE envelope signed over its PAE, recorded in the log as a `dsse` 0.0.1 entry, and stored
//! either as cosign v2 does (a layer of the `sha256-<hex>.att` image: the envelope JSON, media
//! type `application/vnd.dsse.envelope.v1+json`, annotations `predicateType`, an empty
//! signature, certificate, chain and Rekor bundle), or with `--new-bundle-format` as a Sigstore
//! bundle v0.3 referrer (see [`bundle`]).
//!
//! cosign v3 image signatures (`sign --new-bundle-format`) are the same thing with the
//! statement `https://sigstore.dev/cosign/sign/v1`: [`sign_image_bundle`].

mod bundle;

use std::collections::BTreeMap;

use bytes::Bytes;
use sigil_core::bundle::DsseEnvelope;
use sigil_core::intoto::{add_signature, envelope_json, envelope_to_sign, Statement};
use sigil_core::{media_types, Digest, ImageRef};
use sigil_oci::cosign::{attach_layer, Attachment, NewLayer};
use sigil_oci::referrers::PushedReferrer;
use sigil_oci::{Client, Descriptor};

use crate::fulcio::CertificateChain;
use crate::rekor::{RekorClient, UploadedEntry};
use crate::{Error, Signer, TlogUpload};

pub use bundle::sign_image_bundle;

/// Where the signed envelope is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StorageFormat {
    /// cosign v2: a layer of the `sha256-<hex>.att` image.
    Legacy,
    /// cosign v3 / `--new-bundle-format`: a Sigstore bundle v0.3 referrer.
    Bundle,
}

/// How to attest.
#[derive(Clone, Debug)]
pub struct AttestOptions {
    pub tlog: TlogUpload,
    pub format: StorageFormat,
    /// Where the `.att` image goes (the image's repository unless `COSIGN_REPOSITORY`).
    pub signature_repository: Option<ImageRef>,
}

/// Where an attestation went.
#[derive(Clone, Debug)]
pub enum Stored {
    /// The `.att` reference written; `already_present` when the identical layer was there.
    Legacy {
        reference: ImageRef,
        already_present: bool,
    },
    Referrer(PushedReferrer),
}

/// What was attested.
#[derive(Clone, Debug)]
pub struct Attested {
    pub envelope: DsseEnvelope,
    pub stored: Stored,
    pub log_index: Option<i64>,
    pub certificate_pem: Option<String>,
    /// The Sigstore bundle v0.3 of the envelope (`--bundle FILE`), when the log answered an
    /// inclusion proof or no log was used.
    pub bundle: Option<sigil_core::bundle::Bundle>,
}

/// A signed envelope and what vouches for it.
pub(crate) struct SignedEnvelope {
    pub envelope: DsseEnvelope,
    pub chain: Option<CertificateChain>,
    pub public_key: sigil_core::keys::PublicKey,
    pub entry: Option<UploadedEntry>,
}

pub(crate) fn http_client() -> Result<reqwest::Client, Error> {
    reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(10))
        .timeout(std::time::Duration::from_secs(120))
        .build()
        .map_err(|e| Error::Ca(format!("setting up HTTP: {e}")))
}

/// Signs `statement` as a DSSE envelope and logs it as a `dsse` 0.0.1 entry.
pub(crate) async fn sign_statement(
    http: &reqwest::Client,
    statement: &Statement,
    signer: &Signer,
    tlog: &TlogUpload,
) -> Result<SignedEnvelope, Error> {
    let (mut envelope, to_sign) = envelope_to_sign(statement.to_bytes());
    let crate::image::Signature {
        bytes: signature,
        verifier_pem,
        public_key,
        chain,
    } = signer.sign(http, &to_sign).await?;
    add_signature(&mut envelope, signature);
    let mut entry = None;
    if let TlogUpload::Enabled { rekor_url } = tlog {
        let rekor = RekorClient::with_http(rekor_url, http.clone()).map_err(Error::Tlog)?;
        let json = String::from_utf8_lossy(&envelope_json(&envelope)).into_owned();
        entry = Some(
            rekor
                .upload_dsse(&json, &[verifier_pem.as_str()])
                .await
                .map_err(Error::Tlog)?,
        );
    }
    Ok(SignedEnvelope {
        envelope,
        chain,
        public_key,
        entry,
    })
}

/// cosign's `dev.sigstore.cosign/bundle` annotation for a log entry (its RekorBundle, field
/// order as Go writes it).
pub(crate) fn rekor_bundle_annotation(e: &UploadedEntry, rekor_url: &str) -> Result<String, Error> {
    let set = e
        .entry
        .verification
        .as_ref()
        .and_then(|v| v.signed_entry_timestamp.clone())
        .ok_or_else(|| {
            Error::TlogUnavailable(format!(
                "the log at {rekor_url} returned no signed entry timestamp"
            ))
        })?;
    Ok(serde_json::json!({
        "SignedEntryTimestamp": set,
        "Payload": {
            "body": e.entry.body,
            "integratedTime": e.entry.integrated_time,
            "logIndex": e.entry.log_index,
            "logID": e.entry.log_id,
        }
    })
    .to_string())
}

/// Attests `statement` about `image` at `digest` (whose manifest is `subject`) and stores it.
pub async fn attest_image(
    client: &Client,
    image: &ImageRef,
    subject: &Descriptor,
    statement: &Statement,
    signer: &Signer,
    options: &AttestOptions,
) -> Result<Attested, Error> {
    let http = http_client()?;
    let signed = sign_statement(&http, statement, signer, &options.tlog).await?;
    let log_index = signed.entry.as_ref().map(|e| e.entry.log_index);
    let certificate_pem = signed.chain.as_ref().map(|c| c.leaf_pem().to_owned());
    let repo = options.signature_repository.as_ref().unwrap_or(image);
    let stored = match options.format {
        StorageFormat::Legacy => {
            let rekor_bundle = match (&signed.entry, &options.tlog) {
                (Some(e), TlogUpload::Enabled { rekor_url }) => {
                    Some(rekor_bundle_annotation(e, rekor_url)?)
                }
                _ => None,
            };
            attach_legacy(
                client,
                repo,
                &subject.digest,
                statement,
                &signed,
                rekor_bundle,
            )
            .await
            .map_err(|source| Error::Attach {
                image: image.to_string(),
                source,
            })?
        }
        StorageFormat::Bundle => Stored::Referrer(
            bundle::push_referrer(client, repo, subject, statement, &signed).await?,
        ),
    };
    Ok(Attested {
        bundle: bundle::bundle_for(&signed).ok(),
        envelope: signed.envelope,
        stored,
        log_index,
        certificate_pem,
    })
}

async fn attach_legacy(
    client: &Client,
    repo: &ImageRef,
    digest: &Digest,
    statement: &Statement,
    signed: &SignedEnvelope,
    rekor_bundle: Option<String>,
) -> Result<Stored, sigil_oci::Error> {
    let mut annotations = BTreeMap::new();
    annotations.insert("predicateType".to_owned(), statement.predicate_type.clone());
    // cosign writes the signature annotation empty: the signature is inside the envelope.
    annotations.insert(media_types::ANNOTATION_SIGNATURE.to_owned(), String::new());
    if let Some(chain) = &signed.chain {
        annotations.insert(
            media_types::ANNOTATION_CERTIFICATE.to_owned(),
            chain.leaf_pem().to_owned(),
        );
        annotations.insert(media_types::ANNOTATION_CHAIN.to_owned(), chain.chain_pem());
    }
    if let Some(a) = rekor_bundle {
        annotations.insert(media_types::ANNOTATION_BUNDLE.to_owned(), a);
    }
    let attached = attach_layer(
        client,
        repo,
        digest,
        Attachment::Attestation,
        NewLayer {
            media_type: media_types::DSSE_ENVELOPE.to_owned(),
            payload: Bytes::from(envelope_json(&signed.envelope)),
            annotations,
        },
    )
    .await?;
    Ok(Stored::Legacy {
        reference: attached.reference,
        already_present: attached.already_present,
    })
}
