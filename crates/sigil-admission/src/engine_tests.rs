//! Engine tests over an in-memory fetcher: the Kyverno conformance cases' patches and
//! messages, and the holes Kyverno leaves open.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Value};
use sigil_core::intoto::{add_signature, envelope_json, envelope_to_sign, Statement};
use sigil_core::keys::PrivateKey;
use sigil_core::{Digest, ImageRef, SimpleSigningPayload};
use sigil_verify::{AttestationCandidate, SignatureCandidate};

use super::*;
use crate::fetcher::Fetcher;
use crate::policy::{load_policies, parse_policies};
use crate::verifier::{ImageVerifier, VerifierOptions, VerifyError};

pub const ZULU: &str = "sha256:476b21f1a75dc90fac3579ee757f4607bb5546f476195cf645c54badf558c0db";

/// Tags and signatures in memory; counts calls.
#[derive(Default)]
pub struct MemFetcher {
    pub tags: Mutex<HashMap<String, Digest>>,
    pub sigs: Mutex<HashMap<String, Vec<SignatureCandidate>>>,
    /// `.att` layers by `repo@digest`.
    pub atts: Mutex<HashMap<String, Vec<AttestationCandidate>>>,
    pub resolves: AtomicUsize,
    pub fetches: AtomicUsize,
    pub delay_ms: u64,
}

#[async_trait::async_trait]
impl Fetcher for MemFetcher {
    async fn resolve(&self, image: &ImageRef) -> Result<Digest, VerifyError> {
        self.resolves.fetch_add(1, Ordering::SeqCst);
        self.tags
            .lock()
            .unwrap()
            .get(&format!(
                "{}:{}",
                image.name(),
                image.tag().unwrap_or("latest")
            ))
            .cloned()
            .ok_or_else(|| VerifyError::Failed(format!("image not found: {image}")))
    }
    async fn signatures(
        &self,
        repository: &ImageRef,
        digest: &Digest,
    ) -> Result<Option<Vec<SignatureCandidate>>, VerifyError> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        if self.delay_ms > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(self.delay_ms)).await;
        }
        Ok(self
            .sigs
            .lock()
            .unwrap()
            .get(&format!("{}@{digest}", repository.name()))
            .cloned())
    }
    async fn attestation_layers(
        &self,
        repository: &ImageRef,
        digest: &Digest,
    ) -> Result<Vec<AttestationCandidate>, VerifyError> {
        Ok(self
            .atts
            .lock()
            .unwrap()
            .get(&format!("{}@{digest}", repository.name()))
            .cloned()
            .unwrap_or_default())
    }
}

impl MemFetcher {
    pub fn tag(&self, image: &str, digest: &str) {
        let r: ImageRef = image.parse().unwrap();
        let k = format!("{}:{}", r.name(), r.tag().unwrap_or("latest"));
        self.tags.lock().unwrap().insert(k, digest.parse().unwrap());
    }
    pub fn sign(&self, key: &PrivateKey, repo: &str, digest: &str) {
        let r: ImageRef = repo.parse().unwrap();
        let d: Digest = digest.parse().unwrap();
        let payload = SimpleSigningPayload::new(&r, &d, &BTreeMap::new()).to_bytes();
        let sig = key.sign(&payload).unwrap();
        self.sigs
            .lock()
            .unwrap()
            .entry(format!("{}@{d}", r.name()))
            .or_default()
            .push(SignatureCandidate {
                payload,
                signature_b64: Some(B64.encode(sig)),
                ..SignatureCandidate::default()
            });
    }
}

