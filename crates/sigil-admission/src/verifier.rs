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

use futures_util::future::{BoxFuture, FutureExt, Shared};
use sigil_core::keys::PublicKey;
use sigil_core::trust_root::TrustedRoot;
use sigil_core::{Digest, ImageRef};
use sigil_oci::cosign::{fetch_layers, Attachment};
use sigil_oci::Client;
use sigil_verify::{
    GithubExpectations, IdentityPolicy, ImagePolicy, Matcher, SctPolicy, SignatureCandidate,
    TlogPolicy, Trust,
};

use crate::image::ImageInfo;
use crate::policy::{Attestor, AttestorSet, ImageVerification, Keyless, SignatureType};
use crate::wildcard;

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
    /// The policy asks for a check sigil cannot make yet; always refused, never allowed.
    #[error("{0}")]
    Unsupported(String),
}

/// Where signatures and digests come from.
#[async_trait::async_trait]
pub trait Fetcher: Send + Sync + 'static {
    /// The digest `image`'s tag points to now.
    async fn resolve(&self, image: &ImageRef) -> Result<Digest, VerifyError>;
    /// The `.sig` layers attached to `digest` in `repository`; `None` when there are none.
    async fn signatures(
        &self,
        repository: &ImageRef,
        digest: &Digest,
    ) -> Result<Option<Vec<SignatureCandidate>>, VerifyError>;
}

/// [`Fetcher`] over sigil's registry client (the same layout reading as `sigil verify`).
#[derive(Debug)]
pub struct RegistryFetcher {
    pub client: Arc<Client>,
}

