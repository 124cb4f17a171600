//! The lab's exercises, in the seed's order, each step as `scripts/lab.sh` ran it.

use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Value};
use tokio::io::AsyncBufReadExt as _;

use super::runner::{command_line, Expect, Lab};
use super::BreakLink;
use crate::cmd::up::GITHUB_ISSUER;

const OWNER_REPO: &str = "owner/cosign-lab";
const WORKFLOW: &str = ".github/workflows/sign.yml";
const ATTACKER: &str =
    "https://github.com/attacker/malicious-repo/.github/workflows/build.yml@refs/tags/v1.0.0";

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| (*x).to_owned()).collect()
}

/// The lab's ClusterPolicy, verbatim but for the registry and the log's URL.
fn policy(registry: &str, rekor: &str) -> String {
    format!(
        r#"apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: require-cosign-signature
spec:
  validationFailureAction: Enforce
  background: false
  rules:
    - name: verify-cosign-signature
      match:
        any:
          - resources:
              kinds:
                - Pod
      verifyImages:
        - imageReferences:
            - "{registry}/owner/cosign-lab:*"
          attestors:
            - entries:
                - keyless:
                    subject: "https://github.com/owner/cosign-lab/.github/workflows/sign.yml@refs/tags/*"
                    issuer: "https://token.actions.githubusercontent.com"
                    rekor:
                      url: "{rekor}"
"#
    )
}

/// The Pod `kubectl run NAME --image=IMAGE --restart=Never --dry-run=client -o json` makes
/// (with the namespace the API server fills in before admission).
fn pod(name: &str, image: &str) -> Value {
    json!({
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {"name": name, "namespace": "default", "labels": {"run": name}},
        "spec": {
            "containers": [{"name": name, "image": image, "resources": {}}],
            "restartPolicy": "Never",
            "dnsPolicy": "ClusterFirst"
        },
        "status": {}
    })
}

/// The AdmissionReview the API server sends for creating `pod`.
fn review(pod: &Value) -> Value {
    let name = pod["metadata"]["name"].clone();
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": name,
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "name": name,
            "namespace": "default",
            "operation": "CREATE",
            "userInfo": {"username": "lab"},
            "object": pod,
            "dryRun": false
        }
    })
}

/// Parses `export NAME='value'` lines (`sigil oidc github-env`'s output).
fn parse_exports(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            let v = v
                .strip_prefix('\'')
                .and_then(|v| v.strip_suffix('\''))
                .map(|v| v.replace(r"'\''", "'"))
                .unwrap_or_else(|| v.to_owned());
            (k.to_owned(), v)
        })
        .collect()
}

impl Lab {
    /// Runs `sigil oidc github-env` for the workflow and returns its variables (the Actions
    /// token request URL and token, and the `GITHUB_*` context). Empty on failure (the
    /// signing step that needs them then fails and says why).
    async fn github_env(&mut self, workflow: &str, git_ref: &str) -> Vec<(String, String)> {
        let args = s(&[
            "oidc",
            "github-env",
            "--repository",
            OWNER_REPO,
            "--workflow",
            workflow,
            "--ref",
            git_ref,
        ]);
        let out = self.sigil(&args, &[], None).await;
        if out.code != Some(0) {
            print!("{}", out.stderr);
            return Vec::new();
        }
        parse_exports(&out.stdout)
    }

    /// `sigil pack` of the lab's application as `reference`; the digest on success.
    async fn pack(
        &mut self,
        title: &str,
        lab: &str,
        reference: &str,
        version: &str,
    ) -> Option<String> {
        let app = format!("{}:/server", self.app.display());
        let label = format!("org.opencontainers.image.version={version}");
        let args = s(&[
            "pack",
            "--file",
            &app,
            "--entrypoint",
            "/server",
            "--expose",
            "8080",
            "--label",
            &label,
            "--tag",
            reference,
        ]);
        let (ok, out) = self
            .step(
                title,
                lab,
                &args,
                &[],
                Expect::Success,
                &format!("pushed {reference}"),
            )
            .await;
        let digest = out.stdout.trim().to_owned();
        (ok && digest.starts_with("sha256:")).then_some(digest)
    }
}

