//! Attacks on the admission controller, through its webhook (`router`) with real
//! AdmissionReview JSON, the lab's keyed `verifyImages` policy, and an in-memory registry:
//! images Kyverno does not look at, annotations users can write, tags that move, and bodies
//! too large to parse.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Value};
use sigil_admission::{
    parse_policies, router, AppState, Engine, EngineOptions, Fetcher, ImageVerifier,
    VerifierOptions, VerifyError,
};
use sigil_core::keys::PrivateKey;
use sigil_core::{Digest, ImageRef, SimpleSigningPayload};
use sigil_verify::SignatureCandidate;
use tower::ServiceExt as _;

const SIGNED: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const UNSIGNED: &str = "sha256:eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee";
const GOOD: &str = "ghcr.io/u/cosign-lab:v1.0.0";
const EVIL: &str = "ghcr.io/u/cosign-lab:v0.1.0";

/// Tags and `.sig` signatures in memory.
#[derive(Default)]
struct Registry {
    tags: Mutex<HashMap<String, Digest>>,
    sigs: Mutex<HashMap<String, Vec<SignatureCandidate>>>,
}

#[async_trait::async_trait]
impl Fetcher for Registry {
    async fn resolve(&self, image: &ImageRef) -> Result<Digest, VerifyError> {
        let key = format!("{}:{}", image.name(), image.tag().unwrap_or("latest"));
        self.tags
            .lock()
            .unwrap()
            .get(&key)
            .cloned()
            .ok_or_else(|| VerifyError::Failed(format!("image not found: {image}")))
    }
    async fn signatures(
        &self,
        repository: &ImageRef,
        digest: &Digest,
    ) -> Result<Option<Vec<SignatureCandidate>>, VerifyError> {
        let key = format!("{}@{digest}", repository.name());
        Ok(self.sigs.lock().unwrap().get(&key).cloned())
    }
}

impl Registry {
    fn tag(&self, image: &str, digest: &str) {
        let r: ImageRef = image.parse().unwrap();
        let key = format!("{}:{}", r.name(), r.tag().unwrap_or("latest"));
        self.tags
            .lock()
            .unwrap()
            .insert(key, digest.parse().unwrap());
    }
    fn sign(&self, key: &PrivateKey, repo: &str, digest: &str) {
        let r: ImageRef = repo.parse().unwrap();
        let d: Digest = digest.parse().unwrap();
        let payload = SimpleSigningPayload::new(&r, &d, &BTreeMap::new()).to_bytes();
        let signature = key.sign(&payload).unwrap();
        self.sigs
            .lock()
            .unwrap()
            .entry(format!("{}@{d}", r.name()))
            .or_default()
            .push(SignatureCandidate {
                payload,
                signature_b64: Some(B64.encode(signature)),
                ..SignatureCandidate::default()
            });
    }
}

struct Webhook {
    app: axum::Router,
    registry: Arc<Registry>,
}

/// The lab's ClusterPolicy (Exercise 4) with a test key; `ghcr.io/u/cosign-lab:v1.0.0` is
/// signed, `:v0.1.0` is not.
fn webhook() -> Webhook {
    let key = PrivateKey::generate_p256().unwrap();
    let pem = key.public_key().to_pem().replace('\n', "\n              ");
    let policy = format!(
        "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {{name: require-cosign-signature}}\nspec:\n  validationFailureAction: Enforce\n  rules:\n  - name: verify-cosign-signature\n    match: {{any: [{{resources: {{kinds: [Pod]}}}}]}}\n    verifyImages:\n    - imageReferences: ['ghcr.io/u/cosign-lab:*']\n      attestors:\n      - entries:\n        - keys:\n            rekor: {{ignoreTlog: true}}\n            publicKeys: |\n              {pem}\n"
    );
    let policies = parse_policies(&policy, "lab.yml").unwrap().policies;
    let registry = Arc::new(Registry::default());
    registry.tag(GOOD, SIGNED);
    registry.tag(EVIL, UNSIGNED);
    registry.sign(&key, "ghcr.io/u/cosign-lab", SIGNED);
    let engine = Engine::new(
        policies,
        ImageVerifier::new(registry.clone(), VerifierOptions::default()),
        EngineOptions::default(),
    );
    Webhook {
        app: router(AppState::new(Arc::new(engine))),
        registry,
    }
}

fn review(pod_spec: Value, annotations: Value) -> Value {
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "a1b2",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": "default",
            "operation": "CREATE",
            "userInfo": {"username": "mallory"},
            "object": {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "p", "namespace": "default", "annotations": annotations},
                "spec": pod_spec,
            },
        },
    })
}

impl Webhook {
    /// POSTs raw bytes; returns the status and the answer (JSON, or the text as a string).
    async fn post_bytes(&self, path: &str, body: Vec<u8>) -> (u16, Value) {
        let req = axum::http::Request::builder()
            .method("POST")
            .uri(path)
            .header("content-type", "application/json")
            .body(axum::body::Body::from(body))
            .unwrap();
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status().as_u16();
        let bytes = axum::body::to_bytes(resp.into_body(), 16 << 20)
            .await
            .unwrap();
        let v = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (status, v)
    }

    async fn answer(&self, path: &str, review: &Value) -> Value {
        let (status, v) = self
            .post_bytes(path, serde_json::to_vec(review).unwrap())
            .await;
        assert_eq!(status, 200, "{v}");
        v["response"].clone()
    }

    /// The verdict of both webhooks: (mutate allowed, validate allowed).
    async fn both(&self, review: &Value) -> (bool, bool) {
        let m = self.answer("/mutate", review).await;
        let v = self.answer("/validate", review).await;
        (m["allowed"] == true, v["allowed"] == true)
    }
}

