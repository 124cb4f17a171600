//! Lab Exercises 1–3 on `sigil up`'s embedded stack: key signing with the log (the lab's
//! commands verbatim: no `--tlog-upload=false`, no `--insecure-ignore-tlog`), keyless signing
//! as the emulated GitHub workflow through the Actions token protocol, and verification by
//! identity: the right identity passes, the attacker's fails, the unsigned image has no
//! signatures, the regexp passes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

use sigil_testkit::image::{client, push_image};
use sigil_testkit::stack::Stack;

#[path = "support/cli.rs"]
mod cli;
use cli::{sigil, text};

const ISSUER: &str = "https://token.actions.githubusercontent.com";
const IDENTITY: &str =
    "https://github.com/owner/cosign-lab/.github/workflows/sign.yml@refs/tags/v1.0.0";

fn up(state: &Path) -> Stack {
    Stack::up(Path::new(env!("CARGO_BIN_EXE_sigil")), state)
}

#[test]
fn exercises_one_to_three_on_the_embedded_stack() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let stack = up(&d.join("state"));
    let env = &stack.env;
    let get = |k: &str| stack.get(k);
    let repo = format!("{}/owner/cosign-lab", get("SIGIL_REGISTRY"));
    let (signed, _unsigned, keyed) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let c = client();
            (
                push_image(&c, &format!("{repo}:v1.0.0"), b"signed in CI").await,
                push_image(&c, &format!("{repo}:v0.1.0"), b"never signed").await,
                push_image(&c, &format!("{repo}:v1"), b"signed with a key").await,
            )
        });

    // Exercise 1 verbatim: the signature goes to the stack's log and is verified from it.
    let o = sigil(d, env, &["generate-key-pair"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = sigil(
        d,
        env,
        &["sign", "--key", "cosign.key", "-y", &format!("{repo}:v1")],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("tlog entry created with index:"),
        "{}",
        text(&o)
    );
    let o = sigil(
        d,
        env,
        &["verify", "--key", "cosign.pub", &format!("{repo}:v1")],
    );
    assert!(o.status.success(), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("Existence of the claims in the transparency log was verified offline"),
        "{err}"
    );
    let payloads: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        payloads[0]["critical"]["image"]["docker-manifest-digest"],
        keyed.to_string()
    );
    assert!(payloads[0]["optional"]["Bundle"]["SignedEntryTimestamp"].is_string());

    // Exercise 2: keyless, as the workflow, through the Actions token protocol.
    let workflow_env = stack.workflow_env(
        Path::new(env!("CARGO_BIN_EXE_sigil")),
        "owner/cosign-lab",
        ".github/workflows/sign.yml",
        "refs/tags/v1.0.0",
    );
    let o = sigil(
        d,
        &workflow_env,
        &["sign", "--yes", &format!("{repo}@{signed}")],
    );
    assert!(o.status.success(), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("tlog entry created with index:")
            && err.contains(&format!("sha256-{}.sig", signed.hex())),
        "{err}"
    );

    // Exercise 3.
    let verify = |identity_flag: &str, identity: &str, tag: &str| {
        sigil(
            d,
            env,
            &[
                "verify",
                identity_flag,
                identity,
                "--certificate-oidc-issuer",
                ISSUER,
                &format!("{repo}:{tag}"),
            ],
        )
    };
    let o = verify("--certificate-identity", IDENTITY, "v1.0.0");
    assert!(o.status.success(), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("The code-signing certificate was verified using trusted certificate authority certificates"), "{err}");
    let payloads: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(payloads[0]["optional"]["Subject"], IDENTITY);
    assert_eq!(payloads[0]["optional"]["Issuer"], ISSUER);
    assert_eq!(
        payloads[0]["optional"]["githubWorkflowRepository"],
        "owner/cosign-lab"
    );

    let o = verify(
        "--certificate-identity",
        "https://github.com/attacker/malicious-repo/.github/workflows/build.yml@refs/tags/v1.0.0",
        "v1.0.0",
    );
    assert_eq!(o.status.code(), Some(12), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("no matching signatures")
            && err.contains("none of the expected identities matched what was in the certificate"),
        "{err}"
    );

    let o = verify(
        "--certificate-identity",
        "https://github.com/owner/cosign-lab/.github/workflows/sign.yml@refs/tags/v0.1.0",
        "v0.1.0",
    );
    assert_eq!(o.status.code(), Some(10), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("no signatures found"),
        "{}",
        text(&o)
    );

    let o = verify(
        "--certificate-identity-regexp",
        "https://github.com/owner/cosign-lab/.*",
        "v1.0.0",
    );
    assert!(o.status.success(), "{}", text(&o));

    // The issuer must match too; and the key-signed image has no certificate to match.
    let o = sigil(
        d,
        env,
        &[
            "verify",
            "--certificate-identity",
            IDENTITY,
            "--certificate-oidc-issuer",
            "https://accounts.google.com",
            &format!("{repo}:v1.0.0"),
        ],
    );
    assert_eq!(o.status.code(), Some(12), "{}", text(&o));
    let o = verify("--certificate-identity", IDENTITY, "v1");
    assert_eq!(o.status.code(), Some(12), "{}", text(&o));
    // Another instance's trust root (the public-good one) does not vouch for this stack.
    let public: Vec<(String, String)> = env
        .iter()
        .filter(|(k, _)| k != "SIGIL_TRUST_CONFIG")
        .cloned()
        .collect();
    let o = sigil(
        d,
        &public,
        &[
            "verify",
            "--certificate-identity",
            IDENTITY,
            "--certificate-oidc-issuer",
            ISSUER,
            &format!("{repo}:v1.0.0"),
        ],
    );
    assert_eq!(o.status.code(), Some(12), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("unknown log"),
        "{}",
        text(&o)
    );
}

