//! Image-signature verification, cosign's "legacy" `.sig` path (cosign
//! `pkg/cosign/verify.go` `VerifyImageSignatures`): for each signature, (1) the signature over
//! the payload with the trusted key, (2) the transparency-log entry unless the policy ignores
//! the log, (3) the claims: the payload's digest is the image's and it carries every required
//! annotation. Like cosign, `docker-reference` is not checked: a signature follows its image
//! when the image is copied to another repository.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use sigil_core::fulcio::CertificateIdentity;
use sigil_core::keys::PublicKey;
use sigil_core::trust_root::TrustedRoot;
use sigil_core::{Digest, ImageRef, SimpleSigningPayload};

use crate::bundle::verify_rekor_annotation;
use crate::identity::IdentityPolicy;
use crate::verdict::{Check, Failure, Outcome, Verdict, VerifiedSignature};
use crate::{x509, SctPolicy};

/// What signatures must be signed by.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Trust {
    /// A public key (`--key cosign.pub`).
    Key(PublicKey),
    /// A Fulcio certificate chaining to the trusted root, for this identity.
    Keyless {
        identity: IdentityPolicy,
        sct: SctPolicy,
    },
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
    /// Trusted logs and CAs (`--trusted-root`, the stack's trust config, or public Sigstore's).
    /// Without one, log entries and certificates cannot be checked and are rejected.
    pub trusted_root: Option<Arc<TrustedRoot>>,
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
        Trust::Keyless { .. } => {
            checks.push(Check::CertificateVerified);
            checks.push(Check::SignatureVerifiedAgainstKey);
            checks.push(Check::SignatureVerifiedAgainstCertificate);
        }
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
    // The signing key: the given one, or the certificate's.
    let leaf = policy_leaf(&policy.trust, c.certificate_pem.as_deref(), "signature")?;
    let key = policy_key(&policy.trust, leaf.as_ref())?;
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
    key.verify(&c.payload, &signature)
        .map_err(|_| Failure::SignatureMismatch)?;
    // (2) The transparency log.
    let mut integrated_time = None;
    if policy.tlog == TlogPolicy::Required {
        let annotation = c.rekor_bundle.as_deref().ok_or(Failure::TlogEntryMissing)?;
        let root = policy
            .trusted_root
            .as_deref()
            .ok_or_else(|| Failure::TlogUnverifiable {
                detail: "no trusted root is configured (pass --trusted-root or --trust-config)"
                    .into(),
            })?;
        integrated_time = Some(verify_rekor_annotation(
            annotation,
            root,
            &c.payload,
            &signature,
            key,
            leaf.as_ref(),
        )?);
    }
    // (3) The certificate: chain at the log's time, SCT, identity.
    let identity = check_certificate(
        policy,
        leaf.as_ref(),
        c.chain_pem.as_deref(),
        integrated_time,
    )?;
    // (4) The claims.
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
    // cosign adds what it verified under `optional`.
    let mut extra = serde_json::Map::new();
    if let Some(id) = &identity {
        extra.insert("Subject".into(), id.san.value().into());
        if let Some(iss) = &id.issuer {
            extra.insert("Issuer".into(), iss.clone().into());
            extra.insert("1.3.6.1.4.1.57264.1.1".into(), iss.clone().into());
        }
        let gh = &id.github_workflow;
        for (k, oid, v) in [
            (
                "githubWorkflowTrigger",
                "1.3.6.1.4.1.57264.1.2",
                &gh.trigger,
            ),
            ("githubWorkflowSha", "1.3.6.1.4.1.57264.1.3", &gh.sha),
            ("githubWorkflowName", "1.3.6.1.4.1.57264.1.4", &gh.name),
            (
                "githubWorkflowRepository",
                "1.3.6.1.4.1.57264.1.5",
                &gh.repository,
            ),
            ("githubWorkflowRef", "1.3.6.1.4.1.57264.1.6", &gh.git_ref),
        ] {
            if let Some(v) = v {
                extra.insert(k.into(), v.clone().into());
                extra.insert(oid.into(), v.clone().into());
            }
        }
    }
    if let Some(bundle) = &c.rekor_bundle {
        if let Ok(b) = serde_json::from_str::<serde_json::Value>(bundle) {
            extra.insert("Bundle".into(), b);
        }
    }
    if !extra.is_empty() {
        let optional = &mut json["optional"];
        if !optional.is_object() {
            *optional = serde_json::json!({});
        }
        if let Some(o) = optional.as_object_mut() {
            o.extend(extra);
        }
    }
    Ok(json)
}

