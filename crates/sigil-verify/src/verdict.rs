//! Verdicts as data: the checks made, the signatures accepted, and each rejection's reason.

use std::fmt;

use sigil_core::{Digest, ImageRef};

/// A check made on every accepted signature. The texts are cosign's, so users and scripts
/// that read cosign's output read ours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Check {
    /// The payload names the verified digest (and carries the required annotations).
    ClaimsValidated,
    /// A transparency-log proof in the signature was verified offline.
    TlogVerifiedOffline,
    /// The signature verified against the given public key.
    SignatureVerifiedAgainstKey,
    /// The certificate chains to a trusted CA at the signing time.
    CertificateVerified,
    /// The signature verified against the Fulcio certificate.
    SignatureVerifiedAgainstCertificate,
}

impl Check {
    /// The line cosign prints for this check.
    pub fn cosign_text(self) -> &'static str {
        match self {
            Check::ClaimsValidated => "The cosign claims were validated",
            Check::TlogVerifiedOffline => {
                "Existence of the claims in the transparency log was verified offline"
            }
            Check::SignatureVerifiedAgainstKey => {
                "The signatures were verified against the specified public key"
            }
            Check::CertificateVerified => {
                "The code-signing certificate was verified using trusted certificate authority certificates"
            }
            Check::SignatureVerifiedAgainstCertificate => "The signature was verified against a valid Fulcio certificate",
        }
    }
}

/// Why one signature was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Failure {
    /// The layer has no signature annotation, or it is not base64.
    MalformedSignature { detail: String },
    /// The signature does not verify over the payload with the trusted key.
    SignatureMismatch,
    /// The payload is not a cosign simple-signing document.
    MalformedPayload { detail: String },
    /// The payload signs another image.
    DigestMismatch { expected: Digest, claimed: String },
    /// A required `-a key=value` annotation is missing or different.
    AnnotationMismatch {
        key: String,
        expected: String,
        found: Option<String>,
    },
    /// The transparency log is required and the signature carries no log entry.
    TlogEntryMissing,
    /// The signature carries a log entry but no trusted log key is configured to check it.
    TlogUnverifiable { detail: String },
    /// A transparency-log entry, its SET, inclusion proof or checkpoint failed.
    Tlog { detail: String },
    /// The log entry does not describe this signature (CVE-2022-36056).
    TlogMismatch { detail: String },
    /// The certificate does not chain to a trusted CA at the signing time.
    Certificate { detail: String },
    /// No valid embedded SCT from a trusted CT log.
    Sct { detail: String },
    /// The bundle's RFC 3161 timestamps: none verified, or they break a rule.
    Timestamp { detail: String },
    /// The certificate names another signer.
    Identity {
        expected_identity: String,
        expected_issuer: String,
        subjects: Vec<String>,
        issuer: String,
    },
    /// A `--certificate-github-workflow-*` value differs.
    Extension {
        name: &'static str,
        expected: String,
        found: Option<String>,
    },
    /// The bundle is malformed or breaks its version's rules.
    Bundle { detail: String },
    /// The signed content is another artifact.
    ArtifactMismatch { detail: String },
    /// The attestation's predicate type is not the one asked for (`--type`).
    PredicateTypeMismatch { expected: String, found: String },
    /// The DSSE payload type is not in-toto's.
    PayloadType { found: String },
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::MalformedSignature { detail } => write!(f, "malformed signature: {detail}"),
            Failure::SignatureMismatch => f.write_str("invalid signature when validating ASN.1 encoded signature"),
            Failure::MalformedPayload { detail } => write!(f, "malformed payload: {detail}"),
            Failure::DigestMismatch { claimed, .. } => write!(f, "invalid or missing digest in claim: {claimed}"),
            Failure::AnnotationMismatch { key, expected, found } => write!(
                f,
                "missing or incorrect annotation: `{key}` should be `{expected}`, payload has {}",
                found.as_deref().map(|v| format!("`{v}`")).unwrap_or_else(|| "none".into())
            ),
            Failure::TlogEntryMissing => f.write_str(
                "signature has no transparency log entry (no bundle annotation); pass --insecure-ignore-tlog to verify without the log",
            ),
            Failure::TlogUnverifiable { detail } => write!(f, "transparency log entry cannot be verified: {detail}"),
            Failure::Tlog { detail } => write!(f, "transparency log: {detail}"),
            Failure::TlogMismatch { detail } => {
                write!(f, "transparency log entry is inconsistent with other materials: {detail}")
            }
            Failure::Certificate { detail } => write!(f, "certificate: {detail}"),
            Failure::Sct { detail } => write!(f, "certificate timestamp (SCT): {detail}"),
            Failure::Timestamp { detail } => write!(f, "signed timestamp (RFC 3161): {detail}"),
            Failure::Identity { subjects, issuer, .. } => write!(
                f,
                "none of the expected identities matched what was in the certificate, got subjects [{}] with issuer {issuer}",
                subjects.join(", ")
            ),
            Failure::Extension { name, .. } => write!(f, "expected {name} not found in certificate"),
            Failure::Bundle { detail } => write!(f, "invalid bundle: {detail}"),
            Failure::ArtifactMismatch { detail } => write!(f, "artifact mismatch: {detail}"),
            Failure::PredicateTypeMismatch { expected, found } => write!(f, "predicate type mismatch: expected `{expected}`, the attestation has `{found}`"),
            Failure::PayloadType { found } => write!(f, "DSSE payload type is `{found}`, not `application/vnd.in-toto+json`"),
        }
    }
}

/// A signature that passed every check.
#[derive(Clone, Debug)]
pub struct VerifiedSignature {
    /// Position in the fetched list.
    pub index: usize,
    /// The exact signed payload bytes.
    pub payload: Vec<u8>,
    /// The payload as JSON, with cosign's `optional` additions (e.g. `Bundle`).
    pub payload_json: serde_json::Value,
}

/// The overall answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// At least one signature passed every check.
    Verified,
    /// There is nothing to check (cosign exit code 10).
    NoSignatures,
    /// Signatures exist but none passed (cosign exit code 12).
    NoMatchingSignatures,
}

/// Everything the pipeline concluded about one image.
#[derive(Clone, Debug)]
pub struct Verdict {
    pub image: ImageRef,
    pub digest: Digest,
    pub outcome: Outcome,
    /// Checks made on every accepted signature, in cosign's order.
    pub checks: Vec<Check>,
    pub verified: Vec<VerifiedSignature>,
    /// Rejected signatures: their position and reason.
    pub rejected: Vec<(usize, Failure)>,
}

impl Verdict {
    pub fn is_verified(&self) -> bool {
        self.outcome == Outcome::Verified
    }

    /// cosign's error text for a failed verdict (`no signatures found`, or
    /// `no matching signatures: <reasons>`); `None` when verified.
    pub fn error_message(&self) -> Option<String> {
        match self.outcome {
            Outcome::Verified => None,
            Outcome::NoSignatures => Some("no signatures found".to_owned()),
            Outcome::NoMatchingSignatures => {
                let reasons: Vec<String> =
                    self.rejected.iter().map(|(_, f)| f.to_string()).collect();
                Some(format!("no matching signatures: {}", reasons.join("\n ")))
            }
        }
    }
}
