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
use sigil_core::intoto::{
    add_signature, envelope_json, envelope_to_sign, sign_envelope, StatementPayload,
};
use sigil_core::{media_types, ImageRef};
use sigil_oci::cosign::{stage_attachment, Attachment};
use sigil_oci::referrers::PushedReferrer;
use sigil_oci::{Client, Descriptor};

use crate::fulcio::CertificateChain;
use crate::rekor::{DsseRequest, RekorClient, UploadedEntry};
use crate::{Error, PreparedSigner, Signer, TlogUpload};

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
    /// Also return the Sigstore bundle of the envelope ([`Attested::bundle`]) when storing
    /// in the `Legacy` layout (a bundle referrer always has one).
    pub want_bundle: bool,
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

/// What signs an envelope: a signer that may still need the CA, or a prepared one.
pub(crate) enum SignWith<'a> {
    Signer(&'a Signer),
    Prepared(&'a PreparedSigner),
}

/// The HTTP client of the signing services (OIDC token, CA, log), one per process: building
/// a client reads and parses the system's root certificates, which a keyless `attest` would
/// otherwise pay three times.
pub fn http_client() -> Result<reqwest::Client, Error> {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    if let Some(client) = CLIENT.get() {
        return Ok(client.clone());
    }
    let client = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(10))
        .timeout(std::time::Duration::from_secs(120))
        .build()
        .map_err(|e| Error::Ca(format!("setting up HTTP: {e}")))?;
    Ok(CLIENT.get_or_init(|| client).clone())
}

/// An envelope signed with a prepared signer's key, before its certificate is known.
struct KeySigned {
    envelope: DsseEnvelope,
    json: Bytes,
    /// The envelope JSON as the `.att` layer's descriptor.
    descriptor: Descriptor,
    /// The log's `dsse` request up to its verifiers, when the log is enabled.
    log: Option<PendingLog>,
}

/// A `dsse` entry written up to its verifiers, and the log it goes to.
struct PendingLog {
    rekor_url: String,
    request: DsseRequest,
}

/// The log request for envelope `json` when the log is enabled.
fn pending_log(json: &[u8], tlog: &TlogUpload) -> Result<Option<PendingLog>, Error> {
    let TlogUpload::Enabled { rekor_url } = tlog else {
        return Ok(None);
    };
    let text = std::str::from_utf8(json).map_err(|_| {
        Error::Sign(sigil_core::Error::Signing(
            "the envelope JSON is not UTF-8".into(),
        ))
    })?;
    Ok(Some(PendingLog {
        rekor_url: rekor_url.clone(),
        request: DsseRequest::new(text),
    }))
}

/// Signs `payload` with the key of `signer` and writes what the log and the registry take,
/// off the async workers (a multi-MiB statement is hashed, encoded and escaped here) and
/// while the CA issues the certificate.
async fn sign_with_key(
    signer: &PreparedSigner,
    payload: Vec<u8>,
    tlog: &TlogUpload,
) -> Result<KeySigned, Error> {
    let key = signer.key();
    let tlog = tlog.clone();
    tokio::task::spawn_blocking(move || {
        let (envelope, json) = sign_envelope(payload, |pae| key.sign(pae)).map_err(Error::Sign)?;
        // The log's request (the envelope escaped into a JSON string) is written on a second
        // thread while this one hashes the envelope for its descriptor.
        let (log, descriptor) = sigil_core::threads::join(
            "log-request",
            || pending_log(&json, &tlog),
            || Descriptor::for_bytes(media_types::DSSE_ENVELOPE, &json),
        );
        Ok(KeySigned {
            envelope,
            json: Bytes::from(json),
            descriptor,
            log: log?,
        })
    })
    .await
    .map_err(|e| {
        Error::Sign(sigil_core::Error::Signing(format!(
            "the signing task stopped: {e}"
        )))
    })?
}

/// Sends a pending `dsse` 0.0.1 entry (nothing when the log is disabled).
async fn log_envelope(
    http: &reqwest::Client,
    log: Option<PendingLog>,
    verifier_pem: &str,
) -> Result<Option<UploadedEntry>, Error> {
    let Some(PendingLog { rekor_url, request }) = log else {
        return Ok(None);
    };
    let rekor = RekorClient::with_http(&rekor_url, http.clone()).map_err(Error::Tlog)?;
    let entry = rekor
        .upload_dsse_request(request, &[verifier_pem])
        .await
        .map_err(Error::Tlog)?;
    Ok(Some(entry))
}

