//! From a `verifyImages` entry to verdicts: the attestor → `sigil_verify::ImagePolicy`
//! mapping, the registry fetcher, and the verdict cache.
//!
//! Verification itself is `sigil_verify::verify_candidates`, the pure heart of the pipeline
//! that `sigil verify` uses; signatures are fetched once per image and repository and then
//! checked against each attestor entry.
//!
//! # Cache
//! Verdicts are keyed by (image digest, policy identity — name, generation and a hash of its
//! spec —, rule, hash of the entry's attestors), so a verdict can never be reused for
//! another image content, policy version or key. Passes live `ttl` (default 1 h, Kyverno's
//! `--imageVerifyCacheTTLDuration`), failures `negative_ttl` (default 10 s: unsigned-image
//! retries do not hammer the registry, kyverno#9503, yet a fresh signature is seen soon);
//! transport errors are not cached. Concurrent identical verifications share one task
//! (single-flight, kyverno#16997); the task runs to completion even if every caller gave up,
//! so its result is not lost. Tag → digest resolutions are cached `tag_ttl` (default 30 s):
//! the digest is then both the one verified and the one written into the pod, so a tag moved
//! within that window only delays when the new content is admitted.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use futures_util::future::{BoxFuture, FutureExt, Shared};
use sigil_core::intoto::COSIGN_SIGN_PREDICATE;
use sigil_core::trust_root::TrustedRoot;
use sigil_core::{Digest, ImageRef};
use sigil_verify::{
    AttestationCandidate, Failure, ImagePolicy, PredicateFilter, SignatureCandidate, Verdict,
};

use crate::attestor::{carries_certificate, image_policy, pinned_certificate};
use crate::conditions;
use crate::fetcher::{BundleBlob, Fetcher};
use crate::image::{FoundImage, ImageInfo};
use crate::policy::{
    Attestation, Attestor, AttestorSet, ImageVerification, Keyless, SignatureType,
};

/// Why an image did not verify.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The signatures do not satisfy the attestors (Kyverno's rule *fail*).
    #[error("{0}")]
    Failed(String),
    /// The registry could not be reached or the deadline passed (Kyverno's rule *error*:
    /// blocks under `failurePolicy: Fail`).
    #[error("{0}")]
    Unavailable(String),
    /// An `attestations` entry failed; the message carries its `.attestations[i]…` path, as
    /// Kyverno reports it (rule *fail*, without the `failed to verify image` prefix).
    #[error("{0}")]
    AttestationFailed(String),
    /// The policy asks for a check sigil cannot make yet; always refused, never allowed.
    #[error("{0}")]
    Unsupported(String),
}

/// Cache and timing settings.
#[derive(Clone, Debug)]
pub struct VerifierOptions {
    pub ttl: Duration,
    pub negative_ttl: Duration,
    pub tag_ttl: Duration,
    /// Entries kept before expired ones are swept (then the oldest half is dropped).
    pub max_entries: usize,
    /// Trusted CAs and logs for keyless attestors that name no `roots`, and for log entries
    /// (`--trust-config` / `SIGIL_TRUST_CONFIG`). Without one such checks fail closed.
    pub trusted_root: Option<Arc<TrustedRoot>>,
}

impl Default for VerifierOptions {
    fn default() -> Self {
        VerifierOptions {
            ttl: Duration::from_secs(3600),
            negative_ttl: Duration::from_secs(10),
            tag_ttl: Duration::from_secs(30),
            max_entries: 10_000,
            trusted_root: None,
        }
    }
}

/// A verified image: the digest the signatures were checked against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedImage {
    pub digest: Digest,
    /// Answered from the cache.
    pub cached: bool,
}

type Outcome = Result<Digest, VerifyError>;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Key {
    digest: String,
    /// Policy identity and attestor hash ([`VerifyJob::scope`]).
    scope: Arc<str>,
    rule: Arc<str>,
    /// The image as written, when attestation conditions can read it (`image.tag`…): two
    /// spellings of one digest may then differ in verdict (Kyverno keys its cache by the
    /// image string always).
    image: Option<String>,
}