impl MemFetcher {
    /// A key-signed `.att` layer (no log entry) stating `predicate` of `predicate_type`
    /// about `repo@digest`.
    pub fn attest(
        &self,
        key: &PrivateKey,
        repo: &str,
        digest: &str,
        predicate_type: &str,
        predicate: &Value,
    ) {
        let r: ImageRef = repo.parse().unwrap();
        let d: Digest = digest.parse().unwrap();
        let mut st = Statement::for_image(&r, &d, "custom", b"{}", "t").unwrap();
        st.predicate_type = predicate_type.to_owned();
        st.predicate = predicate.clone();
        let (mut env, to_sign) = envelope_to_sign(st.to_bytes());
        add_signature(&mut env, key.sign(&to_sign).unwrap());
        self.atts
            .lock()
            .unwrap()
            .entry(format!("{}@{d}", r.name()))
            .or_default()
            .push(AttestationCandidate::Legacy {
                envelope: envelope_json(&env),
                certificate_pem: None,
                chain_pem: None,
                rekor_bundle: None,
            });
    }
}

pub fn testdata(p: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(p)
}

pub fn engine(policies: Vec<Policy>, f: Arc<MemFetcher>) -> Engine {
    Engine::new(
        policies,
        ImageVerifier::new(f, VerifierOptions::default()),
        EngineOptions::default(),
    )
}

pub fn pod(name: &str, ns: &str, spec: Value) -> Request {
    Request {
        kind: "Pod".into(),
        namespace: ns.into(),
        name: name.into(),
        operation: "CREATE".into(),
        object: json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns}, "spec": spec}),
        ..Request::default()
    }
}

fn from_yaml(path: &str, kind: &str) -> Request {
    let v: Value = serde_yaml::from_str(&std::fs::read_to_string(testdata(path)).unwrap()).unwrap();
    Request {
        kind: kind.into(),
        namespace: v["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default")
            .into(),
        name: v["metadata"]["name"].as_str().unwrap_or("").into(),
        operation: "CREATE".into(),
        object: v,
        ..Request::default()
    }
}

/// Applies a JSONPatch (the few ops the engine emits) to `doc`.
pub fn apply_patch(doc: &mut Value, patch: &[Value]) {
    for op in patch {
        let path = op["path"].as_str().unwrap();
        let (parent, last) = path.rsplit_once('/').unwrap();
        let last = last.replace("~1", "/").replace("~0", "~");
        let target = if parent.is_empty() {
            &mut *doc
        } else {
            doc.pointer_mut(parent).unwrap()
        };
        match target {
            Value::Object(m) => {
                m.insert(last, op["value"].clone());
            }
            Value::Array(a) => {
                let i: usize = last.parse().unwrap();
                a[i] = op["value"].clone();
            }
            _ => panic!("bad patch target {path}"),
        }
    }
}

/// The conformance policy with its keyless attestor swapped for `key` (keyless
/// verification is not in sigil-verify yet); everything else verbatim.
fn with_key(path: &str, key: &PrivateKey) -> Vec<Policy> {
    let mut set = load_policies(&testdata(path)).unwrap().policies;
    for p in &mut set {
        for r in &mut p.spec.rules {
            for iv in &mut r.verify_images {
                for s in &mut iv.attestors {
                    for e in &mut s.entries {
                        e.keyless = None;
                        e.keys = Some(crate::policy::StaticKeys {
                            public_keys: Some(key.public_key().to_pem()),
                            rekor: Some(crate::policy::Rekor {
                                ignore_tlog: true,
                                ..Default::default()
                            }),
                            ..Default::default()
                        });
                    }
                }
            }
        }
    }
    set
}

