//! The Kyverno policy model: `kyverno.io/v1` (and `v2beta1`) `ClusterPolicy` and `Policy`
//! with every `verifyImages` field of Kyverno's `api/kyverno/v1/image_verification_types.go`.
//!
//! Kyverno's `true` defaults (`mutateDigest`, `verifyDigest`, `required`, `useCache`) are CRD
//! defaults the apiserver applies when a policy is admitted; the Go fields have no
//! `omitempty`. Policies here are read from raw YAML, so the accessors apply those defaults
//! themselves. [`Policy::validate`] rejects what Kyverno's policy webhook rejects.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

/// `Enforce` or `Audit` (Kyverno also accepts the legacy lowercase spellings).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FailureAction {
    #[serde(alias = "enforce")]
    Enforce,
    #[serde(alias = "audit")]
    Audit,
}

/// `Fail` or `Ignore`: whether a rule *error* (registry unreachable, timeout) blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FailurePolicy {
    Fail,
    Ignore,
}

/// A `ClusterPolicy` or namespaced `Policy`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: Spec,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Spec {
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// Legacy spec-wide action; CRD default `Audit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_failure_action: Option<FailureAction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background: Option<bool>,
    /// Legacy; default `Fail`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_policy: Option<FailurePolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_timeout_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_configuration: Option<WebhookConfiguration>,
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookConfiguration {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_policy: Option<FailurePolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_conditions: Option<Value>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    pub name: String,
    #[serde(default, rename = "match")]
    pub match_: MatchResources,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude: Option<MatchResources>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub verify_images: Vec<ImageVerification>,
    /// Custom image locations per kind. Parsed; a resource of such a kind is refused by
    /// the rule (fail closed) because the extractors are not evaluated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_extractors: Option<BTreeMap<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preconditions: Option<Value>,
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// `match` / `exclude`: `any` (one filter), `all` (every filter), or the legacy single
/// `resources` block.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MatchResources {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub any: Vec<ResourceFilter>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub all: Vec<ResourceFilter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceDescription>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subjects: Vec<Subject>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cluster_roles: Vec<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceFilter {
    #[serde(default)]
    pub resources: ResourceDescription,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subjects: Vec<Subject>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cluster_roles: Vec<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceDescription {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<LabelSelector>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub operations: Vec<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelectorRequirement {
    pub key: String,
    pub operator: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subject {
    pub kind: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// `type`: the signature format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SignatureType {
    #[default]
    Cosign,
    SigstoreBundle,
    Notary,
}

/// One `verifyImages` entry.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageVerification {
    #[serde(default, rename = "type")]
    pub type_: SignatureType,
    #[serde(default)]
    pub image_references: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skip_image_references: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_action: Option<FailureAction>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attestors: Vec<AttestorSet>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attestations: Vec<Attestation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mutate_digest: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify_digest: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_cache: Option<bool>,
    #[serde(
        default,
        rename = "cosignOCI11",
        skip_serializing_if = "Option::is_none"
    )]
    pub cosign_oci11: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_registry_credentials: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validate: Option<Value>,
    // Deprecated single-attestor fields, converted by `Convert()` in Kyverno.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roots: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_extensions: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

impl ImageVerification {
    pub fn mutate_digest(&self) -> bool {
        self.mutate_digest.unwrap_or(true)
    }
    pub fn verify_digest(&self) -> bool {
        self.verify_digest.unwrap_or(true)
    }
    pub fn required(&self) -> bool {
        self.required.unwrap_or(true)
    }
    pub fn use_cache(&self) -> bool {
        self.use_cache.unwrap_or(true)
    }

    /// The patterns, with the deprecated `image` field folded in.
    pub fn references(&self) -> Vec<&str> {
        let mut r: Vec<&str> = self.image_references.iter().map(String::as_str).collect();
        if let Some(i) = &self.image {
            r.push(i);
        }
        r
    }

    /// The attestor sets with the deprecated `key`/`subject`/`issuer`/`roots` fields
    /// converted (Kyverno's `Convert()`), and several PEM keys in one `publicKeys` string
    /// split into separate entries under the same `count` (`ExpandStaticKeys`).
    pub fn effective_attestors(&self) -> Vec<AttestorSet> {
        let mut sets = self.attestors.clone();
        if let Some(key) = &self.key {
            sets.push(AttestorSet {
                count: None,
                entries: vec![Attestor {
                    keys: Some(StaticKeys {
                        public_keys: Some(key.clone()),
                        ..StaticKeys::default()
                    }),
                    annotations: self.annotations.clone().unwrap_or_default(),
                    ..Attestor::default()
                }],
            });
        } else if self.subject.is_some() || self.issuer.is_some() || self.roots.is_some() {
            sets.push(AttestorSet {
                count: None,
                entries: vec![Attestor {
                    keyless: Some(Keyless {
                        subject: self.subject.clone(),
                        issuer: self.issuer.clone(),
                        roots: self.roots.clone(),
                        additional_extensions: self.additional_extensions.clone(),
                        ..Keyless::default()
                    }),
                    annotations: self.annotations.clone().unwrap_or_default(),
                    ..Attestor::default()
                }],
            });
        }
        sets.into_iter()
            .map(AttestorSet::expand_static_keys)
            .collect()
    }

    /// A stable identity of what this entry verifies (its attestors, type, repository and
    /// attestations): part of the verdict-cache key, so editing a key invalidates verdicts.
    pub fn attestor_identity(&self) -> String {
        let v = serde_json::json!({
            "type": self.type_,
            "attestors": self.effective_attestors(),
            "attestations": self.attestations,
            "repository": self.repository,
        });
        hex::encode(Sha256::digest(v.to_string().as_bytes()))
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttestorSet {
    /// `None`/0: every entry must verify; N: at least N.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    #[serde(default)]
    pub entries: Vec<Attestor>,
}

impl AttestorSet {
    /// How many entries must verify.
    pub fn required_count(&self) -> usize {
        match self.count {
            None | Some(0) => self.entries.len(),
            Some(n) => n as usize,
        }
    }

    fn expand_static_keys(self) -> AttestorSet {
        let mut entries = Vec::with_capacity(self.entries.len());
        let mut count = self.count;
        for e in self.entries {
            let pems = e
                .keys
                .as_ref()
                .and_then(|k| k.public_keys.as_deref())
                .map(split_pems)
                .unwrap_or_default();
            if pems.len() > 1 {
                // Kyverno keeps `count` across the expanded entries; with no count every
                // key must verify, which stays true after expansion.
                for pem in pems {
                    let mut one = e.clone();
                    if let Some(k) = one.keys.as_mut() {
                        k.public_keys = Some(pem);
                    }
                    entries.push(one);
                }
            } else {
                entries.push(e);
            }
        }
        if count == Some(0) {
            count = None;
        }
        AttestorSet { count, entries }
    }
}

fn split_pems(s: &str) -> Vec<String> {
    const END: &str = "-----END PUBLIC KEY-----";
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find(END) {
        let (block, after) = rest.split_at(i + END.len());
        out.push(block.trim().to_owned());
        rest = after;
    }
    if out.is_empty() {
        out.push(s.to_owned());
    }
    out
}

/// One attestor: exactly one of `keys`, `certificates`, `keyless`, `attestor`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attestor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keys: Option<StaticKeys>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificates: Option<Certificates>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyless: Option<Keyless>,
    /// A nested attestor set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestor: Option<Box<AttestorSet>>,
    /// Payload `optional` annotations every accepted signature must carry.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature_algorithm: Option<String>,
}

impl Attestor {
    /// The attestor's kind as Kyverno names it in messages (`.attestors[0].entries[0].keys`).
    pub fn kind_name(&self) -> &'static str {
        if self.keys.is_some() {
            "keys"
        } else if self.certificates.is_some() {
            "certificates"
        } else if self.keyless.is_some() {
            "keyless"
        } else {
            "attestor"
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StaticKeys {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_keys: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature_algorithm: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<SecretReference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rekor: Option<Rekor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ctlog: Option<Ctlog>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretReference {
    pub name: String,
    #[serde(default)]
    pub namespace: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Certificates {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_chain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rekor: Option<Rekor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ctlog: Option<Ctlog>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Keyless {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(
        default,
        rename = "subjectRegExp",
        skip_serializing_if = "Option::is_none"
    )]
    pub subject_reg_exp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    #[serde(
        default,
        rename = "issuerRegExp",
        skip_serializing_if = "Option::is_none"
    )]
    pub issuer_reg_exp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roots: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_extensions: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rekor: Option<Rekor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ctlog: Option<Ctlog>,
}

/// `rekor`: omitted ⇒ public-good Rekor, log required.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rekor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pubkey: Option<String>,
    #[serde(default)]
    pub ignore_tlog: bool,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ctlog {
    #[serde(default, rename = "ignoreSCT")]
    pub ignore_sct: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pubkey: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tsa_cert_chain: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attestation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// Deprecated spelling of `type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicate_type: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attestors: Vec<AttestorSet>,
    /// `any`/`all` JMESPath conditions over the in-toto predicate, kept verbatim.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Value>,
}

impl Policy {
    /// `Policy` objects only apply in their own namespace.
    pub fn is_namespaced(&self) -> bool {
        self.kind == "Policy"
    }

    /// `ns/name` (empty namespace for cluster policies), as Kyverno keys its annotations.
    pub fn key(&self) -> String {
        format!(
            "{}/{}",
            if self.is_namespaced() {
                self.metadata.namespace.as_deref().unwrap_or("default")
            } else {
                ""
            },
            self.metadata.name
        )
    }

    /// Spec-wide action; Kyverno's CRD default is `Audit`.
    pub fn spec_action(&self) -> FailureAction {
        self.spec
            .validation_failure_action
            .unwrap_or(FailureAction::Audit)
    }

    /// The action of one verifyImages entry: its own `failureAction`, else the spec's.
    pub fn action(&self, iv: &ImageVerification) -> FailureAction {
        iv.failure_action.unwrap_or_else(|| self.spec_action())
    }

    pub fn failure_policy(&self) -> FailurePolicy {
        self.spec
            .webhook_configuration
            .as_ref()
            .and_then(|w| w.failure_policy)
            .or(self.spec.failure_policy)
            .unwrap_or(FailurePolicy::Fail)
    }

    /// A content hash: part of the cache key (with the generation when the policy came
    /// from the apiserver), so an edited policy file never reuses old verdicts.
    pub fn identity(&self) -> String {
        let body = serde_json::to_string(&self.spec).unwrap_or_default();
        let h = hex::encode(Sha256::digest(body.as_bytes()));
        format!(
            "{}@{}:{}",
            self.key(),
            self.metadata.generation.unwrap_or(0),
            h.get(..16).unwrap_or(&h)
        )
    }

    /// Whether any rule verifies images.
    pub fn has_verify_images(&self) -> bool {
        self.spec.rules.iter().any(|r| !r.verify_images.is_empty())
    }
}

impl MatchResources {
    /// Every resource description in the block.
    pub fn filters(&self) -> Vec<&ResourceDescription> {
        let mut v: Vec<&ResourceDescription> = self
            .any
            .iter()
            .chain(self.all.iter())
            .map(|f| &f.resources)
            .collect();
        if let Some(r) = &self.resources {
            v.push(r);
        }
        v
    }
}

pub use crate::policy_load::{
    load_policies, parse_documents, parse_policies, policy_files, PolicySet,
};

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