enum Slot {
    Ready { outcome: Outcome, expires: Instant },
    Pending(Shared<BoxFuture<'static, Outcome>>),
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct CacheStats {
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    pub shared: AtomicU64,
}

/// Verifies images against `verifyImages` entries, with the verdict cache.
pub struct ImageVerifier {
    fetcher: Arc<dyn Fetcher>,
    options: VerifierOptions,
    verdicts: Arc<Mutex<HashMap<Key, Slot>>>,
    tags: Mutex<HashMap<String, (Digest, Instant)>>,
    pub stats: Arc<CacheStats>,
}

impl std::fmt::Debug for ImageVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageVerifier")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// What to verify one image against.
#[derive(Clone, Debug)]
pub struct VerifyJob {
    /// The image and where it was found.
    pub found: Arc<FoundImage>,
    pub entry: Arc<ImageVerification>,
    /// [`crate::Policy::identity`] and [`ImageVerification::attestor_identity`] of
    /// `entry`: with the digest and the rule, the verdict-cache key.
    pub scope: Arc<str>,
    pub rule: Arc<str>,
}

impl ImageVerifier {
    pub fn new(fetcher: Arc<dyn Fetcher>, options: VerifierOptions) -> ImageVerifier {
        ImageVerifier {
            fetcher,
            options,
            verdicts: Arc::new(Mutex::new(HashMap::new())),
            tags: Mutex::new(HashMap::new()),
            stats: Arc::new(CacheStats::default()),
        }
    }

    /// The digest `image` names: its own pin, else its tag resolved (cached `tag_ttl`).
    pub async fn digest_of(&self, image: &ImageInfo) -> Outcome {
        if let Some(d) = &image.digest {
            return Ok(d.clone());
        }
        let key = image.reference.to_string();
        let now = Instant::now();
        if let Ok(tags) = self.tags.lock() {
            if let Some((d, exp)) = tags.get(&key) {
                if *exp > now {
                    return Ok(d.clone());
                }
            }
        }
        let d = self.fetcher.resolve(&image.reference).await?;
        if let Ok(mut tags) = self.tags.lock() {
            if tags.len() >= self.options.max_entries {
                tags.retain(|_, (_, exp)| *exp > now);
                if tags.len() >= self.options.max_entries {
                    tags.clear();
                }
            }
            tags.insert(key, (d.clone(), now + self.options.tag_ttl));
        }
        Ok(d)
    }

    /// Verifies `job.found.image` at `digest`: from the cache when allowed, else through the
    /// pipeline (one shared task per key).
    pub async fn verify(
        &self,
        job: VerifyJob,
        digest: Digest,
    ) -> Result<VerifiedImage, VerifyError> {
        if !job.entry.use_cache() {
            self.stats.misses.fetch_add(1, Ordering::Relaxed);
            return verify_uncached(
                self.fetcher.clone(),
                self.options.trusted_root.clone(),
                job,
                digest,
            )
            .await
            .map(|digest| VerifiedImage {
                digest,
                cached: false,
            });
        }
        let key = Key {
            digest: digest.to_string(),
            scope: job.scope.clone(),
            rule: job.rule.clone(),
            image: job
                .entry
                .attestations
                .iter()
                .any(|a| !a.conditions.is_empty())
                .then(|| job.found.image.raw.clone()),
        };
        let now = Instant::now();
        let pending = {
            let mut map = match self.verdicts.lock() {
                Ok(m) => m,
                Err(p) => p.into_inner(),
            };
            match map.get(&key) {
                Some(Slot::Ready { outcome, expires }) if *expires > now => {
                    self.stats.hits.fetch_add(1, Ordering::Relaxed);
                    return outcome.clone().map(|digest| VerifiedImage {
                        digest,
                        cached: true,
                    });
                }
                Some(Slot::Pending(f)) => {
                    self.stats.shared.fetch_add(1, Ordering::Relaxed);
                    f.clone()
                }
                _ => {
                    self.stats.misses.fetch_add(1, Ordering::Relaxed);
                    if map.len() >= self.options.max_entries {
                        sweep(&mut map, now);
                    }
                    let fetcher = self.fetcher.clone();
                    let root = self.options.trusted_root.clone();
                    let verdicts = self.verdicts.clone();
                    let (ttl, neg) = (self.options.ttl, self.options.negative_ttl);
                    let k = key.clone();
                    // A task, not a future polled by callers: it finishes and records its
                    // verdict even if every waiting request hit its deadline.
                    let task = tokio::spawn(async move {
                        let outcome = verify_uncached(fetcher, root, job, digest).await;
                        let life = match &outcome {
                            Ok(_) => Some(ttl),
                            Err(VerifyError::Failed(_))
                            | Err(VerifyError::AttestationFailed(_))
                            | Err(VerifyError::Unsupported(_)) => Some(neg),
                            Err(VerifyError::Unavailable(_)) => None,
                        };
                        if let Ok(mut map) = verdicts.lock() {
                            match life {
                                Some(l) => {
                                    map.insert(
                                        k,
                                        Slot::Ready {
                                            outcome: outcome.clone(),
                                            expires: Instant::now() + l,
                                        },
                                    );
                                }
                                None => {
                                    map.remove(&k);
                                }
                            }
                        }
                        outcome
                    });
                    let fut: BoxFuture<'static, Outcome> = async move {
                        match task.await {
                            Ok(o) => o,
                            Err(e) => Err(VerifyError::Unavailable(format!(
                                "verification task failed: {e}"
                            ))),
                        }
                    }
                    .boxed();
                    let shared = fut.shared();
                    map.insert(key, Slot::Pending(shared.clone()));
                    shared
                }
            }
        };
        pending.await.map(|digest| VerifiedImage {
            digest,
            cached: false,
        })
    }

    /// Number of verdict entries (for tests and metrics).
    pub fn cached_verdicts(&self) -> usize {
        self.verdicts.lock().map(|m| m.len()).unwrap_or(0)
    }
}

fn sweep(map: &mut HashMap<Key, Slot>, now: Instant) {
    map.retain(|_, s| match s {
        Slot::Ready { expires, .. } => *expires > now,
        Slot::Pending(_) => true,
    });
    let max = map.len();
    if max > 0 {
        // Still full of live entries: drop half (arbitrary order) to keep memory bounded.
        let mut n = 0;
        map.retain(|_, s| {
            n += 1;
            matches!(s, Slot::Pending(_)) || n % 2 == 0
        });
    }
}

/// The pipeline for one image and one `verifyImages` entry, without the cache.
async fn verify_uncached(
    fetcher: Arc<dyn Fetcher>,
    trusted_root: Option<Arc<TrustedRoot>>,
    job: VerifyJob,
    digest: Digest,
) -> Outcome {
    let entry = &job.entry;
    if entry.type_ == SignatureType::Notary {
        return Err(VerifyError::Unsupported(
            "type Notary is not supported by sigil".into(),
        ));
    }
    let mut ctx = Ctx {
        fetcher,
        trusted_root,
        image: job.found.image.reference.with_digest(digest.clone()),
        found: Arc::new(job.found.image.clone()),
        kind: entry.type_,
        default_repo: match &entry.repository {
            Some(r) => Some(parse_repo(r)?),
            None => None,
        },
        digest: digest.clone(),
        fetched: BTreeMap::new(),
    };
    for (s, set) in entry.effective_attestors().iter().enumerate() {
        ctx.verify_set(set, &format!(".attestors[{s}]"), Target::Signatures)
            .await?;
    }
    for (a, att) in entry.attestations.iter().enumerate() {
        ctx.verify_attestation(att, &format!(".attestations[{a}]"))
            .await?;
    }
    Ok(digest)
}

fn parse_repo(r: &str) -> Result<ImageRef, VerifyError> {
    r.parse().map_err(|e: sigil_core::Error| {
        VerifyError::Failed(format!("invalid repository `{r}`: {e}"))
    })
}

/// What an attestor entry is checked against.
#[derive(Clone, Copy)]
enum Target<'a> {
    /// Image signatures (`.sig` layers and v3 bundle signatures).
    Signatures,
    /// Attestations of one predicate type, then the attestation's conditions.
    Attestation(&'a Attestation, &'a str),
}