#[tokio::test]
async fn conformance_keyless_mutatedigest_verifydigest_required() {
    let dir = "kyverno/kyverno-conformance/keyless-mutatedigest-verifydigest-required";
    let key = PrivateKey::generate_p256().unwrap();
    let f = Arc::new(MemFetcher::default());
    f.tag("ghcr.io/kyverno/zulu:v0.0.14", ZULU);
    f.sign(&key, "ghcr.io/kyverno/zulu", ZULU);
    let e = engine(with_key(&format!("{dir}/policy.yaml"), &key), f.clone());
    let req = from_yaml(&format!("{dir}/chainsaw-step-02-apply-1.yaml"), "Pod");
    let ev = e.evaluate(&req, Phase::Mutate).await;
    assert!(ev.allowed, "{ev:?}");
    let mut obj = req.object.clone();
    apply_patch(&mut obj, &ev.patch);
    let want: Value = serde_yaml::from_str(
        &std::fs::read_to_string(testdata(&format!("{dir}/chainsaw-step-02-assert-1.yaml")))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(obj["spec"], want["spec"]);
    assert_eq!(
        obj["metadata"]["annotations"]["kyverno.io/verify-images"],
        want["metadata"]["annotations"]["kyverno.io/verify-images"]
    );
    let scoped: Value = serde_json::from_str(
        obj["metadata"]["annotations"]["kyverno.io/verify-images-scoped"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        scoped,
        json!({"version": 1, "policies": {"/keyless-mutatedigest-verifydigest-required":
            {"check-builder-id-keyless": {format!("ghcr.io/kyverno/zulu@{ZULU}"): "pass"}}}})
    );
    // The validating phase on the mutated pod: pinned, and the verdict comes from the cache.
    let hits = e.verifier.stats.hits.load(Ordering::SeqCst);
    let mut mutated = req.clone();
    mutated.object = obj;
    let ev = e.evaluate(&mutated, Phase::Validate).await;
    assert!(ev.allowed, "{ev:?}");
    assert_eq!(e.verifier.stats.hits.load(Ordering::SeqCst), hits + 1);
    // The unmutated pod fails verifyDigest.
    let ev = e.evaluate(&req, Phase::Validate).await;
    assert!(!ev.allowed);
    assert!(ev
        .message
        .unwrap()
        .contains("missing digest for ghcr.io/kyverno/zulu:v0.0.14"));

    // The verbatim keyless policy: refused, with the reason, never allowed.
    let e = engine(
        load_policies(&testdata(&format!("{dir}/policy.yaml")))
            .unwrap()
            .policies,
        f,
    );
    let ev = e.evaluate(&req, Phase::Mutate).await;
    assert!(!ev.allowed);
    let m = ev.message.unwrap();
    assert!(
        m.contains("keyless verification is not available yet")
            || m.contains("needs a trusted root"),
        "{m}"
    );
    assert!(m.contains(".attestors[0].entries[0].keyless"), "{m}");
}

#[tokio::test]
async fn conformance_no_mutate_digest_keeps_the_tag_and_records_it() {
    for dir in [
        "kyverno/kyverno-conformance/keyless-nomutatedigest-noverifydigest-required",
        "kyverno/kyverno-conformance/keyless-nomutatedigest-noverifydigest-norequired",
    ] {
        let key = PrivateKey::generate_p256().unwrap();
        let f = Arc::new(MemFetcher::default());
        f.tag("ghcr.io/kyverno/zulu:latest", ZULU);
        f.sign(&key, "ghcr.io/kyverno/zulu", ZULU);
        let e = engine(with_key(&format!("{dir}/policy.yaml"), &key), f);
        let req = from_yaml(&format!("{dir}/chainsaw-step-02-apply-1.yaml"), "Pod");
        let ev = e.evaluate(&req, Phase::Mutate).await;
        assert!(ev.allowed, "{ev:?}");
        let mut obj = req.object.clone();
        apply_patch(&mut obj, &ev.patch);
        let want: Value = serde_yaml::from_str(
            &std::fs::read_to_string(testdata(&format!("{dir}/chainsaw-step-02-assert-1.yaml")))
                .unwrap(),
        )
        .unwrap();
        assert_eq!(obj["spec"], want["spec"], "{dir}");
        assert_eq!(
            obj["metadata"]["annotations"]["kyverno.io/verify-images"],
            want["metadata"]["annotations"]["kyverno.io/verify-images"],
            "{dir}"
        );
        let ev = e.evaluate(&req, Phase::Validate).await;
        assert!(ev.allowed, "{dir}: {ev:?}");
    }
}

#[tokio::test]
async fn keyed_basic_signed_and_unsigned_with_kyvernos_message() {
    let dir = "kyverno/kyverno-conformance/keyed-basic";
    let key = PrivateKey::generate_p256().unwrap();
    let mut policies = load_policies(&testdata(&format!("{dir}/policy.yaml")))
        .unwrap()
        .policies;
    policies[0].spec.rules[0].verify_images[0].attestors[0].entries[0]
        .keys
        .as_mut()
        .unwrap()
        .public_keys = Some(key.public_key().to_pem());
    let f = Arc::new(MemFetcher::default());
    let signed = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    let unsigned = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
    f.tag("ghcr.io/kyverno/test-verify-image:signed", signed);
    f.tag("ghcr.io/kyverno/test-verify-image:unsigned", unsigned);
    f.sign(&key, "ghcr.io/kyverno/test-verify-image", signed);
    let e = engine(policies, f);
    let req = from_yaml(&format!("{dir}/chainsaw-step-02-apply-1.yaml"), "Pod");
    let ev = e.evaluate(&req, Phase::Mutate).await;
    assert!(ev.allowed, "{ev:?}");
    assert_eq!(
        ev.patch.last().unwrap()["value"],
        format!("ghcr.io/kyverno/test-verify-image:signed@{signed}")
    );
    let bad = pod(
        "unsigned-app",
        "default",
        json!({"containers": [{"name": "a", "image": "ghcr.io/kyverno/test-verify-image:unsigned"}]}),
    );
    let ev = e.evaluate(&bad, Phase::Mutate).await;
    assert!(!ev.allowed);
    assert!(ev.patch.is_empty());
    assert_eq!(
        ev.message.unwrap(),
        "\n\nresource Pod/default/unsigned-app was blocked due to the following policies \n\nkeyed-basic-policy:\n  keyed-basic-rule: 'failed to verify image ghcr.io/kyverno/test-verify-image:unsigned: .attestors[0].entries[0].keys: no signatures found'\n"
    );
}

fn lab_policy(key: &PrivateKey, extra: &str) -> Vec<Policy> {
    let pem = key.public_key().to_pem().replace('\n', "\n              ");
    let y = format!(
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {{name: require-cosign-signature}}\nspec:\n  validationFailureAction: Enforce\n  rules:\n  - name: verify-cosign-signature\n    match: {{any: [{{resources: {{kinds: [Pod]}}}}]}}\n    verifyImages:\n    - imageReferences: ['ghcr.io/u/cosign-lab:*']\n{extra}      attestors:\n      - entries:\n        - keys:\n            rekor: {{ignoreTlog: true}}\n            publicKeys: |\n              {pem}\n"
    );
    parse_policies(&y, "t").unwrap().policies
}

const GOOD: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const EVIL: &str = "sha256:eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee";

fn lab() -> (PrivateKey, Arc<MemFetcher>) {
    let key = PrivateKey::generate_p256().unwrap();
    let f = Arc::new(MemFetcher::default());
    f.tag("ghcr.io/u/cosign-lab:v1.0.0", GOOD);
    f.tag("ghcr.io/u/cosign-lab:v0.1.0", EVIL);
    f.sign(&key, "ghcr.io/u/cosign-lab", GOOD);
    (key, f)
}

#[tokio::test]
async fn attack_digest_pinned_images_are_not_skipped() {
    // Kyverno: `repo:*` does not match `repo@sha256:…` → the unsigned image is admitted.
    let (key, f) = lab();
    let e = engine(lab_policy(&key, ""), f);
    for img in [
        format!("ghcr.io/u/cosign-lab@{EVIL}"),
        format!("ghcr.io/u/cosign-lab:v1.0.0@{EVIL}"),
    ] {
        let req = pod(
            "x",
            "default",
            json!({"containers": [{"name": "a", "image": img}]}),
        );
        for phase in [Phase::Mutate, Phase::Validate] {
            let ev = e.evaluate(&req, phase).await;
            assert!(!ev.allowed, "{img} {phase:?}");
        }
    }
    // The pinned signed digest passes and is not re-pinned.
    let img = format!("ghcr.io/u/cosign-lab:v1.0.0@{GOOD}");
    let ev = e
        .evaluate(
            &pod(
                "x",
                "default",
                json!({"containers": [{"name": "a", "image": img}]}),
            ),
            Phase::Mutate,
        )
        .await;
    assert!(ev.allowed, "{ev:?}");
    assert!(!ev.patch.iter().any(|p| p["op"] == "replace"));
}

#[tokio::test]
async fn attack_every_container_list_and_controller() {
    let (key, f) = lab();
    let e = engine(lab_policy(&key, ""), f);
    let good = "ghcr.io/u/cosign-lab:v1.0.0";
    let evil = "ghcr.io/u/cosign-lab:v0.1.0";
    let specs = [
        json!({"initContainers": [{"name": "i", "image": evil}], "containers": [{"name": "a", "image": good}]}),
        json!({"containers": [{"name": "a", "image": good}], "ephemeralContainers": [{"name": "d", "image": evil}]}),
        json!({"containers": [{"name": "a", "image": good}, {"name": "b", "image": evil}]}),
    ];
    for spec in &specs {
        let ev = e
            .evaluate(&pod("p", "default", spec.clone()), Phase::Mutate)
            .await;
        assert!(!ev.allowed, "{spec}");
        let (kind, obj) = (
            "Deployment",
            json!({"metadata": {"name": "d"}, "spec": {"template": {"spec": spec}}}),
        );
        let req = Request {
            kind: kind.into(),
            namespace: "default".into(),
            name: "d".into(),
            operation: "CREATE".into(),
            object: obj,
            ..Request::default()
        };
        let ev = e.evaluate(&req, Phase::Mutate).await;
        assert!(!ev.allowed, "{kind} {spec}");
        assert!(ev
            .message
            .unwrap()
            .contains("autogen-verify-cosign-signature"));
        let obj = json!({"metadata": {"name": "c"}, "spec": {"jobTemplate": {"spec": {"template": {"spec": spec}}}}});
        let req = Request {
            kind: "CronJob".into(),
            namespace: "default".into(),
            name: "c".into(),
            operation: "CREATE".into(),
            object: obj,
            ..Request::default()
        };
        assert!(!e.evaluate(&req, Phase::Mutate).await.allowed);
    }
    // kubectl debug adds an ephemeral container through the subresource.
    let mut req = pod("p", "default", specs[1].clone());
    req.operation = "UPDATE".into();
    req.sub_resource = Some("ephemeralcontainers".into());
    assert!(!e.evaluate(&req, Phase::Validate).await.allowed);
    // A Deployment of the signed image is pinned inside its template.
    let obj = json!({"metadata": {"name": "d", "annotations": {"a": "b"}}, "spec": {"template": {"spec": {"containers": [{"name": "a", "image": good}]}}}});
    let req = Request {
        kind: "Deployment".into(),
        namespace: "default".into(),
        name: "d".into(),
        operation: "CREATE".into(),
        object: obj,
        ..Request::default()
    };
    let ev = e.evaluate(&req, Phase::Mutate).await;
    assert!(ev.allowed);
    assert_eq!(
        ev.patch.last().unwrap()["path"],
        "/spec/template/spec/containers/0/image"
    );
    assert_ne!(
        ev.patch[0]["path"], "/metadata/annotations",
        "annotations exist already"
    );
}

#[tokio::test]
async fn attack_user_written_annotation_is_not_trusted() {
    let (key, f) = lab();
    let e = engine(lab_policy(&key, ""), f);
    let img = format!("ghcr.io/u/cosign-lab:v0.1.0@{EVIL}");
    let mut req = pod(
        "x",
        "default",
        json!({"containers": [{"name": "a", "image": img}]}),
    );
    let forged = json!({"version": 1, "policies": {"/require-cosign-signature": {"verify-cosign-signature": {format!("ghcr.io/u/cosign-lab@{EVIL}"): "pass"}}}}).to_string();
    req.object["metadata"]["annotations"] = json!({
        "kyverno.io/verify-images": format!("{{\"ghcr.io/u/cosign-lab@{EVIL}\":\"pass\"}}"),
        "kyverno.io/verify-images-scoped": forged,
    });
    // As if the mutating call had been skipped: the validating phase alone must refuse.
    let ev = e.evaluate(&req, Phase::Validate).await;
    assert!(!ev.allowed);
    assert!(ev.message.unwrap().contains("unverified image"));
}

#[tokio::test]
async fn attack_tag_moved_after_verification_admits_the_verified_digest() {
    let (key, f) = lab();
    let e = engine(lab_policy(&key, ""), f.clone());
    let req = pod(
        "x",
        "default",
        json!({"containers": [{"name": "a", "image": "ghcr.io/u/cosign-lab:v1.0.0"}, {"name": "b", "image": "ghcr.io/u/cosign-lab:v1.0.0"}]}),
    );
    let ev = e.evaluate(&req, Phase::Mutate).await;
    assert!(ev.allowed);
    assert_eq!(
        f.resolves.load(Ordering::SeqCst),
        1,
        "one resolution per image string"
    );
    // The tag now points to the unsigned content; the cached resolution and the cached
    // verdict still refer to GOOD, and that is what the pod is pinned to.
    f.tag("ghcr.io/u/cosign-lab:v1.0.0", EVIL);
    let ev = e.evaluate(&req, Phase::Mutate).await;
    assert!(ev.allowed);
    for p in ev.patch.iter().filter(|p| p["op"] == "replace") {
        assert_eq!(p["value"], format!("ghcr.io/u/cosign-lab:v1.0.0@{GOOD}"));
    }
}

#[tokio::test]
async fn audit_allows_with_warnings_and_does_not_pin() {
    let (key, f) = lab();
    let mut policies = lab_policy(&key, "      failureAction: Audit\n");
    policies[0].spec.validation_failure_action = None;
    let e = engine(policies, f);
    let ev = e
        .evaluate(
            &pod(
                "x",
                "default",
                json!({"containers": [{"name": "a", "image": "ghcr.io/u/cosign-lab:v0.1.0"}]}),
            ),
            Phase::Mutate,
        )
        .await;
    assert!(ev.allowed);
    assert_eq!(ev.warnings.len(), 1, "{:?}", ev.warnings);
    assert!(ev.warnings[0].starts_with(
        "policy require-cosign-signature.verify-cosign-signature: failed to verify image"
    ));
    assert!(!ev.patch.iter().any(|p| p["op"] == "replace"));
}

#[tokio::test]
async fn skipped_and_unmatched_images() {
    let (key, f) = lab();
    let e = engine(
        lab_policy(
            &key,
            "      skipImageReferences: ['ghcr.io/u/cosign-lab:v0.1.0']\n",
        ),
        f,
    );
    let ev = e
        .evaluate(&pod("x", "default", json!({"containers": [{"name": "a", "image": "ghcr.io/u/cosign-lab:v0.1.0"}, {"name": "b", "image": "nginx"}]})), Phase::Mutate)
        .await;
    assert!(ev.allowed);
    assert!(ev.patch.is_empty());
    assert_eq!(ev.warnings.len(), 1);
    // A skip pattern is not stretched to digest forms it does not name.
    let ev = e
        .evaluate(&pod("x", "default", json!({"containers": [{"name": "a", "image": format!("ghcr.io/u/cosign-lab@{EVIL}")}]})), Phase::Mutate)
        .await;
    assert!(!ev.allowed);
    // Unparsable images are refused, never ignored.
    let ev = e
        .evaluate(
            &pod(
                "x",
                "default",
                json!({"containers": [{"name": "a", "image": "ghcr.io/u/cosign-lab:bad tag"}]}),
            ),
            Phase::Mutate,
        )
        .await;
    assert!(!ev.allowed);
}

#[tokio::test]
async fn single_flight_and_negative_cache() {
    let key = PrivateKey::generate_p256().unwrap();
    let f = Arc::new(MemFetcher {
        delay_ms: 50,
        ..MemFetcher::default()
    });
    f.tag("ghcr.io/u/cosign-lab:v1.0.0", GOOD);
    f.tag("ghcr.io/u/cosign-lab:v0.1.0", EVIL);
    f.sign(&key, "ghcr.io/u/cosign-lab", GOOD);
    let e = Arc::new(engine(lab_policy(&key, ""), f.clone()));
    let req = pod(
        "x",
        "default",
        json!({"containers": [{"name": "a", "image": format!("ghcr.io/u/cosign-lab@{GOOD}")}]}),
    );
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let e = e.clone();
            let req = req.clone();
            tokio::spawn(async move { e.evaluate(&req, Phase::Mutate).await.allowed })
        })
        .collect();
    for t in tasks {
        assert!(t.await.unwrap());
    }
    assert_eq!(
        f.fetches.load(Ordering::SeqCst),
        1,
        "20 concurrent reviews, one fetch"
    );
    let bad = pod(
        "x",
        "default",
        json!({"containers": [{"name": "a", "image": format!("ghcr.io/u/cosign-lab@{EVIL}")}]}),
    );
    assert!(!e.evaluate(&bad, Phase::Mutate).await.allowed);
    assert!(!e.evaluate(&bad, Phase::Mutate).await.allowed);
    assert_eq!(
        f.fetches.load(Ordering::SeqCst),
        2,
        "the failure is cached briefly"
    );
    // A policy edit (new identity) does not reuse the verdict.
    let mut edited = lab_policy(&key, "");
    edited[0].spec.webhook_timeout_seconds = Some(12);
    e.set_policies(edited);
    assert!(e.evaluate(&req, Phase::Mutate).await.allowed);
    assert_eq!(f.fetches.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn count_and_multiple_keys() {
    let k1 = PrivateKey::generate_p256().unwrap();
    let k2 = PrivateKey::generate_p256().unwrap();
    let f = Arc::new(MemFetcher::default());
    f.sign(&k1, "ghcr.io/u/app", GOOD);
    let pems = format!("{}{}", k1.public_key().to_pem(), k2.public_key().to_pem())
        .replace('\n', "\n              ");
    let policy = |count: &str| {
        let y = format!("apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {{name: p}}\nspec:\n  validationFailureAction: Enforce\n  rules:\n  - name: r\n    match: {{any: [{{resources: {{kinds: [Pod]}}}}]}}\n    verifyImages:\n    - imageReferences: ['ghcr.io/u/*']\n      attestors:\n      - {count}entries:\n        - keys:\n            rekor: {{ignoreTlog: true}}\n            publicKeys: |\n              {pems}\n");
        parse_policies(&y, "t").unwrap().policies
    };
    let req = pod(
        "x",
        "default",
        json!({"containers": [{"name": "a", "image": format!("ghcr.io/u/app@{GOOD}")}]}),
    );
    assert!(
        !engine(policy(""), f.clone())
            .evaluate(&req, Phase::Mutate)
            .await
            .allowed,
        "both keys needed"
    );
    assert!(
        engine(policy("count: 1\n        "), f.clone())
            .evaluate(&req, Phase::Mutate)
            .await
            .allowed
    );
}
