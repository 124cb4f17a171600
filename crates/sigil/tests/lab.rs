//! `sigil lab` end to end: every step of the seed lab passes on the in-process stack, and a
//! link broken on purpose (Exercise 2 signing as another workflow) is caught and reported.
//!
//! The lab packs whatever `--app` names; these tests give it a small script they write, so
//! `cargo test -p sigil` needs no other package built (examples/hello is what the lab packs
//! by default, from next to the sigil binary, in `cargo build --release`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn sigil() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_sigil"))
}

fn app(dir: &Path) -> PathBuf {
    let p = dir.join("server");
    std::fs::write(&p, "#!/bin/sh\necho 'Hello from a signed container!'\n").unwrap();
    p
}

fn run_lab(extra: &[&str]) -> (Output, String) {
    let dir = tempfile::tempdir().unwrap();
    let app = app(dir.path());
    let out = Command::new(sigil())
        .arg("lab")
        .arg("--app")
        .arg(&app)
        .arg("--state-dir")
        .arg(dir.path().join("lab"))
        .args(extra)
        .env_remove("SIGIL_TRUST_CONFIG")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (out, stdout)
}

/// The outcome lines (✓/✗) under the step whose header is `== TITLE`.
fn outcomes<'a>(stdout: &'a str, title: &str) -> Vec<&'a str> {
    let header = format!("== {title}");
    let start = stdout
        .find(&header)
        .unwrap_or_else(|| panic!("no step `{title}` in:\n{stdout}"));
    stdout[start + header.len()..]
        .lines()
        .take_while(|l| !l.starts_with("== "))
        .filter(|l| l.starts_with('✓') || l.starts_with('✗'))
        .collect()
}

const STEPS: &[&str] = &[
    "Start the embedded stack",
    "Build and push the unsigned v0.1.0 image (the baseline workflow)",
    "Exercise 1.1: generate a key pair",
    "Exercise 1.2: build and push",
    "Exercise 1.2: sign with the key",
    "Exercise 1.3: verify with the public key",
    "Exercise 2: the workflow builds and pushes v1.0.0",
    "Exercise 2: keyless signing in the (emulated) GitHub workflow",
    "Exercise 3.1: verify by identity",
    "Exercise 3.2: the attacker's identity fails",
    "Exercise 3.3: the unsigned image fails",
    "Exercise 3.4: identity by regular expression",
    "Exercise 4.1: the policy, offline (signed pod)",
    "Exercise 4.1: the policy, offline (unsigned pod)",
    "Exercise 4.2: the admission webhook admits the signed pod",
    "Exercise 4.3: the unsigned pod is denied",
    "Exercise 5.1: the SBOM",
    "Exercise 5.2: attach the SBOM as an attestation (in the workflow)",
    "Exercise 5.3: verify the attestation",
    "Exercise 5.3: the attacker's identity fails",
    "The complete pipeline: build, push, sign, SBOM, attest, verify",
];

#[test]
fn every_step_of_the_lab_holds() {
    let (out, stdout) = run_lab(&[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "sigil lab failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    for title in STEPS {
        let got = outcomes(&stdout, title);
        assert_eq!(got.len(), 1, "step `{title}`: {got:?}");
        assert!(got[0].starts_with('✓'), "step `{title}`: {got:?}");
    }
    assert_eq!(stdout.matches("\n✓ ").count(), STEPS.len(), "{stdout}");
    assert!(!stdout.contains("\n✗"), "{stdout}");
    // The lab's expected failures, with the lab's messages.
    assert!(stdout.contains(
        "failed as expected (exit 12: none of the expected identities matched what was in the certificate)"
    ));
    assert!(stdout.contains("failed as expected (exit 10: no signatures found)"));
    assert!(stdout.contains("was blocked due to the following policies"));
    assert!(stdout.contains("All steps held."));
    // Each step shows the lab's command and sigil's.
    assert!(stdout.contains("   lab:   cosign sign --key cosign.key ghcr.io/OWNER/cosign-lab:v1"));
    assert!(stdout.contains("   sigil: sigil sign --key cosign.key -y 127.0.0.1:"));
}

#[test]
fn a_broken_keyless_identity_is_caught() {
    let (out, stdout) = run_lab(&["--break", "keyless-identity"]);
    assert!(!out.status.success(), "the broken lab passed:\n{stdout}");
    // The signature itself is made and pushed…
    let sign = outcomes(
        &stdout,
        "Exercise 2: keyless signing in the (emulated) GitHub workflow",
    );
    assert!(sign[0].starts_with('✓'), "{sign:?}");
    // …but it names the wrong workflow: verification by identity and the policy refuse it.
    let verify = outcomes(&stdout, "Exercise 3.1: verify by identity");
    assert!(verify[0].starts_with('✗'), "{verify:?}");
    let admit = outcomes(
        &stdout,
        "Exercise 4.2: the admission webhook admits the signed pod",
    );
    assert!(admit[0].starts_with('✗'), "{admit:?}");
    assert!(stdout.contains("none of the expected identities matched"));
    // The failed steps are listed at the end; the rest of the lab still held.
    let tail = &stdout[stdout.find("step(s) failed:").expect("failure list")..];
    assert!(
        tail.contains("✗ Exercise 3.1: verify by identity"),
        "{tail}"
    );
    assert!(outcomes(&stdout, "Exercise 3.2: the attacker's identity fails")[0].starts_with('✓'));
    assert!(outcomes(&stdout, "Exercise 5.3: verify the attestation")[0].starts_with('✓'));
}

#[test]
fn a_missing_app_is_a_clear_error() {
    let out = Command::new(sigil())
        .args(["lab", "--app", "/nonexistent/sigil-lab-app"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--app `/nonexistent/sigil-lab-app` is not a file"),
        "{stderr}"
    );
}