/// Signs `payload` (an in-toto statement) as a DSSE envelope and logs it as a `dsse` 0.0.1
/// entry.
pub(crate) async fn sign_statement(
    http: &reqwest::Client,
    payload: Vec<u8>,
    signer: SignWith<'_>,
    tlog: &TlogUpload,
) -> Result<SignedEnvelope, Error> {
    let (envelope, request, signature) = match signer {
        SignWith::Signer(s) => {
            let (mut envelope, to_sign) = envelope_to_sign(payload);
            let mut signature = s.sign(http, &to_sign).await?;
            drop(to_sign);
            add_signature(&mut envelope, std::mem::take(&mut signature.bytes));
            let request = pending_log(&envelope_json(&envelope), tlog)?;
            (envelope, request, signature)
        }
        SignWith::Prepared(p) => {
            let signed = sign_with_key(p, payload, tlog).await?;
            (signed.envelope, signed.log, p.signature().await?)
        }
    };
    let entry = log_envelope(http, request, &signature.verifier_pem).await?;
    Ok(SignedEnvelope {
        envelope,
        chain: signature.chain,
        public_key: signature.public_key,
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
    statement: StatementPayload,
    signer: &PreparedSigner,
    options: &AttestOptions,
) -> Result<Attested, Error> {
    let http = http_client()?;
    let repo = options.signature_repository.as_ref().unwrap_or(image);
    let attach_error = |source| Error::Attach {
        image: image.to_string(),
        source,
    };
    let (signed, stored) = match options.format {
        StorageFormat::Legacy => {
            // Signed, encoded and hashed while the CA issues the certificate; then the
            // layer's blob (the envelope alone: the log entry goes into the layer's
            // annotations) is pushed, and the `.att` image read and its next config pushed,
            // while the log records the entry; the manifest waits for all three. A log
            // failure leaves unreferenced blobs, as any failed push.
            let KeySigned {
                envelope,
                json,
                mut descriptor,
                log,
            } = sign_with_key(signer, statement.bytes, &options.tlog).await?;
            let (entry, (), staged) = tokio::try_join!(
                async {
                    let signature = signer.signature().await?;
                    let entry = log_envelope(&http, log, &signature.verifier_pem).await?;
                    Ok((entry, signature))
                },
                async {
                    client
                        .push_hashed_blob(repo, &descriptor.digest, json.clone())
                        .await
                        .map_err(attach_error)
                },
                async {
                    stage_attachment(
                        client,
                        repo,
                        &subject.digest,
                        Attachment::Attestation,
                        &descriptor.digest,
                    )
                    .await
                    .map_err(attach_error)
                },
            )?;
            let (entry, signature) = entry;
            drop(json);
            let signed = SignedEnvelope {
                envelope,
                chain: signature.chain,
                public_key: signature.public_key,
                entry,
            };
            descriptor.annotations =
                legacy_annotations(&statement.predicate_type, &signed, &options.tlog)?;
            let attached = staged
                .finish(client, repo, descriptor)
                .await
                .map_err(attach_error)?;
            let stored = Stored::Legacy {
                reference: attached.reference,
                already_present: attached.already_present,
            };
            (signed, stored)
        }
        StorageFormat::Bundle => {
            let signed = sign_statement(
                &http,
                statement.bytes,
                SignWith::Prepared(signer),
                &options.tlog,
            )
            .await?;
            let pushed =
                bundle::push_referrer(client, repo, subject, &statement.predicate_type, &signed)
                    .await?;
            (signed, Stored::Referrer(pushed))
        }
    };
    let bundle = if options.want_bundle || options.format == StorageFormat::Bundle {
        bundle::bundle_for(&signed).ok()
    } else {
        None
    };
    Ok(Attested {
        bundle,
        log_index: signed.entry.as_ref().map(|e| e.entry.log_index),
        certificate_pem: signed.chain.as_ref().map(|c| c.leaf_pem().to_owned()),
        envelope: signed.envelope,
        stored,
    })
}

/// The annotations of a `.att` layer as cosign writes them.
fn legacy_annotations(
    predicate_type: &str,
    signed: &SignedEnvelope,
    tlog: &TlogUpload,
) -> Result<BTreeMap<String, String>, Error> {
    let mut annotations = BTreeMap::new();
    annotations.insert("predicateType".to_owned(), predicate_type.to_owned());
    // cosign writes the signature annotation empty: the signature is inside the envelope.
    annotations.insert(media_types::ANNOTATION_SIGNATURE.to_owned(), String::new());
    if let Some(chain) = &signed.chain {
        annotations.insert(
            media_types::ANNOTATION_CERTIFICATE.to_owned(),
            chain.leaf_pem().to_owned(),
        );
        annotations.insert(media_types::ANNOTATION_CHAIN.to_owned(), chain.chain_pem());
    }
    if let (Some(e), TlogUpload::Enabled { rekor_url }) = (&signed.entry, tlog) {
        annotations.insert(
            media_types::ANNOTATION_BUNDLE.to_owned(),
            rekor_bundle_annotation(e, rekor_url)?,
        );
    }
    Ok(annotations)
}