/// What was fetched from one repository for the image, each part at most once.
#[derive(Default)]
struct Fetched {
    signatures: Option<Vec<SignatureCandidate>>,
    bundles: Option<Vec<BundleBlob>>,
    attestation_layers: Option<Vec<AttestationCandidate>>,
}

struct Ctx {
    fetcher: Arc<dyn Fetcher>,
    trusted_root: Option<Arc<TrustedRoot>>,
    image: ImageRef,
    /// The image as the resource names it (for the conditions' `image` variables).
    found: Arc<ImageInfo>,
    kind: SignatureType,
    default_repo: Option<ImageRef>,
    digest: Digest,
    /// Per repository, fetched once per image.
    fetched: BTreeMap<String, Fetched>,
}

impl Ctx {
    /// An attestor set passes when `count` entries (all, by default) pass. The messages of
    /// failing entries are kept for the deny message, in Kyverno's `.attestors[i].entries[j].kind: …` form.
    fn verify_set<'a>(
        &'a mut self,
        set: &'a AttestorSet,
        at: &'a str,
        target: Target<'a>,
    ) -> BoxFuture<'a, Result<(), VerifyError>> {
        async move {
            let need = set.required_count();
            let mut passed = 0;
            let mut failures: Vec<String> = Vec::new();
            let mut unavailable: Option<VerifyError> = None;
            for (e, entry) in set.entries.iter().enumerate() {
                let here = format!("{at}.entries[{e}].{}", entry.kind_name());
                match self.verify_entry(entry, &here, target).await {
                    Ok(()) => {
                        passed += 1;
                        if passed >= need {
                            return Ok(());
                        }
                    }
                    Err(VerifyError::Failed(m)) => failures.push(format!("{here}: {m}")),
                    // Nested sets already carry their paths.
                    Err(VerifyError::AttestationFailed(m)) => failures.push(m),
                    // A check sigil cannot make is never skipped, even if other entries
                    // could reach `count`.
                    Err(u @ VerifyError::Unsupported(_)) => {
                        return Err(VerifyError::Unsupported(format!("{here}: {u}")))
                    }
                    Err(VerifyError::Unavailable(m)) => {
                        unavailable.get_or_insert(VerifyError::Unavailable(format!("{here}: {m}")));
                    }
                }
            }
            if let Some(u) = unavailable {
                return Err(u);
            }
            match target {
                Target::Signatures => Err(VerifyError::Failed(failures.join("; "))),
                Target::Attestation(..) => Err(VerifyError::AttestationFailed(failures.join("; "))),
            }
        }
        .boxed()
    }

    async fn verify_entry(
        &mut self,
        entry: &Attestor,
        at: &str,
        target: Target<'_>,
    ) -> Result<(), VerifyError> {
        if let Some(nested) = &entry.attestor {
            return self.verify_set(nested, at, target).await;
        }
        let policy = image_policy(entry, self.trusted_root.clone())?;
        let pinned = pinned_certificate(entry)?;
        let repo = match &entry.repository {
            Some(r) => parse_repo(r)?,
            None => self
                .default_repo
                .clone()
                .unwrap_or_else(|| self.image.clone()),
        };
        match target {
            Target::Signatures => {
                self.check_signatures(&repo, &policy, pinned.as_deref())
                    .await
            }
            Target::Attestation(att, predicate_type) => {
                self.check_attestations(&repo, &policy, pinned.as_deref(), att, predicate_type)
                    .await
            }
        }
    }

    /// `.sig` signatures (type Cosign), and cosign v3 bundle signatures (both types), as
    /// `sigil verify` reads them: either generation verifying is enough. With a `pinned`
    /// certificate (`certificates.cert`), only `.sig` signatures carrying it are considered.
    async fn check_signatures(
        &mut self,
        repo: &ImageRef,
        policy: &ImagePolicy,
        pinned: Option<&[u8]>,
    ) -> Result<(), VerifyError> {
        let mut verdict = None;
        if self.kind == SignatureType::Cosign {
            let mut candidates = self.signatures(repo).await?;
            if let Some(want) = pinned {
                candidates.retain(|c| carries_certificate(c.certificate_pem.as_deref(), want));
            }
            let v = sigil_verify::verify_candidates(&self.image, &self.digest, candidates, policy);
            if v.is_verified() {
                return Ok(());
            }
            verdict = Some(v);
        }
        let bundles: Vec<BundleBlob> = if pinned.is_some() {
            Vec::new()
        } else {
            self.bundles(repo).await?
        };
        let bundles: Vec<Vec<u8>> = bundles
            .into_iter()
            .filter(|b| {
                b.predicate_type
                    .as_deref()
                    .is_none_or(|t| t == COSIGN_SIGN_PREDICATE)
            })
            .map(|b| b.bundle)
            .collect();
        let v3 = sigil_verify::verify_bundle_signatures(&self.image, &self.digest, bundles, policy);
        let merged = match verdict {
            Some(legacy) => merge(legacy, v3),
            None => v3,
        };
        match merged.error_message() {
            None => Ok(()),
            Some(m) => Err(VerifyError::Failed(m)),
        }
    }

    /// Kyverno's attestation check for one attestor entry: the attestations of
    /// `predicate_type` that this attestor signed (`.att` layers and bundle referrers,
    /// through the pipeline of `sigil verify-attestation`), then the conditions over each
    /// one's predicate; every such attestation must satisfy them.
    async fn check_attestations(
        &mut self,
        repo: &ImageRef,
        policy: &ImagePolicy,
        pinned: Option<&[u8]>,
        att: &Attestation,
        predicate_type: &str,
    ) -> Result<(), VerifyError> {
        let mut candidates = if self.kind == SignatureType::Cosign {
            self.attestation_layers(repo).await?
        } else {
            Vec::new()
        };
        if let Some(want) = pinned {
            candidates.retain(|c| match c {
                AttestationCandidate::Legacy {
                    certificate_pem, ..
                } => carries_certificate(certificate_pem.as_deref(), want),
                _ => false,
            });
        } else {
            candidates.extend(
                self.bundles(repo)
                    .await?
                    .into_iter()
                    .filter(|b| b.predicate_type.as_deref() != Some(COSIGN_SIGN_PREDICATE))
                    .map(|b| AttestationCandidate::Bundle { bundle: b.bundle }),
            );
        }
        let verdict = sigil_verify::verify_attestations(
            &self.image,
            &self.digest,
            candidates,
            policy,
            PredicateFilter::Exactly(predicate_type),
        );
        if verdict.verified.is_empty() {
            let other_types_only = verdict
                .rejected
                .iter()
                .all(|(_, f)| matches!(f, Failure::PredicateTypeMismatch { .. }));
            if other_types_only {
                // Kyverno's words, spelling included.
                return Err(VerifyError::Failed(format!(
                    "attestions not found for predicate type {predicate_type}"
                )));
            }
            let reasons: Vec<String> = verdict
                .rejected
                .iter()
                .map(|(_, f)| f.to_string())
                .collect();
            return Err(VerifyError::Failed(format!(
                "no matching attestations: {}",
                reasons.join("\n ")
            )));
        }
        for v in &verdict.verified {
            let predicate = statement_predicate(&v.payload_json).map_err(VerifyError::Failed)?;
            let data = condition_data(predicate, &self.found);
            match conditions::evaluate(&att.conditions, &data) {
                Ok(true) => {}
                Ok(false) => {
                    return Err(VerifyError::Failed(format!(
                        "attestation checks failed for {} and predicate {predicate_type}",
                        self.image
                    )))
                }
                Err(e) => {
                    return Err(VerifyError::Failed(format!(
                        "failed to check attestations: {e}"
                    )))
                }
            }
        }
        Ok(())
    }

    /// One `attestations` entry: its attestor sets (an empty one means any keyless signer
    /// the trusted root vouches for, as Kyverno's empty attestor), each reaching `count`.
    async fn verify_attestation(&mut self, att: &Attestation, at: &str) -> Result<(), VerifyError> {
        let Some(predicate_type) = att.type_.as_deref().or(att.predicate_type.as_deref()) else {
            return Err(VerifyError::AttestationFailed(format!(
                "{at}: missing predicateType"
            )));
        };
        let any_signer;
        let sets: &[AttestorSet] = if att.attestors.is_empty() {
            any_signer = [AttestorSet {
                count: None,
                entries: vec![Attestor {
                    keyless: Some(Keyless::default()),
                    ..Attestor::default()
                }],
            }];
            &any_signer
        } else {
            &att.attestors
        };
        for (s, set) in sets.iter().enumerate() {
            let here = format!("{at}.attestors[{s}]");
            self.verify_set(set, &here, Target::Attestation(att, predicate_type))
                .await?;
        }
        Ok(())
    }

    fn slot(&mut self, repo: &ImageRef) -> &mut Fetched {
        self.fetched.entry(repo.name()).or_default()
    }

    async fn signatures(
        &mut self,
        repo: &ImageRef,
    ) -> Result<Vec<SignatureCandidate>, VerifyError> {
        if let Some(s) = &self.slot(repo).signatures {
            return Ok(s.clone());
        }
        let got = self
            .fetcher
            .signatures(repo, &self.digest)
            .await?
            .unwrap_or_default();
        self.slot(repo).signatures = Some(got.clone());
        Ok(got)
    }

    async fn bundles(&mut self, repo: &ImageRef) -> Result<Vec<BundleBlob>, VerifyError> {
        if let Some(b) = &self.slot(repo).bundles {
            return Ok(b.clone());
        }
        let got = self.fetcher.bundles(repo, &self.digest).await?;
        self.slot(repo).bundles = Some(got.clone());
        Ok(got)
    }

    async fn attestation_layers(
        &mut self,
        repo: &ImageRef,
    ) -> Result<Vec<AttestationCandidate>, VerifyError> {
        if let Some(a) = &self.slot(repo).attestation_layers {
            return Ok(a.clone());
        }
        let got = self.fetcher.attestation_layers(repo, &self.digest).await?;
        self.slot(repo).attestation_layers = Some(got.clone());
        Ok(got)
    }
}