pub async fn run_all(lab: &mut Lab) {
    let r = format!("{}/{OWNER_REPO}", lab.var("SIGIL_REGISTRY"));
    let id = format!("https://github.com/{OWNER_REPO}/{WORKFLOW}@refs/tags/v1.0.0");

    lab.pack(
        "Build and push the unsigned v0.1.0 image (the baseline workflow)",
        "docker build/push ghcr.io/OWNER/cosign-lab:v0.1.0",
        &format!("{r}:v0.1.0"),
        "v0.1.0",
    )
    .await;

    lab.exercise("Exercise 1: key pair");
    lab.step(
        "Exercise 1.1: generate a key pair",
        "cosign generate-key-pair",
        &s(&["generate-key-pair"]),
        &[],
        Expect::Success,
        "cosign.key (encrypted) and cosign.pub written",
    )
    .await;
    lab.pack(
        "Exercise 1.2: build and push",
        "docker build -t ghcr.io/OWNER/cosign-lab:v1 . && docker push ghcr.io/OWNER/cosign-lab:v1",
        &format!("{r}:v1"),
        "v1",
    )
    .await;
    lab.step(
        "Exercise 1.2: sign with the key",
        "cosign sign --key cosign.key ghcr.io/OWNER/cosign-lab:v1",
        &s(&["sign", "--key", "cosign.key", "-y", &format!("{r}:v1")]),
        &[],
        Expect::Success,
        "signed; entry in the transparency log; signature in the sha256-<hex>.sig tag",
    )
    .await;
    let (ok, out) = lab
        .step(
            "Exercise 1.3: verify with the public key",
            "cosign verify --key cosign.pub ghcr.io/OWNER/cosign-lab:v1",
            &s(&["verify", "--key", "cosign.pub", &format!("{r}:v1")]),
            &[],
            Expect::Success,
            "verified, log entry checked offline",
        )
        .await;
    if ok {
        println!(
            "    {}",
            out.stdout.chars().take(300).collect::<String>().trim()
        );
    }

    lab.exercise("Exercise 2: keyless in CI");
    let digest = lab
        .pack(
            "Exercise 2: the workflow builds and pushes v1.0.0",
            "docker/build-push-action (push: true) → steps.build.outputs.digest",
            &format!("{r}:v1.0.0"),
            "v1.0.0",
        )
        .await
        .unwrap_or_default();
    let signing_workflow = match lab.broken {
        // The broken link: another workflow of the same repository signs.
        Some(BreakLink::KeylessIdentity) => ".github/workflows/release.yml",
        None => WORKFLOW,
    };
    if signing_workflow != WORKFLOW {
        println!("\n(--break keyless-identity: the workflow signs as `{signing_workflow}`, not `{WORKFLOW}`)");
    }
    let ci = lab.github_env(signing_workflow, "refs/tags/v1.0.0").await;
    lab.step(
        "Exercise 2: keyless signing in the (emulated) GitHub workflow",
        "cosign sign --yes ghcr.io/OWNER/cosign-lab@${{ steps.build.outputs.digest }}  (id-token: write)",
        &s(&["sign", "--yes", &format!("{r}@{digest}")]),
        &ci,
        Expect::Success,
        "certificate for the workflow identity, tlog entry, signature pushed",
    )
    .await;

    lab.exercise("Exercise 3: verify by identity");
    lab.step(
        "Exercise 3.1: verify by identity",
        "cosign verify --certificate-identity $ID --certificate-oidc-issuer $ISS ghcr.io/OWNER/cosign-lab:v1.0.0",
        &s(&[
            "verify",
            "--certificate-identity",
            &id,
            "--certificate-oidc-issuer",
            GITHUB_ISSUER,
            &format!("{r}:v1.0.0"),
        ]),
        &[],
        Expect::Success,
        "verified: chain, SCT, log entry, identity",
    )
    .await;
    lab.step(
        "Exercise 3.2: the attacker's identity fails",
        "cosign verify --certificate-identity https://github.com/attacker/… ghcr.io/OWNER/cosign-lab:v1.0.0",
        &s(&[
            "verify",
            "--certificate-identity",
            ATTACKER,
            "--certificate-oidc-issuer",
            GITHUB_ISSUER,
            &format!("{r}:v1.0.0"),
        ]),
        &[],
        Expect::Failure {
            code: 12,
            text: "none of the expected identities matched what was in the certificate",
        },
        "",
    )
    .await;
    lab.step(
        "Exercise 3.3: the unsigned image fails",
        "cosign verify --certificate-identity …@refs/tags/v0.1.0 … ghcr.io/OWNER/cosign-lab:v0.1.0",
        &s(&[
            "verify",
            "--certificate-identity",
            &format!("https://github.com/{OWNER_REPO}/{WORKFLOW}@refs/tags/v0.1.0"),
            "--certificate-oidc-issuer",
            GITHUB_ISSUER,
            &format!("{r}:v0.1.0"),
        ]),
        &[],
        Expect::Failure {
            code: 10,
            text: "no signatures found",
        },
        "",
    )
    .await;
    lab.step(
        "Exercise 3.4: identity by regular expression",
        "cosign verify --certificate-identity-regexp 'https://github.com/OWNER/cosign-lab/.*' …",
        &s(&[
            "verify",
            "--certificate-identity-regexp",
            &format!("https://github.com/{OWNER_REPO}/.*"),
            "--certificate-oidc-issuer",
            GITHUB_ISSUER,
            &format!("{r}:v1.0.0"),
        ]),
        &[],
        Expect::Success,
        "verified by regexp",
    )
    .await;

    lab.exercise("Exercise 4: Kyverno admission");
    exercise4(lab, &r).await;

    lab.exercise("Exercise 5: SBOM attestation");
    exercise5(lab, &r, &id).await;

    lab.exercise("Complete pipeline");
    pipeline(lab, &r).await;
}

