//! Lab Exercise 4, the keyless *allowed* path, on `sigil up`'s embedded stack: images signed
//! keyless as the emulated GitHub workflow (CA certificate, log entry), the lab's
//! `require-signed-images` ClusterPolicy verbatim but for the registry and log URLs, served
//! by `sigil admission serve` over TLS with the stack's trust config. AdmissionReviews are
//! built from `kubectl … --dry-run=client -o json` objects and POSTed with curl.
//!
//! Also issue 8's admission half: a cosign v3 signature (Sigstore bundle referrer) admits its
//! image, and an `attestations` rule with a JMESPath condition admits the image whose
//! keyless SLSA attestation satisfies it and denies the one whose attestation does not.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use serde_json::{json, Value};
use sigil_testkit::image::{client, push_image};
use sigil_testkit::stack::Stack;
use sigil_testkit::system_bin;

#[path = "support/admission.rs"]
mod support;
use support::{kubectl_create_deployment, kubectl_run, start_webhook, testdata, Webhook};

const WORKFLOW_REPO: &str = "lab/cosign-lab";

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_sigil"))
}

fn sigil(dir: &Path, env: &[(String, String)], args: &[&str]) -> Output {
    let o = Command::new(bin())
        .current_dir(dir)
        .env_remove("SIGSTORE_ID_TOKEN")
        .env_remove("COSIGN_REPOSITORY")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .args(args)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "sigil {args:?}: status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// POSTs an AdmissionReview over TLS (the webhook's CA verified) and returns the answer.
fn admit(w: &Webhook, object: &Value) -> Value {
    let kind = object["kind"].as_str().unwrap();
    let (group, resource) = match kind {
        "Pod" => ("", "pods"),
        "Deployment" => ("apps", "deployments"),
        other => panic!("{other}"),
    };
    let body = serde_json::to_vec(&json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
            "kind": {"group": group, "version": "v1", "kind": kind},
            "resource": {"group": group, "version": "v1", "resource": resource},
            "name": object["metadata"]["name"],
            "namespace": "default",
            "operation": "CREATE",
            "userInfo": {"username": "kubernetes-admin", "groups": ["system:masters"]},
            "object": object,
            "oldObject": null,
            "dryRun": false,
        }
    }))
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("review.json");
    std::fs::write(&f, body).unwrap();
    let out = Command::new(system_bin("curl"))
        .args(["-sS", "--fail-with-body", "--cacert"])
        .arg(&w.ca)
        .args(["-H", "Content-Type: application/json", "--data-binary"])
        .arg(format!("@{}", f.display()))
        .arg(format!("https://{}/mutate", w.addr))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "curl: {}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["response"]["uid"], "705ab4f5-6393-11e8-b7cc-42010a800002");
    v
}

fn patch_of(resp: &Value) -> Vec<Value> {
    assert_eq!(resp["response"]["allowed"], true, "{resp}");
    assert_eq!(resp["response"]["patchType"], "JSONPatch");
    let b64 = resp["response"]["patch"].as_str().unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap(),
    )
    .unwrap()
}