/// The leaf certificate a keyless policy needs, from a `dev.sigstore.cosign/certificate`
/// annotation (`what` names the carrier in the error); `None` under a key policy.
pub(crate) fn policy_leaf(
    trust: &Trust,
    certificate_pem: Option<&str>,
    what: &str,
) -> Result<Option<x509::Leaf>, Failure> {
    match trust {
        Trust::Key(_) => Ok(None),
        Trust::Keyless { .. } => {
            let pem_text = certificate_pem.ok_or_else(|| Failure::Certificate {
                detail: format!("{what} has no certificate (dev.sigstore.cosign/certificate)"),
            })?;
            let block = pem::parse(pem_text).map_err(|e| Failure::Certificate {
                detail: format!("certificate annotation is not PEM: {e}"),
            })?;
            x509::Leaf::parse(block.contents())
                .map(Some)
                .map_err(|detail| Failure::Certificate { detail })
        }
    }
}

/// The key a signature must verify with: the policy's, or the leaf certificate's.
pub(crate) fn policy_key<'a>(
    trust: &'a Trust,
    leaf: Option<&'a x509::Leaf>,
) -> Result<&'a PublicKey, Failure> {
    match (trust, leaf) {
        (Trust::Key(k), _) => Ok(k),
        (_, Some(l)) => Ok(&l.public_key),
        (_, None) => Err(Failure::Certificate {
            detail: "no signing key".into(),
        }),
    }
}

/// Under a keyless policy: the leaf's chain to a trusted CA at the log's integrated time
/// (`chain_pem`'s intermediates may help, never its root), its SCT, and the signer's identity.
/// A certificate without a log time is refused: nothing proves it was used while valid.
pub(crate) fn check_certificate(
    policy: &ImagePolicy,
    leaf: Option<&x509::Leaf>,
    chain_pem: Option<&str>,
    integrated_time: Option<i64>,
) -> Result<Option<CertificateIdentity>, Failure> {
    let (
        Trust::Keyless {
            identity: wanted,
            sct,
        },
        Some(leaf),
    ) = (&policy.trust, leaf)
    else {
        return Ok(None);
    };
    let t = integrated_time.ok_or_else(|| Failure::Certificate {
        detail: "a short-lived certificate needs a transparency log proof of when it was used; it cannot be verified with the log ignored".into(),
    })?;
    let root = policy
        .trusted_root
        .as_deref()
        .ok_or_else(|| Failure::Certificate {
            detail: "no trusted root is configured".into(),
        })?;
    let extra = chain_intermediates(chain_pem);
    let extra_refs: Vec<&[u8]> = extra.iter().map(Vec::as_slice).collect();
    let issuer = x509::verify_chain(leaf, &extra_refs, root, t)
        .map_err(|detail| Failure::Certificate { detail })?;
    if *sct == SctPolicy::Required {
        x509::verify_sct(leaf, &issuer, root).map_err(|detail| Failure::Sct { detail })?;
    }
    let id = CertificateIdentity::from_der(&leaf.der).map_err(|e| Failure::Certificate {
        detail: e.to_string(),
    })?;
    wanted.check(&id)?;
    Ok(Some(id))
}

/// The intermediates of a chain annotation (PEM, intermediates then root): every
/// certificate that is not self-issued. The root comes from the trusted root only.
fn chain_intermediates(chain_pem: Option<&str>) -> Vec<Vec<u8>> {
    let Some(text) = chain_pem else {
        return Vec::new();
    };
    pem::parse_many(text)
        .unwrap_or_default()
        .into_iter()
        .filter(|b| b.tag() == "CERTIFICATE")
        .map(|b| b.into_contents())
        .filter(|der| !x509::is_self_issued(der))
        .collect()
}

#[cfg(test)]
mod tests;