async fn exercise4(lab: &mut Lab, r: &str) {
    let policy_file = lab.file("require-signed-images.yml");
    let signed = pod("signed-app", &format!("{r}:v1.0.0"));
    let unsigned = pod("unsigned-app", &format!("{r}:v0.1.0"));
    let written = std::fs::write(
        &policy_file,
        policy(&lab.var("SIGIL_REGISTRY"), &lab.var("SIGIL_REKOR_URL")),
    )
    .and_then(|()| std::fs::write(lab.file("signed-app.json"), signed.to_string()))
    .and_then(|()| std::fs::write(lab.file("unsigned-app.json"), unsigned.to_string()));
    if let Err(e) = written {
        lab.header("Exercise 4: write the policy and pods", "", "");
        lab.record(
            "files",
            false,
            Duration::ZERO,
            &format!("writing the lab's files: {e}"),
        );
        return;
    }
    lab.step(
        "Exercise 4.1: the policy, offline (signed pod)",
        "kyverno apply require-signed-images.yml --resource signed-app.yaml",
        &s(&[
            "policy",
            "apply",
            "--policy",
            "require-signed-images.yml",
            "--resource",
            "signed-app.json",
        ]),
        &[],
        Expect::Success,
        "signed-app passes the policy",
    )
    .await;
    lab.step(
        "Exercise 4.1: the policy, offline (unsigned pod)",
        "kyverno apply require-signed-images.yml --resource unsigned-app.yaml",
        &s(&[
            "policy",
            "apply",
            "--policy",
            "require-signed-images.yml",
            "--resource",
            "unsigned-app.json",
        ]),
        &[],
        Expect::Failure {
            code: 1,
            text: "unsigned-app",
        },
        "",
    )
    .await;

    let args = s(&[
        "admission",
        "serve",
        "--policy",
        "require-signed-images.yml",
        "--addr",
        "127.0.0.1:0",
        "--tls-self-signed",
        "tls",
    ]);
    lab.header(
        "Exercise 4.2: the admission webhook admits the signed pod",
        "kubectl apply -f require-signed-images.yml; kubectl run signed-app --image=ghcr.io/OWNER/cosign-lab:v1.0.0 --restart=Never",
        &format!("{}; AdmissionReview of the pod over HTTPS", command_line(&args)),
    );
    let t = Instant::now();
    let webhook = match Webhook::start(lab, &args).await {
        Ok(w) => w,
        Err(e) => {
            let t = t.elapsed();
            lab.record(
                "webhook",
                false,
                t,
                &format!("webhook did not start: {e:#}"),
            );
            return;
        }
    };
    let signed_ok = match lab.spin(webhook.admit(&signed)).await {
        Ok(resp) => {
            let allowed = resp["allowed"].as_bool() == Some(true);
            let patch = resp["patch"]
                .as_str()
                .and_then(|p| B64.decode(p).ok())
                .map(|p| String::from_utf8_lossy(&p).into_owned());
            match (&patch, allowed) {
                (Some(p), true) if p.contains("@sha256:") => {
                    println!("    patch: {}", p.chars().take(240).collect::<String>());
                    true
                }
                _ => {
                    let message = resp["status"]["message"].as_str().unwrap_or_default();
                    for l in message.lines().filter(|l| !l.trim().is_empty()) {
                        println!("    {l}");
                    }
                    if message.is_empty() {
                        println!("    {resp}");
                    }
                    false
                }
            }
        }
        Err(e) => {
            println!("    {e:#}");
            false
        }
    };
    lab.record(
        "signed pod",
        signed_ok,
        t.elapsed(),
        if signed_ok {
            "pod/signed-app created (image pinned to its verified digest)"
        } else {
            "signed pod not admitted with its digest pin"
        },
    );

    lab.header(
        "Exercise 4.3: the unsigned pod is denied",
        "kubectl run unsigned-app --image=ghcr.io/OWNER/cosign-lab:v0.1.0 --restart=Never",
        "the same webhook",
    );
    let t = Instant::now();
    let denied = match lab.spin(webhook.admit(&unsigned)).await {
        Ok(resp) => {
            let message = resp["status"]["message"].as_str().unwrap_or_default();
            for l in message.lines().filter(|l| !l.trim().is_empty()) {
                println!("    {l}");
            }
            resp["allowed"].as_bool() == Some(false)
                && message.contains("was blocked due to the following policies")
        }
        Err(e) => {
            println!("    {e:#}");
            false
        }
    };
    lab.record(
        "unsigned pod",
        denied,
        t.elapsed(),
        if denied {
            "denied with Kyverno's message"
        } else {
            "unsigned pod not denied with Kyverno's message"
        },
    );
    webhook.stop(!(signed_ok && denied)).await;
}

