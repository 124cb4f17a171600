//! The verification pipeline. `sigil verify`, `sigil verify-attestation` and the admission
//! controller all call it, so one fix or one hardening reaches every path.
//!
//! It is pure: signatures come in through the [`SignatureSource`] trait (implemented over the
//! registry client by the CLI and the admission controller, over fixtures by tests), and the
//! answer is a [`Verdict`] that lists every check made and why each rejected signature failed.
//! Output and deny messages are built from that data, never from matching strings.
//!
//! It fails closed: a check that cannot be made (a transparency-log proof without a trusted
//! log key, say) rejects the signature.

mod attestation;
mod bundle;
mod identity;
mod image;
mod rekor_v2;
mod tsa;
mod verdict;
mod x509;

// The public interface is:
pub use attestation::{
    verify_attestations, verify_bundle_signatures, AttestationCandidate, PredicateFilter,
};
pub use bundle::{verify_bundle, Artifact, BundleSigner, SctPolicy, VerifiedBundle};
pub use identity::{GithubExpectations, IdentityPolicy, Matcher};
pub use image::{
    verify_candidates, verify_image, ImagePolicy, SignatureCandidate, SignatureSource, TlogPolicy,
    Trust,
};
pub use verdict::{Check, Failure, Outcome, Verdict, VerifiedSignature};
