//! Image-signature verification, cosign's "legacy" `.sig` path (cosign
//! `pkg/cosign/verify.go` `VerifyImageSignatures`): for each signature, (1) the signature over
//! the payload with the trusted key, (2) the transparency-log entry unless the policy ignores
//! the log, (3) the claims: the payload's digest is the image's and it carries every required
//! annotation. Like cosign, `docker-reference` is not checked: a signature follows its image
//! when the image is copied to another repository.

use std::collections::BTreeMap;
use std::future::Future;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use sigil_core::keys::PublicKey;
use sigil_core::{Digest, ImageRef, SimpleSigningPayload};

use crate::verdict::{Check, Failure, Outcome, Verdict, VerifiedSignature};

/// What signatures must be signed by.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Trust {
    /// A public key (`--key cosign.pub`).
    Key(PublicKey),
}

/// Whether the transparency log must vouch for a signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlogPolicy {
    /// A log entry is required and verified (the default, as in cosign).
    Required,
    /// `--insecure-ignore-tlog`: no log check.
    Ignore,
}

/// The policy one verification applies.
#[derive(Clone, Debug)]
pub struct ImagePolicy {
    pub trust: Trust,
    pub tlog: TlogPolicy,
    /// `-a key=value`: annotations every accepted payload must carry under `optional`.
    pub annotations: BTreeMap<String, String>,
}

/// One signature as stored, before any check.
#[derive(Clone, Debug, Default)]
pub struct SignatureCandidate {
    /// The signed payload bytes (the layer blob).
    pub payload: Vec<u8>,
    /// Base64 signature (`dev.cosignproject.cosign/signature`).
    pub signature_b64: Option<String>,
    /// Leaf certificate PEM, for keyless signatures.
    pub certificate_pem: Option<String>,
    /// Intermediate and root PEM.
    pub chain_pem: Option<String>,
    /// Rekor bundle JSON (`dev.sigstore.cosign/bundle`).
    pub rekor_bundle: Option<String>,
}

/// Where signatures come from. The CLI and the admission controller implement it over the
/// registry client; `Ok(None)` means there are no signatures at all.
pub trait SignatureSource {
    type Error;

    fn signatures(
        &self,
        image: &ImageRef,
        digest: &Digest,
    ) -> impl Future<Output = Result<Option<Vec<SignatureCandidate>>, Self::Error>> + Send;
}

/// Fetches `image`'s signatures through `source` and verifies them against `policy`.
pub async fn verify_image<S: SignatureSource + Sync>(
    source: &S,
    image: &ImageRef,
    digest: &Digest,
    policy: &ImagePolicy,
) -> Result<Verdict, S::Error> {
    let candidates = source.signatures(image, digest).await?;
    Ok(verify_candidates(
        image,
        digest,
        candidates.unwrap_or_default(),
        policy,
    ))
}

/// Verifies already-fetched candidates: the pure heart of the pipeline.
pub fn verify_candidates(
    image: &ImageRef,
    digest: &Digest,
    candidates: Vec<SignatureCandidate>,
    policy: &ImagePolicy,
) -> Verdict {
    let mut checks = vec![Check::ClaimsValidated];
    if policy.tlog == TlogPolicy::Required {
        checks.push(Check::TlogVerifiedOffline);
    }
    match policy.trust {
        Trust::Key(_) => checks.push(Check::SignatureVerifiedAgainstKey),
    }
    if candidates.is_empty() {
        return Verdict {
            image: image.clone(),
            digest: digest.clone(),
            outcome: Outcome::NoSignatures,
            checks,
            verified: Vec::new(),
            rejected: Vec::new(),
        };
    }
    let mut verified = Vec::new();
    let mut rejected = Vec::new();
    for (index, candidate) in candidates.into_iter().enumerate() {
        match verify_one(digest, &candidate, policy) {
            Ok(payload_json) => verified.push(VerifiedSignature {
                index,
                payload: candidate.payload,
                payload_json,
            }),
            Err(f) => rejected.push((index, f)),
        }
    }
    let outcome = if verified.is_empty() {
        Outcome::NoMatchingSignatures
    } else {
        Outcome::Verified
    };
    Verdict {
        image: image.clone(),
        digest: digest.clone(),
        outcome,
        checks,
        verified,
        rejected,
    }
}

fn verify_one(
    digest: &Digest,
    c: &SignatureCandidate,
    policy: &ImagePolicy,
) -> Result<serde_json::Value, Failure> {
    // (1) The signature.
    let sig_b64 = c
        .signature_b64
        .as_deref()
        .ok_or_else(|| Failure::MalformedSignature {
            detail: "layer has no dev.cosignproject.cosign/signature annotation".into(),
        })?;
    let signature = B64
        .decode(sig_b64.trim())
        .map_err(|e| Failure::MalformedSignature {
            detail: format!("signature annotation is not base64: {e}"),
        })?;
    match &policy.trust {
        Trust::Key(key) => key
            .verify(&c.payload, &signature)
            .map_err(|_| Failure::SignatureMismatch)?,
    }
    // (2) The transparency log.
    if policy.tlog == TlogPolicy::Required {
        match &c.rekor_bundle {
            None => return Err(Failure::TlogEntryMissing),
            Some(_) => {
                return Err(Failure::TlogUnverifiable {
                    detail: "no trusted transparency log key is configured (sigil's log support is tracked in issue 4); pass --insecure-ignore-tlog to skip".into(),
                })
            }
        }
    }
    // (3) The claims.
    let payload =
        SimpleSigningPayload::from_slice(&c.payload).map_err(|e| Failure::MalformedPayload {
            detail: e.to_string(),
        })?;
    let claimed = payload.critical.image.docker_manifest_digest.clone();
    if claimed != digest.to_string() {
        return Err(Failure::DigestMismatch {
            expected: digest.clone(),
            claimed,
        });
    }
    for (key, expected) in &policy.annotations {
        let found = payload.annotation(key);
        if found.as_deref() != Some(expected.as_str()) {
            return Err(Failure::AnnotationMismatch {
                key: key.clone(),
                expected: expected.clone(),
                found,
            });
        }
    }
    let mut json: serde_json::Value =
        serde_json::from_slice(&c.payload).map_err(|e| Failure::MalformedPayload {
            detail: e.to_string(),
        })?;
    if let Some(bundle) = &c.rekor_bundle {
        if let Ok(b) = serde_json::from_str::<serde_json::Value>(bundle) {
            let optional = &mut json["optional"];
            if optional.is_null() {
                *optional = serde_json::json!({});
            }
            optional["Bundle"] = b;
        }
    }
    Ok(json)
}

#[cfg(test)]
mod tests;