/// `sigil sign-blob` writes v0.3 bundles that `sigil verify-blob` and sigstore-python 4.5
/// verify offline against the stack's trust config; key-signed bundles verify with the key.
#[test]
fn sign_blob_bundles_verify_with_sigil_and_sigstore_python() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let stack = up(&d.join("state"));
    let env = &stack.env;
    let get = |k: &str| stack.get(k);
    std::fs::write(d.join("artifact.txt"), "hello, bundle\n").unwrap();
    std::fs::write(d.join("other.txt"), "another file\n").unwrap();

    // Keyless, with an email identity from the stack's email issuer.
    let o = sigil(
        d,
        env,
        &[
            "oidc",
            "token",
            "--email",
            "dev@example.com",
            "--data-dir",
            &format!("{}/state/oidc-email", d.display()),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let token = String::from_utf8_lossy(&o.stdout).trim().to_owned();
    let o = sigil(
        d,
        env,
        &[
            "sign-blob",
            "--identity-token",
            &token,
            "--bundle",
            "a.sigstore.json",
            "artifact.txt",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let issuer = get("SIGIL_OIDC_EMAIL_URL");
    let verify = |id: &str, file: &str| {
        sigil(
            d,
            env,
            &[
                "verify-blob",
                "--bundle",
                "a.sigstore.json",
                "--certificate-identity",
                id,
                "--certificate-oidc-issuer",
                &issuer,
                file,
            ],
        )
    };
    let o = verify("dev@example.com", "artifact.txt");
    assert!(o.status.success(), "{}", text(&o));
    let o = verify("someone@example.com", "artifact.txt");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let o = verify("dev@example.com", "other.txt");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));

    // sigstore-python verifies sigil's bundle offline with the stack's trust config.
    let python = |args: &[&str]| {
        Command::new(sigil_testkit::venv_bin("sigstore"))
            .current_dir(d)
            .arg("--trust-config")
            .arg(get("SIGIL_TRUST_CONFIG"))
            .args(args)
            .output()
            .unwrap()
    };
    let o = python(&[
        "verify",
        "identity",
        "--offline",
        "--bundle",
        "a.sigstore.json",
        "--cert-identity",
        "dev@example.com",
        "--cert-oidc-issuer",
        &issuer,
        "artifact.txt",
    ]);
    assert!(
        o.status.success(),
        "sigstore-python rejects sigil's bundle: {}",
        text(&o)
    );
    let o = python(&[
        "verify",
        "identity",
        "--offline",
        "--bundle",
        "a.sigstore.json",
        "--cert-identity",
        "other@example.com",
        "--cert-oidc-issuer",
        &issuer,
        "artifact.txt",
    ]);
    assert!(
        !o.status.success(),
        "sigstore-python accepts a wrong identity: {}",
        text(&o)
    );

    // Key-signed.
    let o = sigil(d, env, &["generate-key-pair"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = sigil(
        d,
        env,
        &[
            "sign-blob",
            "--key",
            "cosign.key",
            "--bundle",
            "k.sigstore.json",
            "artifact.txt",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = sigil(
        d,
        env,
        &[
            "verify-blob",
            "--bundle",
            "k.sigstore.json",
            "--key",
            "cosign.pub",
            "artifact.txt",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = sigil(
        d,
        env,
        &["generate-key-pair", "--output-key-prefix", "other"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let o = sigil(
        d,
        env,
        &[
            "verify-blob",
            "--bundle",
            "k.sigstore.json",
            "--key",
            "other.pub",
            "artifact.txt",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
}
