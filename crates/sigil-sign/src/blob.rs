//! Signing a file into a Sigstore bundle v0.3 (`cosign sign-blob --bundle`, sigstore-python
//! `sign`): a message signature over the file, a hashedrekord entry in the log, and the log's
//! inclusion promise and proof (with its signed checkpoint) in the bundle, so the bundle
//! verifies offline.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use sigil_core::bundle::{
    B64Bytes, Bundle, Checkpoint, HashOutput, InclusionPromise, InclusionProof, Int64, KindVersion,
    LogId, MessageSignature, PublicKeyIdentifier, RawBytes, TransparencyLogEntry,
    VerificationMaterial, BUNDLE_V03,
};
use sigil_core::rekor::LogEntry;

use crate::rekor::{hashedrekord_entry, RekorClient};
use crate::{Error, Signer};

/// Signs `artifact` and returns its bundle. The log is mandatory: a bundle without a log
/// entry cannot be verified by Sigstore clients.
pub async fn sign_blob(
    http: &reqwest::Client,
    artifact: &[u8],
    signer: &Signer,
    rekor_url: &str,
) -> Result<Bundle, Error> {
    let digest: [u8; 32] = Sha256::digest(artifact).into();
    let signed = signer.sign(http, artifact).await?;
    let material = match &signed.chain {
        None => VerificationMaterial {
            public_key: Some(PublicKeyIdentifier {
                hint: signed.public_key.hint(),
            }),
            ..Default::default()
        },
        Some(chain) => {
            let leaf = pem::parse(chain.leaf_pem())
                .map_err(|e| Error::Ca(format!("leaf certificate is not PEM: {e}")))?;
            VerificationMaterial {
                certificate: Some(RawBytes {
                    raw_bytes: B64Bytes(leaf.into_contents()),
                }),
                ..Default::default()
            }
        }
    };
    let (signature, verifier_pem) = (signed.bytes, signed.verifier_pem);
    let rekor = RekorClient::with_http(rekor_url, http.clone()).map_err(Error::Tlog)?;
    let uploaded = rekor
        .upload(&hashedrekord_entry(&digest, &signature, &verifier_pem))
        .await
        .map_err(Error::Tlog)?;
    let mut material = material;
    material.tlog_entries = vec![bundle_entry(&uploaded.entry, "hashedrekord")?];
    Ok(Bundle {
        media_type: BUNDLE_V03.to_owned(),
        verification_material: material,
        message_signature: Some(MessageSignature {
            message_digest: Some(HashOutput {
                algorithm: "SHA2_256".to_owned(),
                digest: B64Bytes(digest.to_vec()),
            }),
            signature: B64Bytes(signature),
        }),
        dsse_envelope: None,
    })
}

/// A Rekor v1 API entry as a bundle's `TransparencyLogEntry` (hex → bytes, SET, proof).
pub fn bundle_entry(e: &LogEntry, kind: &str) -> Result<TransparencyLogEntry, Error> {
    let bad = |what: &str| Error::TlogUnavailable(format!("the log answered an entry with {what}"));
    let body = B64
        .decode(&e.body)
        .map_err(|_| bad("a body that is not base64"))?;
    let log_id = hex::decode(&e.log_id).map_err(|_| bad("a logID that is not hex"))?;
    let v = e
        .verification
        .as_ref()
        .ok_or_else(|| bad("no verification"))?;
    let set = v
        .signed_entry_timestamp
        .as_deref()
        .ok_or_else(|| bad("no signed entry timestamp"))
        .and_then(|s| B64.decode(s).map_err(|_| bad("a SET that is not base64")))?;
    let proof = match &v.inclusion_proof {
        Some(p) => Some(InclusionProof {
            log_index: Int64(p.log_index),
            root_hash: B64Bytes(
                hex::decode(&p.root_hash).map_err(|_| bad("a root hash that is not hex"))?,
            ),
            tree_size: Int64(p.tree_size),
            hashes: p
                .hashes
                .iter()
                .map(|h| {
                    hex::decode(h)
                        .map(B64Bytes)
                        .map_err(|_| bad("a proof hash that is not hex"))
                })
                .collect::<Result<_, _>>()?,
            checkpoint: Some(Checkpoint {
                envelope: p.checkpoint.clone(),
            }),
        }),
        None => None,
    };
    Ok(TransparencyLogEntry {
        log_index: Int64(e.log_index),
        log_id: LogId {
            key_id: B64Bytes(log_id),
        },
        kind_version: KindVersion {
            kind: kind.to_owned(),
            version: "0.0.1".to_owned(),
        },
        integrated_time: Int64(e.integrated_time),
        inclusion_promise: Some(InclusionPromise {
            signed_entry_timestamp: B64Bytes(set),
        }),
        inclusion_proof: proof,
        canonicalized_body: B64Bytes(body),
    })
}
