//! Attestation verification, cosign's `verify-attestation` (cosign `pkg/cosign/verify.go`
//! `VerifyImageAttestations`, and sigstore-go for bundles), and the cosign v3 half of
//! `verify`: signatures stored as Sigstore bundle referrers.
//!
//! Both generations go through the checks of the one pipeline:
//! - a legacy `.att` layer (the DSSE envelope JSON with cosign's annotations): the envelope's
//!   payload type is in-toto, its signature verifies over the PAE with the trusted key or the
//!   certificate's, the Rekor bundle annotation's SET verifies and its `dsse` 0.0.1 / `intoto`
//!   0.0.2 body records this envelope and signer ([`crate::bundle`]'s `check_body`), the
//!   certificate chains at the log time with an SCT and names the expected identity
//!   (`x509`, `identity`), a statement subject is the image digest, and the predicate type is
//!   the one asked;
//! - a bundle referrer: [`crate::verify_bundle`] with the image digest as the artifact, then
//!   the payload type and predicate type.
//!
//! Rejections are [`Failure`] values, as for `verify`.

mod legacy;

use sigil_core::bundle::Bundle;
use sigil_core::intoto::{Statement, COSIGN_SIGN_PREDICATE, INTOTO_PAYLOAD_TYPE};
use sigil_core::{Digest, ImageRef};

use crate::bundle::{verify_bundle, Artifact, BundleSigner};
use crate::image::{ImagePolicy, Trust};
use crate::verdict::{Check, Failure, Outcome, Verdict, VerifiedSignature};
use crate::TlogPolicy;

/// One stored attestation (or v3 signature), before any check.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum AttestationCandidate {
    /// A layer of the `sha256-<hex>.att` image.
    Legacy {
        /// The layer blob: the DSSE envelope JSON.
        envelope: Vec<u8>,
        certificate_pem: Option<String>,
        chain_pem: Option<String>,
        /// `dev.sigstore.cosign/bundle`.
        rekor_bundle: Option<String>,
    },
    /// A Sigstore bundle referrer's blob.
    Bundle { bundle: Vec<u8> },
}

/// Which statements count.
#[derive(Clone, Copy, Debug)]
pub enum PredicateFilter<'a> {
    /// Any predicate type (no `--type`).
    Any,
    /// Exactly this predicate type URI.
    Exactly(&'a str),
}

fn checks(policy: &ImagePolicy) -> Vec<Check> {
    let mut checks = vec![Check::ClaimsValidated];
    if policy.tlog == TlogPolicy::Required {
        checks.push(Check::TlogVerifiedOffline);
    }
    match policy.trust {
        Trust::Key(_) => checks.push(Check::SignatureVerifiedAgainstKey),
        Trust::Keyless { .. } => {
            checks.push(Check::CertificateVerified);
            checks.push(Check::SignatureVerifiedAgainstCertificate);
        }
    }
    checks
}

fn verdict(
    image: &ImageRef,
    digest: &Digest,
    policy: &ImagePolicy,
    results: Vec<Result<VerifiedSignature, Failure>>,
) -> Verdict {
    let mut verified = Vec::new();
    let mut rejected = Vec::new();
    let any = !results.is_empty();
    for (index, r) in results.into_iter().enumerate() {
        match r {
            Ok(mut v) => {
                v.index = index;
                verified.push(v);
            }
            Err(f) => rejected.push((index, f)),
        }
    }
    let outcome = match (any, verified.is_empty()) {
        (false, _) => Outcome::NoSignatures,
        (true, true) => Outcome::NoMatchingSignatures,
        (true, false) => Outcome::Verified,
    };
    Verdict {
        image: image.clone(),
        digest: digest.clone(),
        outcome,
        checks: checks(policy),
        verified,
        rejected,
    }
}

/// Verifies attestations of `image` at `digest`: each candidate's envelope, log entry,
/// certificate and identity, statement subject and predicate type. The verified entries'
/// `payload_json` is the envelope as cosign prints it (`payloadType`, `payload`,
/// `signatures`).
pub fn verify_attestations(
    image: &ImageRef,
    digest: &Digest,
    candidates: Vec<AttestationCandidate>,
    policy: &ImagePolicy,
    predicate: PredicateFilter<'_>,
) -> Verdict {
    let results = candidates
        .into_iter()
        .map(|c| {
            let (envelope, statement) = verify_candidate(digest, &c, policy)?;
            if let PredicateFilter::Exactly(want) = predicate {
                if statement.predicate_type != want {
                    return Err(Failure::PredicateTypeMismatch {
                        expected: want.to_owned(),
                        found: statement.predicate_type,
                    });
                }
            }
            Ok(VerifiedSignature {
                index: 0,
                payload_json: serde_json::from_slice(&envelope).unwrap_or_default(),
                payload: envelope,
            })
        })
        .collect();
    verdict(image, digest, policy, results)
}