/// `sigil admission serve` as a child process, and an HTTPS client trusting its CA.
struct Webhook {
    child: tokio::process::Child,
    url: String,
    client: reqwest::Client,
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Webhook {
    async fn start(lab: &Lab, args: &[String]) -> anyhow::Result<Webhook> {
        use anyhow::Context as _;
        let mut cmd = tokio::process::Command::new(&lab.exe);
        cmd.args(args)
            .current_dir(&lab.work)
            .envs(lab.env.iter().map(|(k, v)| (k, v)))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().context("starting `sigil admission serve`")?;
        let stderr = child.stderr.take().context("the webhook's stderr")?;
        let mut lines = tokio::io::BufReader::new(stderr).lines();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let find = async {
            while let Some(line) = lines.next_line().await? {
                if let Ok(mut l) = log.lock() {
                    l.push(line.clone());
                }
                if let Some(rest) = line.split("serving https://").nth(1) {
                    let addr = rest
                        .split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_owned();
                    return Ok::<_, std::io::Error>(Some(addr));
                }
            }
            Ok(None)
        };
        let addr = tokio::time::timeout(Duration::from_secs(30), find).await;
        let addr = match addr {
            Ok(Ok(Some(a))) => a,
            other => {
                let said = log.lock().map(|l| l.join("\n")).unwrap_or_default();
                let why = match other {
                    Err(_) => "no `serving https://…` line within 30 s".to_owned(),
                    Ok(Err(e)) => e.to_string(),
                    _ => "it exited".to_owned(),
                };
                anyhow::bail!("{why}\n{said}");
            }
        };
        // Keep draining its stderr so it never blocks on a full pipe.
        let sink = log.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Ok(mut l) = sink.lock() {
                    l.push(line);
                }
            }
        });
        let ca = std::fs::read(lab.file("tls/ca.crt")).context("reading tls/ca.crt")?;
        let client = reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).context("tls/ca.crt")?)
            .timeout(Duration::from_secs(30))
            .build()
            .context("the HTTPS client")?;
        Ok(Webhook {
            child,
            url: format!("https://{addr}"),
            client,
            log,
        })
    }

    /// Sends the AdmissionReview for creating `pod` to Kyverno's fail-closed mutating path
    /// and returns the review's `response`.
    async fn admit(&self, pod: &Value) -> anyhow::Result<Value> {
        let resp = self
            .client
            .post(format!("{}/mutate/fail", self.url))
            .json(&review(pod))
            .send()
            .await?
            .error_for_status()?;
        let body: Value = resp.json().await?;
        Ok(body["response"].clone())
    }

    /// Stops the webhook; `show_log`: print the end of its log (when a step failed).
    async fn stop(mut self, show_log: bool) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
        if show_log {
            if let Ok(l) = self.log.lock() {
                for line in l.iter().rev().take(4).rev() {
                    println!("    webhook: {line}");
                }
            }
        }
    }
}

