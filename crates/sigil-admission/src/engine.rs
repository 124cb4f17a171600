//! The policy engine: for one admission request, the rules that apply, the images they
//! cover, the verdicts, and the answer — Kyverno's JSONPatch and annotations when allowed,
//! Kyverno's block message when not (K:`pkg/webhooks/utils/block.go`,
//! `pkg/engine/internal/imageverifier.go`).
//!
//! Two phases, as Kyverno's two webhooks:
//! - **mutate** (`/mutate`): verify every covered image (in parallel; one tag resolution per
//!   image string, so the digest written into the pod is the digest the signatures were
//!   checked against), pin tags to digests, record `kyverno.io/verify-images`.
//! - **validate** (`/validate`): `verifyDigest` (image must be pinned) and `required` (the
//!   image must verify). The verdict is re-derived from the verdict cache or by verifying
//!   again — never from the annotation, which whoever creates the pod can write (kyverno#16336).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde_json::{json, Value};

use crate::image::{images_of, FoundImage, ImageInfo};
use crate::matching::{rule_applies, MatchCtx};
use crate::policy::{FailureAction, FailurePolicy, ImageVerification, Policy};
use crate::verifier::{ImageVerifier, VerifyError, VerifyJob};

/// Which webhook is asking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Mutate,
    Validate,
}

/// The part of an AdmissionReview request the engine needs.
#[derive(Clone, Debug, Default)]
pub struct Request {
    pub kind: String,
    pub sub_resource: Option<String>,
    pub namespace: String,
    pub name: String,
    pub operation: String,
    pub object: Value,
    pub username: String,
    pub groups: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleStatus {
    Pass,
    Fail,
    Skip,
    Error,
}

impl RuleStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleStatus::Pass => "pass",
            RuleStatus::Fail => "fail",
            RuleStatus::Skip => "skip",
            RuleStatus::Error => "error",
        }
    }
}

/// The outcome of one rule for one image.
#[derive(Clone, Debug)]
pub struct RuleResult {
    pub policy: String,
    /// `ns/name` of the policy (`/name` for cluster policies).
    pub policy_key: String,
    pub rule: String,
    /// The image as written in the resource.
    pub image: Option<String>,
    pub status: RuleStatus,
    pub message: String,
    /// Whether this result refuses the request.
    pub blocking: bool,
}

/// The engine's answer to one request.
#[derive(Clone, Debug, Default)]
pub struct Evaluation {
    pub results: Vec<RuleResult>,
    /// JSONPatch operations (mutate phase, allowed requests only).
    pub patch: Vec<Value>,
    pub warnings: Vec<String>,
    pub allowed: bool,
    /// Kyverno's block message when refused.
    pub message: Option<String>,
}

#[derive(Clone, Debug)]
pub struct EngineOptions {
    /// Time allowed for all verifications of one request; kept below the webhook's
    /// `timeoutSeconds` (10 s) so the answer is ours, not the apiserver's timeout.
    pub deadline: Duration,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            deadline: Duration::from_secs(8),
        }
    }
}

/// A policy with what every request would otherwise recompute: its name and key, and per
/// rule and verifyImages entry, the shared entry and its verdict-cache scope (policy
/// identity and attestor hash), shared by reference so a request allocates none of them.
#[derive(Debug)]
struct Prepared {
    policy: Policy,
    name: Arc<str>,
    key: String,
    entries: Vec<Vec<(Arc<ImageVerification>, Arc<str>)>>,
}

impl Prepared {
    fn new(policy: Policy) -> Prepared {
        let identity = policy.identity();
        let entries = policy
            .spec
            .rules
            .iter()
            .map(|r| {
                r.verify_images
                    .iter()
                    .map(|iv| {
                        let scope = format!("{}|{}", identity, iv.attestor_identity());
                        (Arc::new(iv.clone()), Arc::from(scope))
                    })
                    .collect()
            })
            .collect();
        Prepared {
            name: Arc::from(policy.metadata.name.as_str()),
            key: policy.key(),
            policy,
            entries,
        }
    }
}

/// Policies plus the verifier.
#[derive(Debug)]
pub struct Engine {
    policies: RwLock<Arc<Vec<Prepared>>>,
    pub verifier: ImageVerifier,
    pub options: EngineOptions,
}

/// One (rule, verifyImages entry, image) to check.
struct Job {
    policy: Arc<str>,
    policy_key: Arc<str>,
    rule: Arc<str>,
    entry: Arc<ImageVerification>,
    /// Verdict-cache scope: policy identity and attestor hash.
    scope: Arc<str>,
    action: FailureAction,
    failure_policy: FailurePolicy,
    found: Arc<FoundImage>,
}