fn denial(resp: &Value) -> String {
    assert_eq!(resp["response"]["allowed"], false, "{resp}");
    assert_eq!(resp["response"]["status"]["status"], "Failure");
    resp["response"]["status"]["message"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A second policy in the same shape, for SLSA provenance attestations of `attested`
/// images: signed by the same workflow, and `builder.id` must be the trusted builder.
fn attestation_policy(registry: &str, rekor: &str) -> String {
    format!(
        r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: require-slsa-provenance
spec:
  validationFailureAction: Enforce
  background: false
  rules:
  - name: check-builder
    match:
      any:
      - resources:
          kinds:
          - Pod
    verifyImages:
    - imageReferences:
      - "{registry}/lab/attested:*"
      attestations:
      - type: https://slsa.dev/provenance/v0.2
        attestors:
        - entries:
          - keyless:
              subject: "https://github.com/{WORKFLOW_REPO}/.github/workflows/sign.yml@refs/tags/*"
              issuer: "https://token.actions.githubusercontent.com"
              rekor:
                url: "{rekor}"
        conditions:
        - all:
          - key: "{{{{ builder.id }}}}"
            operator: Equals
            value: "https://github.com/{WORKFLOW_REPO}/.github/workflows/build.yml@refs/tags/v*"
"#
    )
}

/// The PEM certificates of the first certificate authority of a trusted root (or client
/// trust config) JSON file.
fn ca_pem(trust: &Path) -> String {
    let v: Value = serde_json::from_slice(&std::fs::read(trust).unwrap()).unwrap();
    let root = if v["trustedRoot"].is_object() {
        &v["trustedRoot"]
    } else {
        &v
    };
    let mut out = String::new();
    for c in root["certificateAuthorities"][0]["certChain"]["certificates"]
        .as_array()
        .unwrap()
    {
        let b64 = c["rawBytes"].as_str().unwrap();
        out.push_str("-----BEGIN CERTIFICATE-----\n");
        for line in b64.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(line).unwrap());
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
    }
    out
}

/// A policy whose keyless attestor names its own CA (`roots`) for `registry/lab/<repo>:*`.
fn roots_policy(name: &str, registry: &str, repo: &str, rekor: &str, roots: &str) -> String {
    let roots = roots.trim().replace('\n', "\n              ");
    format!(
        r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: {name}
spec:
  validationFailureAction: Enforce
  rules:
  - name: verify-with-own-ca
    match:
      any:
      - resources:
          kinds:
          - Pod
    verifyImages:
    - imageReferences:
      - "{registry}/lab/{repo}:*"
      attestors:
      - entries:
        - keyless:
            subject: "https://github.com/{WORKFLOW_REPO}/.github/workflows/sign.yml@refs/tags/*"
            issuer: "https://token.actions.githubusercontent.com"
            roots: |-
              {roots}
            rekor:
              url: "{rekor}"
"#
    )
}

/// The PEM public key of the first transparency log (`tlogs`) or CT log (`ctlogs`) of a
/// trusted root (or client trust config) JSON file.
fn log_key_pem(trust: &Path, logs: &str) -> String {
    let v: Value = serde_json::from_slice(&std::fs::read(trust).unwrap()).unwrap();
    let root = if v["trustedRoot"].is_object() {
        &v["trustedRoot"]
    } else {
        &v
    };
    let b64 = root[logs][0]["publicKey"]["rawBytes"].as_str().unwrap();
    let mut out = String::from("-----BEGIN PUBLIC KEY-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out.push_str("-----END PUBLIC KEY-----\n");
    out
}

/// A policy whose keyless attestor names its own log keys (`rekor.pubkey`, `ctlog.pubkey`)
/// for `registry/lab/<repo>:*`, with no `roots`: the CA is the trust config's.
fn log_keys_policy(
    name: &str,
    registry: &str,
    repo: &str,
    rekor: &str,
    rekor_pem: &str,
    ct_pem: &str,
) -> String {
    let rekor_pem = rekor_pem.trim().replace('\n', "\n                ");
    let ct_pem = ct_pem.trim().replace('\n', "\n                ");
    format!(
        r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: {name}
spec:
  validationFailureAction: Enforce
  rules:
  - name: verify-with-own-logs
    match:
      any:
      - resources:
          kinds:
          - Pod
    verifyImages:
    - imageReferences:
      - "{registry}/lab/{repo}:*"
      attestors:
      - entries:
        - keyless:
            subject: "https://github.com/{WORKFLOW_REPO}/.github/workflows/sign.yml@refs/tags/*"
            issuer: "https://token.actions.githubusercontent.com"
            rekor:
              url: "{rekor}"
              pubkey: |-
                {rekor_pem}
            ctlog:
              pubkey: |-
                {ct_pem}
"#
    )
}

#[test]
fn keyless_signed_images_are_admitted_on_the_local_stack() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let stack = Stack::up(&bin(), &d.join("state"));
    let registry = stack.get("SIGIL_REGISTRY");
    let rekor = stack.get("SIGIL_REKOR_URL");
    let repo = format!("{registry}/lab/cosign-lab");
    let attested = format!("{registry}/lab/attested");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (own_ca, foreign_ca) = rt.block_on(async {
        let c = client();
        (
            push_image(&c, &format!("{registry}/lab/own-ca:v1"), b"own ca").await,
            push_image(&c, &format!("{registry}/lab/foreign-ca:v1"), b"foreign ca").await,
        )
    });
    // rekor.pubkey / ctlog.pubkey: the stack's keys, public-good's log key, its CT key.
    let logs = ["own-logs", "foreign-log", "foreign-ct"];
    let log_digests: Vec<_> = rt.block_on(async {
        let c = client();
        let mut out = Vec::new();
        for r in logs {
            out.push(push_image(&c, &format!("{registry}/lab/{r}:v1"), r.as_bytes()).await);
        }
        out
    });
    let (signed, _unsigned, v3, good, bad) = rt.block_on(async {
        let c = client();
        (
            push_image(&c, &format!("{repo}:v1.0.0"), b"signed in CI").await,
            push_image(&c, &format!("{repo}:v0.1.0"), b"never signed").await,
            push_image(&c, &format!("{repo}:v2.0.0"), b"signed as cosign v3 does").await,
            push_image(
                &c,
                &format!("{attested}:good"),
                b"built by the trusted builder",
            )
            .await,
            push_image(&c, &format!("{attested}:bad"), b"built elsewhere").await,
        )
    });

    // Keyless signing and attesting as the lab's workflow.
    let workflow = stack.workflow_env(
        &bin(),
        WORKFLOW_REPO,
        ".github/workflows/sign.yml",
        "refs/tags/v1.0.0",
    );
    sigil(
        d,
        &workflow,
        &["sign", "--yes", &format!("{repo}@{signed}")],
    );
    sigil(
        d,
        &workflow,
        &[
            "sign",
            "--yes",
            "--new-bundle-format",
            &format!("{repo}@{v3}"),
        ],
    );
    for (r, digest) in [("own-ca", &own_ca), ("foreign-ca", &foreign_ca)]
        .into_iter()
        .chain(logs.into_iter().zip(&log_digests))
    {
        sigil(
            d,
            &workflow,
            &["sign", "--yes", &format!("{registry}/lab/{r}@{digest}")],
        );
    }
    for (digest, builder) in [
        (
            &good,
            format!(
                "https://github.com/{WORKFLOW_REPO}/.github/workflows/build.yml@refs/tags/v1.0.0"
            ),
        ),
        (
            &bad,
            "https://github.com/someone/else/.github/workflows/build.yml@refs/heads/main"
                .to_owned(),
        ),
    ] {
        let predicate = d.join("provenance.json");
        std::fs::write(
            &predicate,
            json!({"builder": {"id": builder}, "buildType": "https://github.com/slsa-framework/slsa-github-generator/container@v1"}).to_string(),
        )
        .unwrap();
        sigil(
            d,
            &workflow,
            &[
                "attest",
                "--yes",
                "--type",
                "slsaprovenance",
                "--predicate",
                predicate.to_str().unwrap(),
                &format!("{attested}@{digest}"),
            ],
        );
    }

    // The lab's policy verbatim but for the registry and the log URL, plus the attestation
    // policy, in one directory.
    let policies = d.join("policies");
    std::fs::create_dir(&policies).unwrap();
    let lab = std::fs::read_to_string(testdata("require-signed-images.yml"))
        .unwrap()
        .replace("ghcr.io/lab/cosign-lab", &repo)
        .replace("https://rekor.sigstore.dev", &rekor);
    std::fs::write(policies.join("require-signed-images.yml"), lab).unwrap();
    std::fs::write(
        policies.join("require-slsa-provenance.yml"),
        attestation_policy(&registry, &rekor),
    )
    .unwrap();
    // `keyless.roots`: the stack's own CA given in the policy, and public-good Sigstore's CA.
    let stack_ca = ca_pem(Path::new(&stack.get("SIGIL_TRUST_CONFIG")));
    let public_ca = ca_pem(&testdata("trust/production-trusted_root.json"));
    std::fs::write(
        policies.join("own-ca.yml"),
        roots_policy("own-ca", &registry, "own-ca", &rekor, &stack_ca),
    )
    .unwrap();
    std::fs::write(
        policies.join("foreign-ca.yml"),
        roots_policy("foreign-ca", &registry, "foreign-ca", &rekor, &public_ca),
    )
    .unwrap();
    let trust = PathBuf::from(stack.get("SIGIL_TRUST_CONFIG"));
    let public = testdata("trust/production-trusted_root.json");
    let (stack_log, stack_ct) = (log_key_pem(&trust, "tlogs"), log_key_pem(&trust, "ctlogs"));
    let (public_log, public_ct) = (
        log_key_pem(&public, "tlogs"),
        log_key_pem(&public, "ctlogs"),
    );
    for (name, rekor_pem, ct_pem) in [
        ("own-logs", &stack_log, &stack_ct),
        ("foreign-log", &public_log, &stack_ct),
        ("foreign-ct", &stack_log, &public_ct),
    ] {
        std::fs::write(
            policies.join(format!("{name}.yml")),
            log_keys_policy(name, &registry, name, &rekor, rekor_pem, ct_pem),
        )
        .unwrap();
    }
    let w = start_webhook(d, &stack.env, &policies);

    // The keyless-signed image is admitted, pinned to the verified digest.
    let resp = admit(&w, &kubectl_run("signed-app", &format!("{repo}:v1.0.0")));
    let patch = patch_of(&resp);
    assert!(
        patch.contains(&json!({"op": "replace", "path": "/spec/containers/0/image", "value": format!("{repo}:v1.0.0@{signed}")})),
        "{patch:?}"
    );
    assert!(patch.iter().any(
        |p| p["path"] == "/metadata/annotations/kyverno.io~1verify-images"
            && p["value"] == format!("{{\"{repo}@{signed}\":\"pass\"}}")
    ));

    // The unsigned image is denied with Kyverno's message.
    let msg = denial(&admit(
        &w,
        &kubectl_run("unsigned-app", &format!("{repo}:v0.1.0")),
    ));
    assert_eq!(
        msg,
        format!(
            "\n\nresource Pod/default/unsigned-app was blocked due to the following policies \n\n\
             require-cosign-signature:\n  verify-cosign-signature: 'failed to verify image {repo}:v0.1.0: \
             .attestors[0].entries[0].keyless: no signatures found'\n"
        )
    );

    // The Deployment variant: the pod template is pinned (autogen rule).
    let resp = admit(
        &w,
        &kubectl_create_deployment("signed-app", &format!("{repo}:v1.0.0")),
    );
    let patch = patch_of(&resp);
    assert!(
        patch.contains(&json!({"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": format!("{repo}:v1.0.0@{signed}")})),
        "{patch:?}"
    );
    let msg = denial(&admit(
        &w,
        &kubectl_create_deployment("unsigned-app", &format!("{repo}:v0.1.0")),
    ));
    assert!(
        msg.starts_with("\n\nresource Deployment/default/unsigned-app was blocked due to the following policies \n\nrequire-cosign-signature:\n  autogen-verify-cosign-signature: 'failed to verify image")
            && msg.contains("no signatures found"),
        "{msg}"
    );

    // Issue 8: a cosign v3 signature (bundle referrer, no .sig tag) admits its image.
    let patch = patch_of(&admit(
        &w,
        &kubectl_run("v3-app", &format!("{repo}:v2.0.0")),
    ));
    assert!(
        patch.contains(&json!({"op": "replace", "path": "/spec/containers/0/image", "value": format!("{repo}:v2.0.0@{v3}")})),
        "{patch:?}"
    );

    // Attestations with a condition: the trusted builder passes, the other is denied.
    let patch = patch_of(&admit(
        &w,
        &kubectl_run("good-build", &format!("{attested}:good")),
    ));
    assert!(
        patch.contains(&json!({"op": "replace", "path": "/spec/containers/0/image", "value": format!("{attested}:good@{good}")})),
        "{patch:?}"
    );
    let msg = denial(&admit(
        &w,
        &kubectl_run("bad-build", &format!("{attested}:bad")),
    ));
    assert_eq!(
        msg,
        format!(
            "\n\nresource Pod/default/bad-build was blocked due to the following policies \n\n\
             require-slsa-provenance:\n  check-builder: '.attestations[0].attestors[0].entries[0].keyless: \
             attestation checks failed for {attested}@{bad} and predicate https://slsa.dev/provenance/v0.2'\n"
        )
    );

    // keyless.roots: signed under the CA the policy names → admitted; under another → denied.
    let img = format!("{registry}/lab/own-ca:v1");
    let patch = patch_of(&admit(&w, &kubectl_run("own-ca", &img)));
    assert!(
        patch.contains(&json!({"op": "replace", "path": "/spec/containers/0/image", "value": format!("{img}@{own_ca}")})),
        "{patch:?}"
    );
    let msg = denial(&admit(
        &w,
        &kubectl_run("foreign-ca", &format!("{registry}/lab/foreign-ca:v1")),
    ));
    assert!(
        msg.contains("foreign-ca:\n  verify-with-own-ca: 'failed to verify image")
            && msg.contains(".attestors[0].entries[0].keyless: no matching signatures"),
        "{msg}"
    );

    // rekor.pubkey and ctlog.pubkey: the stack's own keys admit; public-good's log key or
    // CT key in their place denies, naming the log the entry or SCT came from.
    let img = format!("{registry}/lab/own-logs:v1");
    let patch = patch_of(&admit(&w, &kubectl_run("own-logs", &img)));
    assert!(
        patch.contains(&json!({"op": "replace", "path": "/spec/containers/0/image", "value": format!("{img}@{}", log_digests[0])})),
        "{patch:?}"
    );
    let msg = denial(&admit(
        &w,
        &kubectl_run("foreign-log", &format!("{registry}/lab/foreign-log:v1")),
    ));
    assert!(
        msg.contains("foreign-log:\n  verify-with-own-logs: 'failed to verify image")
            && msg.contains(".attestors[0].entries[0].keyless: no matching signatures")
            && msg.contains("entry from unknown log"),
        "{msg}"
    );
    let msg = denial(&admit(
        &w,
        &kubectl_run("foreign-ct", &format!("{registry}/lab/foreign-ct:v1")),
    ));
    assert!(
        msg.contains("foreign-ct:\n  verify-with-own-logs: 'failed to verify image")
            && msg.contains(".attestors[0].entries[0].keyless: no matching signatures")
            && msg.contains("SCT"),
        "{msg}"
    );
}
