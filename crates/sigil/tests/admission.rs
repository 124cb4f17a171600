//! Lab Exercise 4 end to end: `sigil admission serve` over TLS on loopback, in front of
//! Debian's docker-registry, answering AdmissionReviews built from `kubectl … --dry-run=client
//! -o json` objects and POSTed with curl (the apiserver's role). Also `sigil policy apply`
//! and `sigil admission manifests`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};
use sigil_testkit::image::{client, push_image};
use sigil_testkit::{start_distribution, system_bin};

#[path = "support/admission.rs"]
mod support;
use support::{kubectl_create_deployment, kubectl_run, start_webhook, testdata, Webhook};

fn sigil(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sigil"))
        .current_dir(dir)
        .env("COSIGN_PASSWORD", "lab-pass")
        .env_remove("COSIGN_REPOSITORY")
        .env_remove("SIGIL_TRUST_CONFIG")
        .args(args)
        .output()
        .unwrap()
}

fn ok(o: Output) -> Output {
    assert!(
        o.status.success(),
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// POSTs `body` with curl over TLS, verifying the webhook's certificate against its CA.
fn post(w: &Webhook, path: &str, content_type: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("body");
    std::fs::write(&f, body).unwrap();
    let out = Command::new(system_bin("curl"))
        .args([
            "-sS",
            "--cacert",
            w.ca.to_str().unwrap(),
            "-H",
            &format!("Content-Type: {content_type}"),
            "--data-binary",
            &format!("@{}", f.display()),
            "-w",
            "\n%{http_code}",
            &format!("https://{}{path}", w.addr),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "curl: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut text = out.stdout;
    let nl = text.iter().rposition(|b| *b == b'\n').unwrap();
    let code: u16 = String::from_utf8_lossy(&text[nl + 1..])
        .trim()
        .parse()
        .unwrap();
    text.truncate(nl);
    (code, text)
}

fn get(w: &Webhook, path: &str) -> String {
    let out = Command::new(system_bin("curl"))
        .args([
            "-sS",
            "--cacert",
            w.ca.to_str().unwrap(),
            &format!("https://{}{path}", w.addr),
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn review(api: &str, uid: &str, object: &Value, operation: &str) -> Vec<u8> {
    let kind = object["kind"].as_str().unwrap();
    let (group, resource) = match kind {
        "Pod" => ("", "pods"),
        "Deployment" => ("apps", "deployments"),
        "Job" => ("batch", "jobs"),
        other => panic!("{other}"),
    };
    serde_json::to_vec(&json!({
        "apiVersion": api,
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": group, "version": "v1", "kind": kind},
            "resource": {"group": group, "version": "v1", "resource": resource},
            "name": object["metadata"]["name"],
            "namespace": "default",
            "operation": operation,
            "userInfo": {"username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]},
            "object": object,
            "oldObject": null,
            "dryRun": false,
            "options": {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"}
        }
    }))
    .unwrap()
}

fn answer(w: &Webhook, path: &str, body: &[u8]) -> Value {
    let (code, text) = post(w, path, "application/json", body);
    assert_eq!(code, 200, "{}", String::from_utf8_lossy(&text));
    serde_json::from_slice(&text).unwrap()
}

fn patch_of(resp: &Value) -> Vec<Value> {
    let b64 = resp["response"]["patch"].as_str().expect("a patch");
    assert_eq!(resp["response"]["patchType"], "JSONPatch");
    serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap(),
    )
    .unwrap()
}

fn apply_patch(doc: &mut Value, patch: &[Value]) {
    for op in patch {
        let path = op["path"].as_str().unwrap();
        let (parent, last) = path.rsplit_once('/').unwrap();
        let last = last.replace("~1", "/");
        let target = if parent.is_empty() {
            &mut *doc
        } else {
            doc.pointer_mut(parent).unwrap()
        };
        match target {
            Value::Object(m) => {
                m.insert(last, op["value"].clone());
            }
            Value::Array(a) => a[last.parse::<usize>().unwrap()] = op["value"].clone(),
            _ => panic!("{path}"),
        }
    }
}

/// The lab's policy, verbatim but for the registry, with its keyless attestor or a `keys`
/// attestor holding `pem` (keyless signing is not in the CLI yet; see docs/admission.md).
fn lab_policy(registry: &str, pem: Option<&str>) -> String {
    let text = std::fs::read_to_string(testdata("require-signed-images.yml")).unwrap();
    let text = text.replace(
        "ghcr.io/lab/cosign-lab",
        &format!("{registry}/lab/cosign-lab"),
    );
    match pem {
        None => text,
        Some(pem) => {
            let start = text.find("        - keyless:").unwrap();
            let indented = pem.trim().replace('\n', "\n              ");
            format!(
                "{}        - keys:\n            publicKeys: |-\n              {indented}\n            rekor:\n              url: \"https://rekor.sigstore.dev\"\n              ignoreTlog: true\n",
                &text[..start]
            )
        }
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn exercise_four_against_the_local_stack() {
    let reg = start_distribution();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let repo = format!("{}/lab/cosign-lab", reg.addr);
    let (signed, unsigned) = rt().block_on(async {
        let c = client();
        (
            push_image(&c, &format!("{repo}:v1.0.0"), b"signed").await,
            push_image(&c, &format!("{repo}:v0.1.0"), b"unsigned").await,
        )
    });
    ok(sigil(d, &["generate-key-pair"]));
    ok(sigil(
        d,
        &[
            "sign",
            "--key",
            "cosign.key",
            "--tlog-upload=false",
            "-y",
            &format!("{repo}:v1.0.0"),
        ],
    ));
    let pem = std::fs::read_to_string(d.join("cosign.pub")).unwrap();
    let policies = d.join("policies");
    std::fs::create_dir(&policies).unwrap();
    std::fs::write(
        policies.join("require-signed-images.yml"),
        lab_policy(&reg.addr, Some(&pem)),
    )
    .unwrap();
    let w = start_webhook(d, &[], &policies);
    assert_eq!(get(&w, "/healthz"), "ok");
    assert_eq!(get(&w, "/readyz"), "ok");

    // Step 3: the signed image is allowed, pinned to the digest that was verified.
    let pod = kubectl_run("signed-app", &format!("{repo}:v1.0.0"));
    let resp = answer(
        &w,
        "/mutate",
        &review("admission.k8s.io/v1", "u-1", &pod, "CREATE"),
    );
    assert_eq!(resp["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(resp["kind"], "AdmissionReview");
    assert_eq!(resp["response"]["uid"], "u-1");
    assert_eq!(resp["response"]["allowed"], true, "{resp}");
    let patch = patch_of(&resp);
    let mut mutated = pod.clone();
    apply_patch(&mut mutated, &patch);
    assert_eq!(
        mutated["spec"]["containers"][0]["image"],
        format!("{repo}:v1.0.0@{signed}")
    );
    assert_eq!(
        mutated["metadata"]["annotations"]["kyverno.io/verify-images"],
        format!("{{\"{repo}@{signed}\":\"pass\"}}")
    );
    // The validating webhook admits the mutated pod (verdict from the cache).
    let resp = answer(
        &w,
        "/validate/fail",
        &review("admission.k8s.io/v1", "u-2", &mutated, "CREATE"),
    );
    assert_eq!(resp["response"]["allowed"], true, "{resp}");

    // Step 4: the unsigned image is denied with Kyverno's message.
    let pod = kubectl_run("unsigned-app", &format!("{repo}:v0.1.0"));
    let resp = answer(
        &w,
        "/mutate/fail",
        &review("admission.k8s.io/v1", "u-3", &pod, "CREATE"),
    );
    assert_eq!(resp["response"]["allowed"], false, "{resp}");
    assert_eq!(resp["response"]["status"]["status"], "Failure");
    assert!(resp["response"].get("patch").is_none());
    let msg = resp["response"]["status"]["message"].as_str().unwrap();
    assert!(
        msg.starts_with("\n\nresource Pod/default/unsigned-app was blocked due to the following policies \n\nrequire-cosign-signature:\n  verify-cosign-signature: "),
        "{msg}"
    );
    assert!(
        msg.contains(&format!("failed to verify image {repo}:v0.1.0")),
        "{msg}"
    );
    assert!(
        msg.contains(".attestors[0].entries[0].keys: no signatures found"),
        "{msg}"
    );

    // Deployments: the pod template is checked and pinned (autogen rule names).
    let dep = kubectl_create_deployment("web", &format!("{repo}:v1.0.0"));
    let resp = answer(
        &w,
        "/mutate",
        &review("admission.k8s.io/v1", "u-4", &dep, "CREATE"),
    );
    assert_eq!(resp["response"]["allowed"], true, "{resp}");
    let patch = patch_of(&resp);
    assert!(patch
        .iter()
        .any(|p| p["path"] == "/spec/template/spec/containers/0/image"
            && p["value"] == format!("{repo}:v1.0.0@{signed}")));
    let dep = kubectl_create_deployment("evil", &format!("{repo}:v0.1.0"));
    let resp = answer(
        &w,
        "/mutate",
        &review("admission.k8s.io/v1", "u-5", &dep, "CREATE"),
    );
    assert_eq!(resp["response"]["allowed"], false);
    assert!(resp["response"]["status"]["message"]
        .as_str()
        .unwrap()
        .contains("resource Deployment/default/evil was blocked"));
    assert!(resp["response"]["status"]["message"]
        .as_str()
        .unwrap()
        .contains("autogen-verify-cosign-signature"));

    // v1beta1 reviews are answered in v1beta1.
    let pod = kubectl_run("old-api", &format!("{repo}:v1.0.0"));
    let resp = answer(
        &w,
        "/mutate",
        &review("admission.k8s.io/v1beta1", "u-6", &pod, "CREATE"),
    );
    assert_eq!(resp["apiVersion"], "admission.k8s.io/v1beta1");
    assert_eq!(resp["response"]["allowed"], true);

    // Attack: the unsigned content pinned by digest under a `:*` pattern (Kyverno skips it).
    for img in [
        format!("{repo}@{unsigned}"),
        format!("{repo}:v1.0.0@{unsigned}"),
    ] {
        let pod = kubectl_run("pinned", &img);
        for path in ["/mutate", "/validate"] {
            let resp = answer(
                &w,
                path,
                &review("admission.k8s.io/v1", "u-7", &pod, "CREATE"),
            );
            assert_eq!(resp["response"]["allowed"], false, "{img} {path}: {resp}");
        }
    }
    // Attack: a forged verify-images annotation does not get an unpinned or unsigned pod
    // through the validating webhook.
    let mut forged = kubectl_run("forged", &format!("{repo}:v0.1.0@{unsigned}"));
    forged["metadata"]["annotations"] = json!({
        "kyverno.io/verify-images": format!("{{\"{repo}@{unsigned}\":\"pass\"}}")
    });
    let resp = answer(
        &w,
        "/validate",
        &review("admission.k8s.io/v1", "u-8", &forged, "CREATE"),
    );
    assert_eq!(resp["response"]["allowed"], false, "{resp}");

    // Transport-level refusals.
    let (code, _) = post(&w, "/mutate", "text/plain", b"{}");
    assert_eq!(code, 415);
    let (code, body) = post(
        &w,
        "/mutate",
        "application/json",
        b"{\"kind\":\"AdmissionReview\"}",
    );
    assert_eq!(code, 400, "{}", String::from_utf8_lossy(&body));
    let (code, _) = post(&w, "/mutate", "application/json", &vec![b' '; 4 << 20]);
    assert_eq!(code, 413);
    let metrics = get(&w, "/metrics");
    assert!(
        metrics.contains("sigil_admission_requests_total{result=\"denied\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("sigil_admission_cache_lookups_total{result=\"hit\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("sigil_admission_request_duration_seconds_bucket"),
        "{metrics}"
    );

    // Reload: the verbatim keyless policy replaces the keyed one. The key-signed image then
    // has no acceptable signature and is refused with the keyless attestor named.
    std::fs::write(
        policies.join("require-signed-images.yml"),
        lab_policy(&reg.addr, None),
    )
    .unwrap();
    let pod = kubectl_run("signed-app", &format!("{repo}:v1.0.0"));
    let start = Instant::now();
    let resp = loop {
        let resp = answer(
            &w,
            "/mutate",
            &review("admission.k8s.io/v1", "u-9", &pod, "CREATE"),
        );
        if resp["response"]["allowed"] == false || start.elapsed() > Duration::from_secs(30) {
            break resp;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(
        resp["response"]["allowed"], false,
        "policy not reloaded: {resp}"
    );
    let msg = resp["response"]["status"]["message"].as_str().unwrap();
    assert!(msg.contains(".attestors[0].entries[0].keyless"), "{msg}");

    // A broken policy file keeps the previous policies in force.
    std::fs::write(policies.join("require-signed-images.yml"), "kind: [").unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let resp = answer(
        &w,
        "/mutate",
        &review("admission.k8s.io/v1", "u-10", &pod, "CREATE"),
    );
    assert_eq!(resp["response"]["allowed"], false);
}

#[test]
fn policy_apply_reports_and_exits_like_kyverno_apply() {
    let reg = start_distribution();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let repo = format!("{}/lab/cosign-lab", reg.addr);
    let signed = rt().block_on(async {
        let c = client();
        push_image(&c, &format!("{repo}:v0.1.0"), b"unsigned").await;
        push_image(&c, &format!("{repo}:v1.0.0"), b"signed").await
    });
    ok(sigil(d, &["generate-key-pair"]));
    ok(sigil(
        d,
        &[
            "sign",
            "--key",
            "cosign.key",
            "--tlog-upload=false",
            &format!("{repo}:v1.0.0"),
        ],
    ));
    let pem = std::fs::read_to_string(d.join("cosign.pub")).unwrap();
    std::fs::write(d.join("policy.yaml"), lab_policy(&reg.addr, Some(&pem))).unwrap();
    std::fs::write(
        d.join("good.json"),
        kubectl_create_deployment("good", &format!("{repo}:v1.0.0")).to_string(),
    )
    .unwrap();
    std::fs::write(
        d.join("bad.json"),
        kubectl_create_deployment("bad", &format!("{repo}:v0.1.0")).to_string(),
    )
    .unwrap();

    let out = ok(sigil(
        d,
        &[
            "policy",
            "apply",
            "--policy",
            "policy.yaml",
            "--resource",
            "good.json",
        ],
    ));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("POLICY"), "{stdout}");
    assert!(stdout.contains("pass: 1, fail: 0"), "{stdout}");
    assert!(
        stdout.contains(&format!("{repo}:v1.0.0@{signed}")),
        "{stdout}"
    );

    let out = sigil(
        d,
        &[
            "policy",
            "apply",
            "--policy",
            "policy.yaml",
            "--resource",
            "good.json",
            "--resource",
            "bad.json",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("pass: 1, fail: 1"), "{stdout}");
    assert!(stdout.contains("no signatures found"), "{stdout}");

    // Bad input: clear errors, no panic.
    std::fs::write(d.join("broken.yaml"), "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata: {name: x}\nspec: {rules: [{name: r, match: {any: [{resources: {kinds: [Pod]}}]}, verifyImages: [{attestors: []}]}]}\n").unwrap();
    let out = sigil(
        d,
        &[
            "policy",
            "apply",
            "--policy",
            "broken.yaml",
            "--resource",
            "good.json",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("An image reference is required"));
}

#[test]
fn manifests_deploy_the_webhook() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = ok(sigil(
        d,
        &[
            "admission",
            "manifests",
            "--namespace",
            "lab",
            "--policy",
            testdata("require-signed-images.yml").to_str().unwrap(),
            "--tls-self-signed",
            "tls",
        ],
    ));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let docs = sigil_admission::parse_documents(&text, "manifests").unwrap();
    let kinds: Vec<&str> = docs.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    for k in [
        "Namespace",
        "ServiceAccount",
        "ConfigMap",
        "Deployment",
        "Service",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
    ] {
        assert!(kinds.contains(&k), "{k} missing: {kinds:?}");
    }
    let ca = std::fs::read_to_string(d.join("tls/ca.crt")).unwrap();
    let ca_b64 = base64::engine::general_purpose::STANDARD.encode(ca);
    for d in &docs {
        match d["kind"].as_str().unwrap() {
            "Deployment" => assert_eq!(d["spec"]["replicas"], 2),
            "ConfigMap" => assert!(d["data"]["require-signed-images.yml"]
                .as_str()
                .unwrap()
                .contains("require-cosign-signature")),
            "MutatingWebhookConfiguration" | "ValidatingWebhookConfiguration" => {
                let w = &d["webhooks"][0];
                assert_eq!(w["failurePolicy"], "Fail");
                assert_eq!(w["sideEffects"], "None");
                assert_eq!(w["timeoutSeconds"], 10);
                assert_eq!(w["clientConfig"]["caBundle"], ca_b64.as_str());
                assert_eq!(w["clientConfig"]["service"]["namespace"], "lab");
            }
            _ => {}
        }
    }
}