impl Engine {
    pub fn new(policies: Vec<Policy>, verifier: ImageVerifier, options: EngineOptions) -> Engine {
        Engine {
            policies: RwLock::new(Arc::new(policies.into_iter().map(Prepared::new).collect())),
            verifier,
            options,
        }
    }

    /// Replaces the policy set (reload); requests in flight keep the set they started with.
    pub fn set_policies(&self, policies: Vec<Policy>) {
        let prepared = Arc::new(policies.into_iter().map(Prepared::new).collect());
        if let Ok(mut p) = self.policies.write() {
            *p = prepared;
        }
    }

    fn prepared(&self) -> Arc<Vec<Prepared>> {
        match self.policies.read() {
            Ok(p) => p.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    /// Number of policies in force.
    pub fn policy_count(&self) -> usize {
        self.prepared().len()
    }

    /// Evaluates `req` for `phase`.
    pub async fn evaluate(&self, req: &Request, phase: Phase) -> Evaluation {
        let mut ev = Evaluation {
            allowed: true,
            ..Evaluation::default()
        };
        // Nothing runs on DELETE/CONNECT, and status-like subresources cannot change images.
        if matches!(req.operation.as_str(), "DELETE" | "CONNECT") || req.object.is_null() {
            return ev;
        }
        if let Some(s) = &req.sub_resource {
            if s != "ephemeralcontainers" {
                return ev;
            }
        }
        let policies = self.prepared();
        let meta = req.object.get("metadata");
        let labels = string_map(meta.and_then(|m| m.get("labels")));
        let annotations = string_map(meta.and_then(|m| m.get("annotations")));
        let ctx = MatchCtx {
            kind: &req.kind,
            sub_resource: req.sub_resource.as_deref(),
            name: &req.name,
            namespace: &req.namespace,
            operation: &req.operation,
            labels,
            annotations,
            username: &req.username,
            groups: &req.groups,
        };
        let mut images: Option<Result<Vec<Arc<FoundImage>>, String>> = None;
        let mut jobs = Vec::new();
        for prepared in policies.iter() {
            let policy = &prepared.policy;
            for (ri, rule) in policy.spec.rules.iter().enumerate() {
                if rule.verify_images.is_empty() {
                    continue;
                }
                let Some(rule_name) = rule_applies(policy, rule, &ctx) else {
                    continue;
                };
                let result =
                    |status, message: String, image: Option<String>, blocking| RuleResult {
                        policy: policy.metadata.name.clone(),
                        policy_key: prepared.key.clone(),
                        rule: rule_name.clone(),
                        image,
                        status,
                        message,
                        blocking,
                    };
                if rule
                    .image_extractors
                    .as_ref()
                    .is_some_and(|x| x.contains_key(&req.kind))
                {
                    ev.results.push(result(
                        RuleStatus::Error,
                        format!("imageExtractors for {} are not supported by sigil; the resource is refused", req.kind),
                        None,
                        true,
                    ));
                    continue;
                }
                let found = images.get_or_insert_with(|| {
                    images_of(&req.kind, &req.object)
                        .map(|v| v.into_iter().map(Arc::new).collect())
                        .map_err(|e| e.to_string())
                });
                let found = match found {
                    Ok(f) => f,
                    Err(e) => {
                        ev.results
                            .push(result(RuleStatus::Error, e.clone(), None, true));
                        continue;
                    }
                };
                let entries = prepared.entries.get(ri).map(Vec::as_slice).unwrap_or(&[]);
                let rule_arc: Arc<str> = Arc::from(rule_name.as_str());
                let key_arc: Arc<str> = Arc::from(prepared.key.as_str());
                for (entry, scope) in entries {
                    let iv = entry.as_ref();
                    let action = policy.action(iv);
                    for f in found.iter() {
                        let refs = iv.references();
                        if !refs.iter().any(|p| f.image.matched_by(p)) {
                            continue;
                        }
                        if let Some(p) = iv
                            .skip_image_references
                            .iter()
                            .find(|p| f.image.skipped_by(p))
                        {
                            let msg = format!(
                                "image {} is skipped (skipImageReferences `{p}`)",
                                f.image.raw
                            );
                            ev.warnings.push(format!(
                                "policy {}.{}: {msg}",
                                policy.metadata.name, rule_name
                            ));
                            ev.results.push(result(
                                RuleStatus::Skip,
                                msg,
                                Some(f.image.raw.clone()),
                                false,
                            ));
                            continue;
                        }
                        jobs.push(Job {
                            policy: prepared.name.clone(),
                            policy_key: key_arc.clone(),
                            rule: rule_arc.clone(),
                            entry: entry.clone(),
                            scope: scope.clone(),
                            action,
                            failure_policy: policy.failure_policy(),
                            found: f.clone(),
                        });
                    }
                }
            }
        }
        if !jobs.is_empty() {
            let run = self.run_jobs(jobs, phase, &mut ev);
            if tokio::time::timeout(self.options.deadline, run)
                .await
                .is_err()
            {
                ev.results.push(RuleResult {
                    policy: String::new(),
                    policy_key: String::new(),
                    rule: String::new(),
                    image: None,
                    status: RuleStatus::Error,
                    message: format!(
                        "image verification did not finish within {:?}",
                        self.options.deadline
                    ),
                    blocking: true,
                });
            }
        }
        finish(req, phase, &mut ev);
        ev
    }

    async fn run_jobs(&self, jobs: Vec<Job>, phase: Phase, ev: &mut Evaluation) {
        // One digest per image string, resolved once: every rule verifies, and the patch
        // pins, the same content.
        let mut unique: Vec<&ImageInfo> = Vec::new();
        for j in &jobs {
            if !unique.iter().any(|u| u.raw == j.found.image.raw) {
                unique.push(&j.found.image);
            }
        }
        let digests =
            futures_util::future::join_all(unique.iter().map(|i| self.verifier.digest_of(i))).await;
        let digests: HashMap<String, Result<sigil_core::Digest, VerifyError>> =
            unique.iter().map(|u| u.raw.clone()).zip(digests).collect();
        let verifications = jobs.iter().map(|j| {
            let digest = digests.get(&j.found.image.raw).cloned();
            async move {
                let digest = match digest {
                    Some(Ok(d)) => d,
                    Some(Err(e)) => return Err(e),
                    None => return Err(VerifyError::Unavailable("no digest".into())),
                };
                if phase == Phase::Validate
                    && j.entry.verify_digest()
                    && j.found.image.digest.is_none()
                {
                    return Err(VerifyError::Failed(format!(
                        "missing digest for {}",
                        j.found.image.raw
                    )));
                }
                if phase == Phase::Validate && !j.entry.required() {
                    return Ok((digest, false));
                }
                self.verifier
                    .verify(
                        VerifyJob {
                            found: j.found.clone(),
                            entry: j.entry.clone(),
                            scope: j.scope.clone(),
                            rule: j.rule.clone(),
                        },
                        digest,
                    )
                    .await
                    .map(|v| (v.digest, true))
            }
        });
        let outcomes = futures_util::future::join_all(verifications).await;
        let mut verify_images: BTreeMap<String, &'static str> = BTreeMap::new();
        let mut scoped: BTreeMap<String, BTreeMap<String, BTreeMap<String, &'static str>>> =
            BTreeMap::new();
        let mut pins: BTreeMap<String, String> = BTreeMap::new();
        for (j, outcome) in jobs.iter().zip(outcomes) {
            let img = &j.found.image;
            let (status, message, blocking, digest) = match outcome {
                Ok((d, _)) => (
                    RuleStatus::Pass,
                    "verified image signatures".to_owned(),
                    false,
                    Some(d),
                ),
                Err(VerifyError::Failed(m)) => {
                    let msg = if phase == Phase::Validate && m.starts_with("missing digest") {
                        m
                    } else if phase == Phase::Validate {
                        format!("unverified image {}: {m}", img.raw)
                    } else {
                        format!("failed to verify image {}: {m}", img.raw)
                    };
                    (
                        RuleStatus::Fail,
                        msg,
                        j.action == FailureAction::Enforce,
                        None,
                    )
                }
                Err(VerifyError::AttestationFailed(m)) => (
                    RuleStatus::Fail,
                    m,
                    j.action == FailureAction::Enforce,
                    None,
                ),
                Err(VerifyError::Unsupported(m)) => (
                    RuleStatus::Error,
                    format!("failed to verify image {}: {m}", img.raw),
                    true,
                    None,
                ),
                Err(VerifyError::Unavailable(m)) => (
                    RuleStatus::Error,
                    format!("failed to verify image {}: {m}", img.raw),
                    j.failure_policy == FailurePolicy::Fail,
                    None,
                ),
            };
            if phase == Phase::Mutate {
                let pin = digest.as_ref().filter(|_| {
                    j.entry.mutate_digest()
                        && j.action == FailureAction::Enforce
                        && img.digest.is_none()
                });
                let key = match (pin, &img.digest) {
                    (Some(d), _) => format!("{}@{d}", img.name()),
                    _ => img.kyverno_string(),
                };
                if let Some(d) = pin {
                    pins.insert(j.found.pointer.clone(), img.pinned(d));
                }
                let st = if status == RuleStatus::Pass {
                    "pass"
                } else {
                    "fail"
                };
                // Any failure for an image wins over a pass from another rule.
                let e = verify_images.entry(key.clone()).or_insert(st);
                if st == "fail" {
                    *e = "fail";
                }
                scoped
                    .entry(j.policy_key.to_string())
                    .or_default()
                    .entry(j.rule.to_string())
                    .or_default()
                    .insert(key, st);
            }
            if status != RuleStatus::Pass && !blocking {
                ev.warnings
                    .push(format!("policy {}.{}: {message}", j.policy, j.rule));
            }
            ev.results.push(RuleResult {
                policy: j.policy.to_string(),
                policy_key: j.policy_key.to_string(),
                rule: j.rule.to_string(),
                image: Some(img.raw.clone()),
                status,
                message,
                blocking,
            });
        }
        if phase == Phase::Mutate && !verify_images.is_empty() {
            ev.patch = annotation_patch(&verify_images, &scoped);
            for (pointer, value) in pins {
                ev.patch
                    .push(json!({"op": "replace", "path": pointer, "value": value}));
            }
        }
    }
}

/// Kyverno's annotation patches; the object's `metadata.annotations` presence is filled in
/// by [`finish`].
fn annotation_patch(
    verify_images: &BTreeMap<String, &'static str>,
    scoped: &BTreeMap<String, BTreeMap<String, BTreeMap<String, &'static str>>>,
) -> Vec<Value> {
    let vi = serde_json::to_string(verify_images).unwrap_or_default();
    let sc = serde_json::to_string(&json!({"version": 1, "policies": scoped})).unwrap_or_default();
    vec![
        json!({"op": "add", "path": "/metadata/annotations/kyverno.io~1verify-images", "value": vi}),
        json!({"op": "add", "path": "/metadata/annotations/kyverno.io~1verify-images-scoped", "value": sc}),
    ]
}

fn finish(req: &Request, phase: Phase, ev: &mut Evaluation) {
    let blocked: Vec<&RuleResult> = ev.results.iter().filter(|r| r.blocking).collect();
    if !blocked.is_empty() {
        ev.allowed = false;
        ev.patch.clear();
        ev.message = Some(block_message(req, &blocked));
        return;
    }
    if phase == Phase::Mutate && !ev.patch.is_empty() {
        let meta = req.object.get("metadata");
        let mut prefix = Vec::new();
        match meta {
            None | Some(Value::Null) => {
                prefix.push(json!({"op": "add", "path": "/metadata", "value": {"annotations": {}}}))
            }
            Some(m) if m.get("annotations").is_none_or(Value::is_null) => {
                prefix.push(json!({"op": "add", "path": "/metadata/annotations", "value": {}}))
            }
            _ => {}
        }
        prefix.append(&mut ev.patch);
        ev.patch = prefix;
    }
}

/// Kyverno's message (K:`pkg/webhooks/utils/block.go`): YAML of `{policy: {rule: message}}`
/// after `resource Kind/namespace/name was blocked due to the following policies`.
pub fn block_message(req: &Request, blocked: &[&RuleResult]) -> String {
    let mut by_policy: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for r in blocked {
        let policy = if r.policy.is_empty() {
            "sigil-admission"
        } else {
            &r.policy
        };
        let rule = if r.rule.is_empty() {
            "verify-images"
        } else {
            &r.rule
        };
        let m = by_policy
            .entry(policy.to_owned())
            .or_default()
            .entry(rule.to_owned())
            .or_default();
        if !m.is_empty() {
            m.push_str("; ");
        }
        m.push_str(&r.message);
    }
    let yaml = serde_yaml::to_string(&by_policy).unwrap_or_default();
    format!(
        "\n\nresource {}/{}/{} was blocked due to the following policies \n\n{}",
        req.kind, req.namespace, req.name, yaml
    )
}

fn string_map(v: Option<&Value>) -> BTreeMap<String, String> {
    v.and_then(Value::as_object)
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "engine_attestation_tests.rs"]
mod attestation_tests;

#[cfg(test)]
#[path = "engine_log_tests.rs"]
mod log_tests;
