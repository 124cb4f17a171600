//! Signed envelopes as Sigstore bundles v0.3 (protobuf-specs `sigstore_bundle.proto`) and
//! their storage as OCI referrers, as cosign v3 writes them (cosign `pkg/oci/remote/write.go`
//! `WriteReferrer`): `artifactType` `application/vnd.dev.sigstore.bundle.v0.3+json`, the
//! annotations `dev.sigstore.bundle.content: dsse-envelope`,
//! `dev.sigstore.bundle.predicateType` and `org.opencontainers.image.created`.
//!
//! A v0.3 bundle needs an inclusion proof with a checkpoint (sigstore-go refuses one
//! without), so the log's upload answer must carry one; a keyless bundle carries the leaf
//! certificate only (no chain).

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use bytes::Bytes;
use sigil_core::bundle::{
    B64Bytes, Bundle, Checkpoint, InclusionPromise, InclusionProof, Int64, KindVersion, LogId,
    PublicKeyIdentifier, RawBytes, TransparencyLogEntry, VerificationMaterial, BUNDLE_V03,
};
use sigil_core::intoto::Statement;
use sigil_core::ImageRef;
use sigil_oci::referrers::{
    push_bundle_referrer, PushedReferrer, ANNOTATION_BUNDLE_CONTENT, ANNOTATION_CREATED,
    ANNOTATION_PREDICATE_TYPE,
};
use sigil_oci::{Client, Descriptor};

use super::{http_client, sign_statement, Attested, SignWith, SignedEnvelope, Stored};
use crate::rekor::UploadedEntry;
use crate::{Error, SignOptions, Signer};

fn malformed(detail: &str) -> Error {
    Error::TlogUnavailable(format!(
        "the log's answer cannot go into a bundle: {detail}"
    ))
}

/// The bundle v0.3 for a signed envelope.
pub(crate) fn bundle_for(signed: &SignedEnvelope) -> Result<Bundle, Error> {
    let mut vm = VerificationMaterial::default();
    match &signed.chain {
        Some(chain) => {
            let block = pem_der(chain.leaf_pem())
                .ok_or_else(|| Error::Ca("the CA's leaf certificate is not PEM".into()))?;
            vm.certificate = Some(RawBytes {
                raw_bytes: B64Bytes(block),
            });
        }
        None => {
            vm.public_key = Some(PublicKeyIdentifier {
                hint: signed.public_key.hint(),
            })
        }
    }
    if let Some(e) = &signed.entry {
        vm.tlog_entries.push(tlog_entry(e)?);
    }
    Ok(Bundle {
        media_type: BUNDLE_V03.to_owned(),
        verification_material: vm,
        message_signature: None,
        dsse_envelope: Some(signed.envelope.clone()),
    })
}

/// The DER of the first PEM block of `text`.
fn pem_der(text: &str) -> Option<Vec<u8>> {
    let body: String = text
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    B64.decode(body.trim()).ok()
}

fn tlog_entry(e: &UploadedEntry) -> Result<TransparencyLogEntry, Error> {
    let entry = &e.entry;
    let body = B64
        .decode(&entry.body)
        .map_err(|_| malformed("body is not base64"))?;
    let kind: serde_json::Value =
        serde_json::from_slice(&body).map_err(|_| malformed("body is not JSON"))?;
    let verification = entry
        .verification
        .as_ref()
        .ok_or_else(|| malformed("no verification"))?;
    let set = verification
        .signed_entry_timestamp
        .as_deref()
        .map(|s| B64.decode(s))
        .transpose()
        .map_err(|_| malformed("SET is not base64"))?;
    let proof = verification
        .inclusion_proof
        .as_ref()
        .ok_or_else(|| malformed("no inclusion proof"))?;
    let hex_bytes = |s: &str| hex::decode(s).map_err(|_| malformed("proof hash is not hex"));
    Ok(TransparencyLogEntry {
        log_index: Int64(entry.log_index),
        log_id: LogId {
            key_id: B64Bytes(hex_bytes(&entry.log_id)?),
        },
        kind_version: KindVersion {
            kind: kind["kind"].as_str().unwrap_or_default().to_owned(),
            version: kind["apiVersion"].as_str().unwrap_or_default().to_owned(),
        },
        integrated_time: Int64(entry.integrated_time),
        inclusion_promise: set.map(|s| InclusionPromise {
            signed_entry_timestamp: B64Bytes(s),
        }),
        inclusion_proof: Some(InclusionProof {
            log_index: Int64(proof.log_index),
            root_hash: B64Bytes(hex_bytes(&proof.root_hash)?),
            tree_size: Int64(proof.tree_size),
            hashes: proof
                .hashes
                .iter()
                .map(|h| hex_bytes(h).map(B64Bytes))
                .collect::<Result<_, _>>()?,
            checkpoint: Some(Checkpoint {
                envelope: proof.checkpoint.clone(),
            }),
        }),
        canonicalized_body: B64Bytes(body),
    })
}

/// RFC 3339 UTC now, as the `org.opencontainers.image.created` annotation.
fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// Pushes the signed envelope's bundle as a referrer of `subject` in `repo`.
pub(crate) async fn push_referrer(
    client: &Client,
    repo: &ImageRef,
    subject: &Descriptor,
    predicate_type: &str,
    signed: &SignedEnvelope,
) -> Result<PushedReferrer, Error> {
    let bundle = bundle_for(signed)?;
    let annotations = BTreeMap::from([
        (
            ANNOTATION_BUNDLE_CONTENT.to_owned(),
            "dsse-envelope".to_owned(),
        ),
        (
            ANNOTATION_PREDICATE_TYPE.to_owned(),
            predicate_type.to_owned(),
        ),
        (ANNOTATION_CREATED.to_owned(), now_rfc3339()),
    ]);
    push_bundle_referrer(
        client,
        repo,
        subject,
        Bytes::from(bundle.to_json()),
        annotations,
    )
    .await
    .map_err(|source| Error::Attach {
        image: repo.to_string(),
        source,
    })
}

/// Signs `image` (manifest `subject`) as cosign v3 does: a DSSE envelope over the statement
/// `https://sigstore.dev/cosign/sign/v1` for the digest (the `-a` annotations on its subject),
/// logged as `dsse` 0.0.1, pushed as a bundle referrer.
pub async fn sign_image_bundle(
    client: &Client,
    image: &ImageRef,
    subject: &Descriptor,
    signer: &Signer,
    options: &SignOptions,
) -> Result<Attested, Error> {
    let http = http_client()?;
    let statement = Statement::cosign_sign(&subject.digest, &options.annotations);
    let signed = sign_statement(
        &http,
        statement.to_bytes(),
        SignWith::Signer(signer),
        &options.tlog,
    )
    .await?;
    let repo = options.signature_repository.as_ref().unwrap_or(image);
    let pushed = push_referrer(client, repo, subject, &statement.predicate_type, &signed).await?;
    Ok(Attested {
        bundle: Some(bundle_for(&signed)?),
        log_index: signed.entry.as_ref().map(|e| e.entry.log_index),
        certificate_pem: signed.chain.as_ref().map(|c| c.leaf_pem().to_owned()),
        envelope: signed.envelope,
        stored: Stored::Referrer(pushed),
    })
}
