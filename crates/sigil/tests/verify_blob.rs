//! `sigil verify-blob` on sigstore-conformance bundles (vectors in `crates/sigil-verify/testdata`):
//! a public-good bundle verifies against the embedded public-good root, by path and by digest;
//! wrong identity, wrong artifact and a staging bundle fail with the reason.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::{Command, Output};

const ID: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const ISS: &str = "https://token.actions.githubusercontent.com";

fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../sigil-verify/testdata/conformance")
}

fn verify_blob(case: &str, identity: &str, artifact: &str) -> Output {
    let bundle = vectors()
        .join("bundle-verify")
        .join(case)
        .join("bundle.sigstore.json");
    Command::new(env!("CARGO_BIN_EXE_sigil"))
        .env_remove("SIGIL_TRUST_CONFIG")
        .arg("verify-blob")
        .arg("--bundle")
        .arg(bundle)
        .args([
            "--certificate-identity",
            identity,
            "--certificate-oidc-issuer",
            ISS,
            artifact,
        ])
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn verifies_public_good_bundles_by_path_and_digest() {
    let a = vectors().join("a.txt");
    let o = verify_blob("happy-path-v0.3", ID, a.to_str().unwrap());
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("Verified OK"));
    let digest = format!(
        "sha256:{}",
        sigil_core::Digest::sha256(&std::fs::read(&a).unwrap()).hex()
    );
    let o = verify_blob("happy-path-v0.2", ID, &digest);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn failures_name_the_failed_check() {
    let a = vectors().join("a.txt");
    let a = a.to_str().unwrap();
    let o = verify_blob(
        "happy-path-v0.3",
        "https://github.com/attacker/repo/.github/workflows/x.yml@refs/heads/main",
        a,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("none of the expected identities matched"),
        "{}",
        stderr(&o)
    );
    let other = vectors().join("bundle-verify/wrong-material_fail/artifact");
    let o = verify_blob("happy-path-v0.3", ID, other.to_str().unwrap());
    assert_eq!(o.status.code(), Some(1));
    let o = verify_blob("bundle-from-wrong-instance_fail", ID, a);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("unknown log") || stderr(&o).contains("certificate"),
        "{}",
        stderr(&o)
    );
    let o = verify_blob("bundle-malformed-json_fail", ID, a);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("malformed bundle JSON"),
        "{}",
        stderr(&o)
    );
}
