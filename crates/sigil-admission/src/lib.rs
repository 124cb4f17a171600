//! sigil's admission controller: Kyverno `verifyImages` policies, taken verbatim, enforced
//! through the one verification pipeline of `sigil-verify`.
//!
//! - [`policy`]: the `kyverno.io/v1` / `v2beta1` policy model, CRD defaults and Kyverno's
//!   policy checks.
//! - [`image`] and [`wildcard`]: Kyverno's image normalisation and wildcard matching, and
//!   the images of Pods and pod controllers.
//! - `engine`: rule matching, verification and the mutate/validate answers
//!   (JSONPatch, annotations, Kyverno's deny message).
//! - `verifier`: signatures and attestations of one image checked against a `verifyImages`
//!   entry through `sigil-verify`, and the verdict cache (TTL, negative TTL, single-flight).
//! - `attestor`: the attestor → `sigil_verify::ImagePolicy` mapping.
//! - `fetcher`: signatures, attestations and digests from the registry (`.sig`/`.att` tags
//!   and Sigstore bundle referrers).
//! - `conditions`: Kyverno's attestation `conditions` (JMESPath, operators).
//! - `server`: the AdmissionReview webhook over HTTPS, `/metrics`, `/healthz`, `/readyz`,
//!   policy reload.
//! - `manifests`: the Kubernetes objects that deploy the webhook.
//!
//! Where Kyverno lets images through, this crate does not: digest-pinned images are matched
//! by `repo:*` patterns, the digest admitted is the digest verified, the validating phase
//! never trusts a user-writable annotation, and every container list of every pod
//! controller is inspected.

mod attestor;
mod attestor_trust;
mod conditions;
mod engine;
mod error;
mod fetcher;
pub mod image;
mod manifests;
mod matching;
mod metrics;
pub mod policy;
mod policy_check;
mod policy_load;
mod review;
mod server;
mod tls;
mod verifier;
pub mod wildcard;

// The public interface is:
pub use engine::{Engine, EngineOptions, Evaluation, Phase, Request, RuleResult, RuleStatus};
pub use error::Error;
pub use fetcher::{BundleBlob, Fetcher, RegistryFetcher};
pub use manifests::{manifests, ManifestOptions};
pub use policy::{load_policies, parse_documents, parse_policies, Policy, PolicySet};
pub use review::{review_response, AdmissionRequest};
pub use server::{router, serve, AppState, ServeOptions, TlsSource};
pub use tls::{self_signed, SelfSigned};
pub use verifier::{ImageVerifier, VerifiedImage, VerifierOptions, VerifyError};