fn patch_of(response: &Value) -> Vec<Value> {
    response["patch"]
        .as_str()
        .map(|p| serde_json::from_slice(&B64.decode(p).unwrap()).unwrap())
        .unwrap_or_default()
}

fn containers(images: &[&str]) -> Value {
    Value::Array(
        images
            .iter()
            .enumerate()
            .map(|(i, img)| json!({"name": format!("c{i}"), "image": img}))
            .collect(),
    )
}

/// Control: the signed image is admitted and pinned to its digest; the unsigned one is not.
#[tokio::test]
async fn control_signed_admitted_unsigned_denied() {
    let w = webhook();
    let ok = review(json!({"containers": containers(&[GOOD])}), json!({}));
    let m = w.answer("/mutate", &ok).await;
    assert_eq!(m["allowed"], true, "{m}");
    assert!(patch_of(&m)
        .iter()
        .any(|p| p["value"] == format!("{GOOD}@{SIGNED}")));
    let bad = review(json!({"containers": containers(&[EVIL])}), json!({}));
    assert_eq!(w.both(&bad).await, (false, false));
}

/// Kyverno matches `imageReferences` against the normalised `String()`, which drops the tag
/// when a digest is present: `repo:*` does not match `repo@sha256:…` or `repo:v1@sha256:…`,
/// so a digest-pinned unsigned image is never verified (Kyverno `pkg/utils/image`, no public
/// advisory; DESIGN principle 5). sigil matches the repository of pinned references too.
#[tokio::test]
async fn digest_pinned_image_is_not_skipped() {
    let w = webhook();
    for img in [
        format!("ghcr.io/u/cosign-lab@{UNSIGNED}"),
        format!("{GOOD}@{UNSIGNED}"),
    ] {
        let r = review(json!({"containers": containers(&[&img])}), json!({}));
        assert_eq!(w.both(&r).await, (false, false), "{img}");
    }
}

/// An unsigned image hidden in `initContainers` or `ephemeralContainers` next to a signed one
/// (Kyverno checks all three lists; a controller that only reads `containers` is bypassed).
#[tokio::test]
async fn init_and_ephemeral_containers_are_verified() {
    let w = webhook();
    for spec in [
        json!({"initContainers": containers(&[EVIL]), "containers": containers(&[GOOD])}),
        json!({"containers": containers(&[GOOD]), "ephemeralContainers": containers(&[EVIL])}),
    ] {
        let r = review(spec.clone(), json!({}));
        assert_eq!(w.both(&r).await, (false, false), "{spec}");
    }
}

/// Kyverno records verified images in the `kyverno.io/verify-images` annotation and, in the
/// validating phase, reads the verdict back from the object; when the mutating call was
/// skipped, a user-written annotation passes (kyverno/kyverno#16336). sigil never reads
/// verdicts from the object.
#[tokio::test]
async fn user_written_verification_annotation_is_ignored() {
    let w = webhook();
    let img = format!("{EVIL}@{UNSIGNED}");
    let forged = json!({
        "kyverno.io/verify-images": json!({format!("ghcr.io/u/cosign-lab@{UNSIGNED}"): "pass"}).to_string(),
        "kyverno.io/verify-images-scoped": json!({"version": 1, "policies": {"/require-cosign-signature": {"verify-cosign-signature": {format!("ghcr.io/u/cosign-lab@{UNSIGNED}"): "pass"}}}}).to_string(),
    });
    let r = review(json!({"containers": containers(&[&img])}), forged);
    let v = w.answer("/validate", &r).await;
    assert_eq!(v["allowed"], false, "{v}");
}

/// Time-of-check/time-of-use: the tag is re-pointed to unsigned content after verification.
/// The admitted pod is pinned to the digest that was verified, never to what the tag names
/// later (cosign's "sign the digest" advice; Kyverno's `mutateDigest`).
#[tokio::test]
async fn tag_moved_between_verification_and_admission() {
    let w = webhook();
    let r = review(json!({"containers": containers(&[GOOD])}), json!({}));
    let first = w.answer("/mutate", &r).await;
    assert_eq!(first["allowed"], true);
    w.registry.tag(GOOD, UNSIGNED);
    let second = w.answer("/mutate", &r).await;
    for p in patch_of(&first).iter().chain(patch_of(&second).iter()) {
        if p["op"] == "replace" {
            assert_eq!(p["value"], format!("{GOOD}@{SIGNED}"), "{p}");
        }
    }
    // And a pod that names the new digest explicitly is refused.
    let pinned = review(
        json!({"containers": containers(&[&format!("{GOOD}@{UNSIGNED}")])}),
        json!({}),
    );
    assert_eq!(w.both(&pinned).await, (false, false));
}

/// A review larger than any the API server sends (it caps requests at 3 MiB) is refused
/// before parsing, with a 413, and the webhook keeps serving.
#[tokio::test]
async fn oversized_admission_review() {
    let w = webhook();
    let big = "x".repeat(sigil_admission_max_body() + 1);
    let r = review(
        json!({"containers": containers(&[GOOD])}),
        json!({"padding": big}),
    );
    let (status, _) = w
        .post_bytes("/validate", serde_json::to_vec(&r).unwrap())
        .await;
    assert_eq!(status, 413);
    let ok = review(json!({"containers": containers(&[GOOD])}), json!({}));
    assert_eq!(w.answer("/mutate", &ok).await["allowed"], true);
}

/// Deeply nested JSON (a stack-exhaustion attempt on the parser) is a 400, not a crash.
#[tokio::test]
async fn deeply_nested_review() {
    let w = webhook();
    let body = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let (status, _) = w.post_bytes("/validate", body.into_bytes()).await;
    assert_eq!(status, 400);
}

fn sigil_admission_max_body() -> usize {
    3 << 20
}