fn transport(e: sigil_oci::Error) -> VerifyError {
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(&e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    VerifyError::Unavailable(msg)
}

#[async_trait::async_trait]
impl Fetcher for RegistryFetcher {
    async fn resolve(&self, image: &ImageRef) -> Result<Digest, VerifyError> {
        match self.client.head_manifest(image).await {
            Ok(Some(d)) => Ok(d.digest),
            Ok(None) => Err(VerifyError::Failed(format!("image not found: {image}"))),
            Err(e) => Err(transport(e)),
        }
    }

    async fn signatures(
        &self,
        repository: &ImageRef,
        digest: &Digest,
    ) -> Result<Option<Vec<SignatureCandidate>>, VerifyError> {
        let layers = fetch_layers(&self.client, repository, digest, Attachment::Signature)
            .await
            .map_err(transport)?;
        Ok(layers.map(|layers| {
            layers
                .into_iter()
                .map(|l| SignatureCandidate {
                    signature_b64: l.signature_b64().map(str::to_owned),
                    certificate_pem: l.certificate().map(str::to_owned),
                    chain_pem: l.chain().map(str::to_owned),
                    rekor_bundle: l.bundle().map(str::to_owned),
                    payload: l.payload.to_vec(),
                })
                .collect()
        }))
    }
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
    policy: String,
    rule: String,
    attestors: String,
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
    pub image: ImageInfo,
    pub entry: Arc<ImageVerification>,
    /// [`crate::Policy::identity`].
    pub policy: String,
    pub rule: String,
    /// [`ImageVerification::attestor_identity`] of `entry`.
    pub attestors: String,
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

    /// Verifies `job.image` at `digest`: from the cache when allowed, else through the
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
            policy: job.policy.clone(),
            rule: job.rule.clone(),
            attestors: job.attestors.clone(),
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
                            Err(VerifyError::Failed(_)) | Err(VerifyError::Unsupported(_)) => {
                                Some(neg)
                            }
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
    match entry.type_ {
        SignatureType::Cosign => {}
        SignatureType::SigstoreBundle => {
            return Err(VerifyError::Unsupported(
                "type SigstoreBundle (bundle referrers) is not supported by sigil's admission controller yet".into(),
            ))
        }
        SignatureType::Notary => {
            return Err(VerifyError::Unsupported(
                "type Notary is not supported by sigil".into(),
            ))
        }
    }
    if !entry.attestations.is_empty() {
        return Err(VerifyError::Unsupported(
            ".attestations: attestation verification is not available in sigil's admission controller yet".into(),
        ));
    }
    let mut ctx = Ctx {
        fetcher,
        trusted_root,
        image: job.image.reference.with_digest(digest.clone()),
        default_repo: match &entry.repository {
            Some(r) => Some(parse_repo(r)?),
            None => None,
        },
        digest: digest.clone(),
        fetched: BTreeMap::new(),
    };
    for (s, set) in entry.effective_attestors().iter().enumerate() {
        ctx.verify_set(set, &format!(".attestors[{s}]")).await?;
    }
    Ok(digest)
}

fn parse_repo(r: &str) -> Result<ImageRef, VerifyError> {
    r.parse().map_err(|e: sigil_core::Error| {
        VerifyError::Failed(format!("invalid repository `{r}`: {e}"))
    })
}

struct Ctx {
    fetcher: Arc<dyn Fetcher>,
    trusted_root: Option<Arc<TrustedRoot>>,
    image: ImageRef,
    default_repo: Option<ImageRef>,
    digest: Digest,
    /// Signatures per repository, fetched once per image.
    fetched: BTreeMap<String, Option<Vec<SignatureCandidate>>>,
}

impl Ctx {
    /// An attestor set passes when `count` entries (all, by default) pass. The messages of
    /// failing entries are kept for the deny message, in Kyverno's `.attestors[i].entries[j].kind: …` form.
    fn verify_set<'a>(
        &'a mut self,
        set: &'a AttestorSet,
        at: &'a str,
    ) -> BoxFuture<'a, Result<(), VerifyError>> {
        async move {
            let need = set.required_count();
            let mut passed = 0;
            let mut failures: Vec<String> = Vec::new();
            let mut unavailable: Option<VerifyError> = None;
            for (e, entry) in set.entries.iter().enumerate() {
                let here = format!("{at}.entries[{e}].{}", entry.kind_name());
                match self.verify_entry(entry, &here).await {
                    Ok(()) => {
                        passed += 1;
                        if passed >= need {
                            return Ok(());
                        }
                    }
                    Err(VerifyError::Failed(m)) => failures.push(format!("{here}: {m}")),
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
            Err(VerifyError::Failed(failures.join("; ")))
        }
        .boxed()
    }

    async fn verify_entry(&mut self, entry: &Attestor, at: &str) -> Result<(), VerifyError> {
        if let Some(nested) = &entry.attestor {
            return self.verify_set(nested, at).await;
        }
        let policy = image_policy(entry, self.trusted_root.clone())?;
        let repo = match &entry.repository {
            Some(r) => parse_repo(r)?,
            None => self
                .default_repo
                .clone()
                .unwrap_or_else(|| self.image.clone()),
        };
        let key = repo.name();
        if !self.fetched.contains_key(&key) {
            let got = self.fetcher.signatures(&repo, &self.digest).await?;
            self.fetched.insert(key.clone(), got);
        }
        let candidates = self
            .fetched
            .get(&key)
            .cloned()
            .flatten()
            .unwrap_or_default();
        let verdict =
            sigil_verify::verify_candidates(&self.image, &self.digest, candidates, &policy);
        match verdict.error_message() {
            None => Ok(()),
            Some(m) => Err(VerifyError::Failed(m)),
        }
    }
}

/// The attestor → pipeline-policy mapping.
/// - `keys.publicKeys` → `Trust::Key`; `rekor.ignoreTlog` → the log policy (Kyverno: an
///   omitted `rekor` block means the log is required); entry `annotations` → required
///   payload annotations.
/// - `keyless` → `Trust::Keyless` against the trusted root: `subject` (Kyverno wildcard,
///   against every SAN) OR `subjectRegExp` (unanchored, as Kyverno's Go `MatchString`);
///   `issuer` or `issuerRegExp`; `additionalExtensions` GitHub values (exact);
///   `ctlog.ignoreSCT` → the SCT policy.
///
/// Everything the pipeline cannot check is refused with a message, never skipped.
fn image_policy(
    entry: &Attestor,
    root: Option<Arc<TrustedRoot>>,
) -> Result<ImagePolicy, VerifyError> {
    let unsupported = |m: &str| Err(VerifyError::Unsupported(m.to_owned()));
    if let Some(keys) = &entry.keys {
        if keys.kms.is_some() {
            return unsupported(
                "KMS keys are not supported by sigil; give the public key in publicKeys",
            );
        }
        if keys.secret.is_some() {
            return unsupported(
                "keys from Kubernetes Secrets are not supported by sigil; give the public key in publicKeys",
            );
        }
        let pem = keys.public_keys.as_deref().unwrap_or("");
        if pem.contains("://") || pem.contains("{{") {
            return Err(VerifyError::Unsupported(format!(
                "key reference `{pem}` is not supported by sigil; give the PEM in publicKeys"
            )));
        }
        if keys
            .rekor
            .as_ref()
            .is_some_and(|r| r.pubkey.is_some() && !r.ignore_tlog)
        {
            return unsupported(
                "rekor.pubkey is not supported; put the log in the trust config (--trust-config)",
            );
        }
        let key = PublicKey::from_pem(pem.as_bytes())
            .map_err(|e| VerifyError::Failed(format!("invalid public key: {e}")))?;
        let ignore = keys.rekor.as_ref().is_some_and(|r| r.ignore_tlog);
        return Ok(ImagePolicy {
            trust: Trust::Key(key),
            tlog: if ignore {
                TlogPolicy::Ignore
            } else {
                TlogPolicy::Required
            },
            trusted_root: root,
            annotations: entry.annotations.clone(),
        });
    }
    if let Some(k) = &entry.keyless {
        return keyless_policy(k, entry, root);
    }
    if entry.certificates.is_some() {
        return unsupported(
            "certificate attestors are not available yet in sigil's verification pipeline; the image is refused",
        );
    }
    unsupported("attestor without keys, keyless or certificates")
}

fn keyless_policy(
    k: &Keyless,
    entry: &Attestor,
    root: Option<Arc<TrustedRoot>>,
) -> Result<ImagePolicy, VerifyError> {
    let unsupported = |m: String| Err(VerifyError::Unsupported(m));
    if k.roots.is_some() {
        return unsupported(
            "keyless.roots (a CA given in the policy) is not supported yet; put the CA in the trust config given by --trust-config".into(),
        );
    }
    if k.rekor.as_ref().is_some_and(|r| r.pubkey.is_some())
        || k.ctlog.as_ref().is_some_and(|c| c.pubkey.is_some())
    {
        return unsupported(
            "rekor.pubkey / ctlog.pubkey are not supported; put the log keys in the trust config given by --trust-config".into(),
        );
    }
    let Some(root) = root else {
        return unsupported(
            "keyless verification needs a trusted root: start the admission controller with --trust-config (or SIGIL_TRUST_CONFIG)".into(),
        );
    };
    let bad_re = |e: String| VerifyError::Failed(e);
    let identity = match (&k.subject, &k.subject_reg_exp) {
        (None, None) => Matcher::regex("").map_err(bad_re)?,
        (Some(s), None) if !wildcard::has_wildcard(s) => Matcher::Exact(s.clone()),
        (Some(s), None) => Matcher::regex(&wildcard_regex(s)).map_err(bad_re)?,
        (None, Some(r)) => Matcher::regex(r).map_err(bad_re)?,
        // Kyverno ORs the two.
        (Some(s), Some(r)) => {
            Matcher::regex(&format!("(?:{})|(?:{r})", wildcard_regex(s))).map_err(bad_re)?
        }
    };
    let issuer = match (&k.issuer, &k.issuer_reg_exp) {
        (None, None) => Matcher::regex("").map_err(bad_re)?,
        (Some(s), None) if !wildcard::has_wildcard(s) => Matcher::Exact(s.clone()),
        (Some(s), None) => Matcher::regex(&wildcard_regex(s)).map_err(bad_re)?,
        (None, Some(r)) => Matcher::regex(r).map_err(bad_re)?,
        (Some(_), Some(_)) => {
            return unsupported(
                "issuer together with issuerRegExp is not supported; use one of them".into(),
            )
        }
    };
    let mut github = GithubExpectations::default();
    for (name, value) in k.additional_extensions.iter().flatten() {
        if wildcard::has_wildcard(value) {
            return unsupported(format!(
                "additionalExtensions.{name}: wildcard values are not supported; give the exact value"
            ));
        }
        let slot = match name.as_str() {
            "githubWorkflowTrigger" => &mut github.trigger,
            "githubWorkflowSha" => &mut github.sha,
            "githubWorkflowName" => &mut github.name,
            "githubWorkflowRepository" => &mut github.repository,
            "githubWorkflowRef" => &mut github.git_ref,
            other => return unsupported(format!("additionalExtensions.{other} is not supported")),
        };
        *slot = Some(value.clone());
    }
    let ignore_tlog = k.rekor.as_ref().is_some_and(|r| r.ignore_tlog);
    let ignore_sct = k.ctlog.as_ref().is_some_and(|c| c.ignore_sct);
    Ok(ImagePolicy {
        trust: Trust::Keyless {
            identity: IdentityPolicy {
                identity,
                issuer,
                github,
            },
            sct: if ignore_sct {
                SctPolicy::Ignore
            } else {
                SctPolicy::Required
            },
        },
        tlog: if ignore_tlog {
            TlogPolicy::Ignore
        } else {
            TlogPolicy::Required
        },
        trusted_root: Some(root),
        annotations: entry.annotations.clone(),
    })
}

/// A Kyverno wildcard as an anchored regular expression (`*` → `.*`, `?` → `.`).
fn wildcard_regex(pattern: &str) -> String {
    let mut re = String::from("^(?s:");
    for c in pattern.chars() {
        match c {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push_str(")$");
    re
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{Ctlog, Rekor};

    fn root() -> Option<Arc<TrustedRoot>> {
        let bytes = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("testdata/trust/production-trusted_root.json"),
        )
        .unwrap();
        Some(Arc::new(
            sigil_core::trust_root::trusted_root_from_any(&bytes).unwrap(),
        ))
    }

    fn keyless(k: Keyless) -> Attestor {
        Attestor {
            keyless: Some(k),
            ..Attestor::default()
        }
    }

    fn identity(p: &ImagePolicy) -> (&IdentityPolicy, SctPolicy) {
        match &p.trust {
            Trust::Keyless { identity, sct } => (identity, *sct),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn keyless_attestors_map_to_keyless_trust() {
        let lab = keyless(Keyless {
            subject: Some("https://github.com/u/r/.github/workflows/sign.yml@refs/tags/*".into()),
            issuer: Some("https://token.actions.githubusercontent.com".into()),
            rekor: Some(Rekor {
                url: Some("https://rekor.sigstore.dev".into()),
                ..Rekor::default()
            }),
            ..Keyless::default()
        });
        let p = image_policy(&lab, root()).unwrap();
        assert_eq!(p.tlog, TlogPolicy::Required);
        assert!(p.trusted_root.is_some());
        let (id, sct) = identity(&p);
        assert_eq!(sct, SctPolicy::Required);
        assert!(id
            .identity
            .matches("https://github.com/u/r/.github/workflows/sign.yml@refs/tags/v1.0.0"));
        assert!(!id
            .identity
            .matches("https://github.com/u/r/.github/workflows/sign.yml@refs/heads/main"));
        assert!(!id.identity.matches(
            "https://evil.example/https://github.com/u/r/.github/workflows/sign.yml@refs/tags/v1"
        ));
        assert!(id
            .issuer
            .matches("https://token.actions.githubusercontent.com"));
        assert!(!id
            .issuer
            .matches("https://token.actions.githubusercontent.com.evil"));

        // subject OR subjectRegExp (unanchored, as Kyverno); ignoreSCT / ignoreTlog.
        let either = keyless(Keyless {
            subject: Some("a@example.com".into()),
            subject_reg_exp: Some("@corp\\.example$".into()),
            issuer_reg_exp: Some("accounts".into()),
            rekor: Some(Rekor {
                url: Some("u".into()),
                ignore_tlog: true,
                ..Rekor::default()
            }),
            ctlog: Some(Ctlog {
                ignore_sct: true,
                ..Ctlog::default()
            }),
            ..Keyless::default()
        });
        let p = image_policy(&either, root()).unwrap();
        assert_eq!(p.tlog, TlogPolicy::Ignore);
        let (id, sct) = identity(&p);
        assert_eq!(sct, SctPolicy::Ignore);
        assert!(id.identity.matches("a@example.com"));
        assert!(id.identity.matches("b@corp.example"));
        assert!(!id.identity.matches("xa@example.com"));
        assert!(id.issuer.matches("https://accounts.google.com"));

        // GitHub extensions, exact.
        let mut ext = BTreeMap::new();
        ext.insert("githubWorkflowTrigger".to_owned(), "push".to_owned());
        let gh = keyless(Keyless {
            additional_extensions: Some(ext),
            rekor: Some(Rekor {
                url: Some("u".into()),
                ..Rekor::default()
            }),
            ..Keyless::default()
        });
        let p = image_policy(&gh, root()).unwrap();
        assert_eq!(identity(&p).0.github.trigger.as_deref(), Some("push"));
    }

    #[test]
    fn what_cannot_be_checked_is_refused() {
        let base = Keyless {
            rekor: Some(Rekor {
                url: Some("u".into()),
                ..Rekor::default()
            }),
            ..Keyless::default()
        };
        let unsupported = |a: Attestor, r: Option<Arc<TrustedRoot>>| {
            matches!(image_policy(&a, r), Err(VerifyError::Unsupported(_)))
        };
        assert!(unsupported(keyless(base.clone()), None), "no trusted root");
        assert!(unsupported(
            keyless(Keyless {
                roots: Some("PEM".into()),
                ..base.clone()
            }),
            root()
        ));
        assert!(unsupported(
            keyless(Keyless {
                issuer: Some("a".into()),
                issuer_reg_exp: Some("b".into()),
                ..base.clone()
            }),
            root()
        ));
        let mut ext = BTreeMap::new();
        ext.insert("githubWorkflowRef".to_owned(), "refs/tags/*".to_owned());
        assert!(unsupported(
            keyless(Keyless {
                additional_extensions: Some(ext),
                ..base.clone()
            }),
            root()
        ));
        assert!(unsupported(
            Attestor {
                certificates: Some(crate::policy::Certificates::default()),
                ..Attestor::default()
            },
            root()
        ));
        assert!(unsupported(
            Attestor {
                keys: Some(crate::policy::StaticKeys {
                    kms: Some("gcpkms://x".into()),
                    ..Default::default()
                }),
                ..Attestor::default()
            },
            root()
        ));
    }
}