/// The statement's `predicate` from a verified envelope (`payload` is base64 of the
/// in-toto statement).
fn statement_predicate(envelope: &serde_json::Value) -> Result<serde_json::Value, String> {
    let payload = envelope
        .get("payload")
        .and_then(serde_json::Value::as_str)
        .ok_or("verified envelope has no payload")?;
    let bytes = B64
        .decode(payload)
        .map_err(|e| format!("envelope payload is not base64: {e}"))?;
    let mut statement: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| format!("statement is not JSON: {e}"))?;
    Ok(statement
        .get_mut("predicate")
        .map(serde_json::Value::take)
        .unwrap_or(serde_json::Value::Null))
}

/// What attestation conditions read, as Kyverno builds it (K:`pkg/engine/internal/imageverifier.go`
/// `evaluateConditions`): the statement's `predicate` merged at the top level (so
/// `{{ builder.id }}` reads the SLSA builder), then `image` (K:`pkg/engine/context`
/// `AddImageInfo`: `reference`, `referenceWithTag`, `registry`, `path`, `name`, `tag`,
/// `digest` of the image as the resource names it), which wins over a predicate field of
/// that name. The rest of Kyverno's policy context (`request.*`, `images`, `context`
/// entries) is not there: a condition that reads it finds nothing and fails.
fn condition_data(predicate: serde_json::Value, image: &ImageInfo) -> serde_json::Value {
    let serde_json::Value::Object(mut map) = predicate else {
        return predicate;
    };
    let name = image.path.rsplit('/').next().unwrap_or(&image.path);
    let tag = image.tag.clone().unwrap_or_default();
    let digest = image
        .digest
        .as_ref()
        .map(|d| d.to_string())
        .unwrap_or_default();
    map.insert(
        "image".into(),
        serde_json::json!({
            "reference": image.kyverno_string(),
            "referenceWithTag": format!("{}:{tag}", image.name()),
            "registry": image.registry,
            "path": image.path,
            "name": name,
            "tag": tag,
            "digest": digest,
        }),
    );
    serde_json::Value::Object(map)
}

/// One verdict from two: verified if either is; rejections of both.
fn merge(mut a: Verdict, b: Verdict) -> Verdict {
    let offset = a.verified.len() + a.rejected.len();
    a.verified.extend(b.verified.into_iter().map(|mut v| {
        v.index += offset;
        v
    }));
    a.rejected
        .extend(b.rejected.into_iter().map(|(i, f)| (i + offset, f)));
    a.outcome = if !a.verified.is_empty() {
        sigil_verify::Outcome::Verified
    } else if a.rejected.is_empty() {
        sigil_verify::Outcome::NoSignatures
    } else {
        sigil_verify::Outcome::NoMatchingSignatures
    };
    a
}
