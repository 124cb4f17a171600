//! One `.att` layer (cosign v2 attestation storage, `specs/SIGNATURE_SPEC.md`): the DSSE
//! envelope JSON as the blob, the signature annotation empty, the certificate, chain and
//! Rekor bundle annotations as for `.sig` layers. The checks are `image.rs`'s, in its order,
//! over the envelope's PAE instead of a simple-signing payload.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use sigil_core::bundle::pae;
use sigil_core::intoto::{parse_envelope, Statement, INTOTO_PAYLOAD_TYPE};
use sigil_core::rekor::{self, LogEntry};
use sigil_core::trust_root::TrustedRoot;
use sigil_core::Digest;

use crate::bundle::{check_body, SignedContent};
use crate::image::{check_certificate, policy_key, policy_leaf, ImagePolicy};
use crate::verdict::Failure;
use crate::{x509, TlogPolicy};

/// cosign's `dev.sigstore.cosign/bundle` annotation (`pkg/cosign/bundle/rekor.go`).
#[derive(serde::Deserialize)]
struct RekorBundle {
    #[serde(rename = "SignedEntryTimestamp")]
    set: String,
    #[serde(rename = "Payload")]
    payload: RekorPayload,
}

#[derive(serde::Deserialize)]
struct RekorPayload {
    body: String,
    #[serde(rename = "integratedTime")]
    integrated_time: i64,
    #[serde(rename = "logIndex")]
    log_index: i64,
    #[serde(rename = "logID")]
    log_id: String,
}

fn tlog(detail: impl Into<String>) -> Failure {
    Failure::Tlog {
        detail: detail.into(),
    }
}

/// Verifies one layer; returns its statement.
pub(super) fn verify_layer(
    digest: &Digest,
    envelope_bytes: &[u8],
    certificate_pem: Option<&str>,
    chain_pem: Option<&str>,
    rekor_bundle: Option<&str>,
    policy: &ImagePolicy,
) -> Result<Statement, Failure> {
    let leaf = policy_leaf(&policy.trust, certificate_pem, "attestation")?;
    let key = policy_key(&policy.trust, leaf.as_ref())?;
    // (1) The envelope and its signature.
    let envelope = parse_envelope(envelope_bytes).map_err(|e| Failure::MalformedPayload {
        detail: e.to_string(),
    })?;
    if envelope.payload_type != INTOTO_PAYLOAD_TYPE {
        return Err(Failure::PayloadType {
            found: envelope.payload_type.clone(),
        });
    }
    let [signature] = envelope.signatures.as_slice() else {
        return Err(Failure::MalformedSignature {
            detail: format!(
                "DSSE envelope must have exactly one signature, has {}",
                envelope.signatures.len()
            ),
        });
    };
    let signature = &signature.sig.0;
    key.verify(&pae(&envelope.payload_type, &envelope.payload.0), signature)
        .map_err(|_| Failure::SignatureMismatch)?;
    let content = SignedContent::Dsse {
        payload_type: &envelope.payload_type,
        payload: &envelope.payload.0,
        signature,
    };
    // (2) The transparency log.
    let mut integrated_time = None;
    if policy.tlog == TlogPolicy::Required {
        let annotation = rekor_bundle.ok_or(Failure::TlogEntryMissing)?;
        let root = policy
            .trusted_root
            .as_deref()
            .ok_or_else(|| Failure::TlogUnverifiable {
                detail: "no trusted root is configured (pass --trusted-root or --trust-config)"
                    .into(),
            })?;
        integrated_time = Some(verify_annotation(
            annotation,
            root,
            &content,
            key,
            leaf.as_ref(),
        )?);
    }
    // (3) The certificate: chain at the log's time, SCT, identity.
    check_certificate(policy, leaf.as_ref(), chain_pem, integrated_time)?;
    // (4) The claims: some subject is the image.
    let statement = Statement::header_from_slice(&envelope.payload.0).map_err(|e| {
        Failure::MalformedPayload {
            detail: e.to_string(),
        }
    })?;
    if !statement.has_subject(digest) {
        let claimed: Vec<String> = statement
            .subject
            .iter()
            .flat_map(|s| s.digest.iter().map(|(a, h)| format!("{a}:{h}")))
            .collect();
        return Err(Failure::DigestMismatch {
            expected: digest.clone(),
            claimed: claimed.join(", "),
        });
    }
    Ok(statement)
}

/// The Rekor bundle annotation: SET by a trusted log valid at the integrated time, and a
/// `dsse` 0.0.1 or `intoto` 0.0.2 body recording this envelope and signer.
fn verify_annotation(
    annotation: &str,
    root: &TrustedRoot,
    content: &SignedContent<'_>,
    key: &sigil_core::keys::PublicKey,
    leaf: Option<&x509::Leaf>,
) -> Result<i64, Failure> {
    let b: RekorBundle = serde_json::from_str(annotation)
        .map_err(|e| tlog(format!("malformed bundle annotation: {e}")))?;
    let log_id = hex::decode(&b.payload.log_id).map_err(|_| tlog("bundle logID is not hex"))?;
    let log = root
        .tlog(&log_id)
        .ok_or_else(|| tlog(format!("entry from unknown log {}", b.payload.log_id)))?;
    let log_key = log.key().map_err(|e| tlog(e.to_string()))?;
    let t = b.payload.integrated_time;
    if !log.valid_at(t) {
        return Err(tlog(format!(
            "integrated time {t} is outside the log key's validity"
        )));
    }
    let entry = LogEntry {
        attestation: None,
        body: b.payload.body.clone(),
        integrated_time: t,
        log_id: b.payload.log_id.clone(),
        log_index: b.payload.log_index,
        verification: Some(rekor::Verification {
            inclusion_proof: None,
            signed_entry_timestamp: Some(b.set),
        }),
    };
    rekor::verify_set(&entry, &log_key).map_err(|e| tlog(e.to_string()))?;
    let body = B64
        .decode(&b.payload.body)
        .map_err(|_| tlog("bundle body is not base64"))?;
    let kind: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| Failure::TlogMismatch {
            detail: format!("body is not JSON: {e}"),
        })?;
    let kv = (
        kind["kind"].as_str().unwrap_or_default(),
        kind["apiVersion"].as_str().unwrap_or_default(),
    );
    check_body(&body, kv, content, key, leaf)?;
    Ok(t)
}