/// Verifies cosign v3 signatures (bundle referrers with the predicate
/// `https://sigstore.dev/cosign/sign/v1`) of `image` at `digest`. The verified entries'
/// `payload_json` is what cosign prints for them: a simple-signing-shaped document whose
/// `critical.type` is the predicate type and whose `optional` holds the subject's
/// annotations; `-a` annotations must be among them.
pub fn verify_bundle_signatures(
    image: &ImageRef,
    digest: &Digest,
    bundles: Vec<Vec<u8>>,
    policy: &ImagePolicy,
) -> Verdict {
    let results = bundles
        .into_iter()
        .map(|bundle| {
            let c = AttestationCandidate::Bundle { bundle };
            let (_, statement) = verify_candidate(digest, &c, policy)?;
            if statement.predicate_type != COSIGN_SIGN_PREDICATE {
                return Err(Failure::PredicateTypeMismatch {
                    expected: COSIGN_SIGN_PREDICATE.to_owned(),
                    found: statement.predicate_type,
                });
            }
            let annotations = statement
                .subject
                .iter()
                .find(|s| {
                    s.digest
                        .get(digest.algorithm().as_str())
                        .is_some_and(|h| h.eq_ignore_ascii_case(digest.hex()))
                })
                .and_then(|s| s.annotations.clone())
                .unwrap_or_default();
            for (key, expected) in &policy.annotations {
                let found = annotations.get(key).map(|v| match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                });
                if found.as_deref() != Some(expected.as_str()) {
                    return Err(Failure::AnnotationMismatch {
                        key: key.clone(),
                        expected: expected.clone(),
                        found,
                    });
                }
            }
            let json = serde_json::json!({
                "critical": {
                    "identity": {"docker-reference": image.name()},
                    "image": {"docker-manifest-digest": digest.to_string()},
                    "type": statement.predicate_type,
                },
                "optional": annotations,
            });
            Ok(VerifiedSignature {
                index: 0,
                payload: serde_json::to_vec(&json).unwrap_or_default(),
                payload_json: json,
            })
        })
        .collect();
    verdict(image, digest, policy, results)
}

/// Every check but the predicate type; returns the envelope JSON and its statement.
fn verify_candidate(
    digest: &Digest,
    c: &AttestationCandidate,
    policy: &ImagePolicy,
) -> Result<(Vec<u8>, Statement), Failure> {
    match c {
        AttestationCandidate::Legacy {
            envelope,
            certificate_pem,
            chain_pem,
            rekor_bundle,
        } => {
            let statement = legacy::verify_layer(
                digest,
                envelope,
                certificate_pem.as_deref(),
                chain_pem.as_deref(),
                rekor_bundle.as_deref(),
                policy,
            )?;
            Ok((envelope.clone(), statement))
        }
        AttestationCandidate::Bundle { bundle } => verify_bundle_candidate(digest, bundle, policy),
    }
}

fn verify_bundle_candidate(
    digest: &Digest,
    bytes: &[u8],
    policy: &ImagePolicy,
) -> Result<(Vec<u8>, Statement), Failure> {
    let bundle = Bundle::from_json(bytes).map_err(|e| Failure::Bundle {
        detail: e.to_string(),
    })?;
    let Some(envelope) = &bundle.dsse_envelope else {
        return Err(Failure::Bundle {
            detail: "an image attestation bundle must hold a DSSE envelope".into(),
        });
    };
    if envelope.payload_type != INTOTO_PAYLOAD_TYPE {
        return Err(Failure::PayloadType {
            found: envelope.payload_type.clone(),
        });
    }
    let root = policy
        .trusted_root
        .as_deref()
        .ok_or_else(|| Failure::TlogUnverifiable {
            detail: "no trusted root is configured (pass --trusted-root or --trust-config)".into(),
        })?;
    let signer = match &policy.trust {
        Trust::Key(k) => BundleSigner::Key(k.clone()),
        Trust::Keyless { identity, .. } => BundleSigner::Identity(identity.clone()),
    };
    let sct = match &policy.trust {
        Trust::Keyless { sct, .. } => *sct,
        Trust::Key(_) => crate::SctPolicy::Ignore,
    };
    if digest.algorithm() != sigil_core::Algorithm::Sha256 {
        return Err(Failure::ArtifactMismatch {
            detail: format!("bundles are checked against sha256 digests, not {digest}"),
        });
    }
    let raw: [u8; 32] = digest
        .raw()
        .try_into()
        .map_err(|_| Failure::ArtifactMismatch {
            detail: format!("`{digest}` is not a sha256 digest"),
        })?;
    let verified = verify_bundle(
        &bundle,
        Artifact::Sha256(&raw),
        &signer,
        root,
        policy.tlog,
        sct,
    )?;
    let (_, payload) = verified.dsse_payload.ok_or_else(|| Failure::Bundle {
        detail: "no DSSE payload".into(),
    })?;
    let statement =
        Statement::header_from_slice(&payload).map_err(|e| Failure::MalformedPayload {
            detail: e.to_string(),
        })?;
    let envelope_json = sigil_core::intoto::envelope_json(envelope);
    Ok((envelope_json, statement))
}

#[cfg(test)]
mod tests;
