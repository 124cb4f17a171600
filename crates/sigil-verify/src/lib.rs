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

mod image;
mod verdict;

// The public interface is:
pub use image::{
    verify_candidates, verify_image, ImagePolicy, SignatureCandidate, SignatureSource, TlogPolicy,
    Trust,
};
pub use verdict::{Check, Failure, Outcome, Verdict, VerifiedSignature};