async fn exercise5(lab: &mut Lab, r: &str, id: &str) {
    let args = s(&["sbom", &format!("{r}:v1.0.0"), "-o", "spdx-json"]);
    lab.header(
        "Exercise 5.1: the SBOM",
        "syft ghcr.io/OWNER/cosign-lab:v1.0.0 -o spdx-json > sbom.spdx.json",
        &format!("{} > sbom.spdx.json", command_line(&args)),
    );
    let t = Instant::now();
    let sbom_path = lab.file("sbom.spdx.json");
    let out = lab.sigil(&args, &[], Some(&sbom_path)).await;
    let doc: Option<Value> = std::fs::read(&sbom_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let version = doc
        .as_ref()
        .and_then(|d| d["spdxVersion"].as_str())
        .unwrap_or_default();
    let ok = out.code == Some(0) && version == "SPDX-2.3";
    if !ok {
        print!("{}", out.stderr);
    }
    let size = std::fs::metadata(&sbom_path).map(|m| m.len()).unwrap_or(0);
    lab.record(
        "sbom",
        ok,
        t.elapsed(),
        &if ok {
            format!("SPDX 2.3 document, {size} bytes")
        } else {
            format!("no SPDX 2.3 document (exit {:?})", out.code)
        },
    );

    let ci = lab.github_env(WORKFLOW, "refs/tags/v1.0.0").await;
    lab.step(
        "Exercise 5.2: attach the SBOM as an attestation (in the workflow)",
        "cosign attest --predicate sbom.spdx.json --type spdxjson --yes ghcr.io/OWNER/cosign-lab:v1.0.0",
        &s(&[
            "attest",
            "--predicate",
            "sbom.spdx.json",
            "--type",
            "spdxjson",
            "--yes",
            &format!("{r}:v1.0.0"),
        ]),
        &ci,
        Expect::Success,
        "in-toto statement signed (DSSE), logged, attached as sha256-<hex>.att",
    )
    .await;
    lab.step(
        "Exercise 5.3: verify the attestation",
        "cosign verify-attestation --type spdxjson --certificate-identity $ID --certificate-oidc-issuer $ISS ghcr.io/OWNER/cosign-lab:v1.0.0",
        &s(&[
            "verify-attestation",
            "--type",
            "spdxjson",
            "--certificate-identity",
            id,
            "--certificate-oidc-issuer",
            GITHUB_ISSUER,
            &format!("{r}:v1.0.0"),
        ]),
        &[],
        Expect::Success,
        "attestation verified: signer, log entry, subject digest, predicate type",
    )
    .await;
    lab.step(
        "Exercise 5.3: the attacker's identity fails",
        "cosign verify-attestation --type spdxjson --certificate-identity https://github.com/attacker/… …",
        &s(&[
            "verify-attestation",
            "--type",
            "spdxjson",
            "--certificate-identity",
            ATTACKER,
            "--certificate-oidc-issuer",
            GITHUB_ISSUER,
            &format!("{r}:v1.0.0"),
        ]),
        &[],
        Expect::Failure {
            code: 12,
            text: "none of the expected identities matched",
        },
        "",
    )
    .await;
}

async fn pipeline(lab: &mut Lab, r: &str) {
    let ci = lab
        .github_env(".github/workflows/sign-and-attest.yml", "refs/tags/v1.1.0")
        .await;
    let app = format!("{}:/server", lab.app.display());
    let args = s(&[
        "pipeline",
        "--file",
        &app,
        "--entrypoint",
        "/server",
        "--expose",
        "8080",
        "--label",
        "org.opencontainers.image.version=v1.1.0",
        "--tag",
        &format!("{r}:v1.1.0"),
        "--certificate-identity-regexp",
        &format!("https://github.com/{OWNER_REPO}/.*"),
        "--certificate-oidc-issuer",
        GITHUB_ISSUER,
        "--output",
        "json",
    ]);
    let (ok, out) = lab
        .step(
            "The complete pipeline: build, push, sign, SBOM, attest, verify",
            ".github/workflows/sign-and-attest.yml (build-push-action, cosign sign, syft, cosign attest, cosign verify, cosign verify-attestation)",
            &args,
            &ci,
            Expect::Success,
            "pipeline held: signed, attested and verified by the workflow's identity",
        )
        .await;
    if ok {
        if let Ok(v) = serde_json::from_str::<Value>(&out.stdout) {
            println!(
                "    {} signature {} attestation {}",
                v["reference"].as_str().unwrap_or_default(),
                v["signature"].as_str().unwrap_or_default(),
                v["attestation"].as_str().unwrap_or_default()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn exports_are_unquoted() {
        let got = parse_exports("export A='x y'\nexport B='it'\\''s'\n# c\nexport C=plain\n");
        assert_eq!(
            got,
            vec![
                ("A".to_owned(), "x y".to_owned()),
                ("B".to_owned(), "it's".to_owned()),
                ("C".to_owned(), "plain".to_owned())
            ]
        );
    }

    #[test]
    fn the_policy_is_the_labs_but_for_the_urls() {
        let p = policy("127.0.0.1:5000", "http://127.0.0.1:5001");
        assert!(p.contains("- \"127.0.0.1:5000/owner/cosign-lab:*\""));
        assert!(p.contains("url: \"http://127.0.0.1:5001\""));
        assert!(p.contains("validationFailureAction: Enforce"));
    }
}
