//! sigstore-js (`@sigstore/verify`, what the npm `sigstore` package's `verify()` runs) verifies
//! a keyless bundle that `sigil sign-blob` made on `sigil up`'s stack, with the stack's
//! trusted_root.json. sigstore-js finds a checkpoint's log by matching the signer's name
//! against the log's `baseUrl`, so the stack's log must sign under its host.
//! Needs node and `@sigstore/verify` in `.venv-peers/npm` (scripts/install-peers.sh).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

use sigil_testkit::stack::Stack;
use sigil_testkit::{peers_venv, system_bin};

const IDENTITY: &str =
    "https://github.com/owner/cosign-lab/.github/workflows/sign.yml@refs/tags/v1.0.0";
const ISSUER: &str = "https://token.actions.githubusercontent.com";

#[test]
fn sigstore_js_verifies_a_bundle_signed_on_sigil_up() {
    let modules = peers_venv().join("npm/node_modules");
    assert!(
        modules.join("@sigstore/verify/package.json").exists(),
        "@sigstore/verify is not installed in {}: run scripts/install-peers.sh",
        modules.display()
    );
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let sigil = Path::new(env!("CARGO_BIN_EXE_sigil"));
    let state = d.join("state");
    let stack = Stack::up(sigil, &state);
    let run = |args: &[&str], env: &[(String, String)]| {
        let o = Command::new(sigil)
            .current_dir(d)
            .env_remove("SIGSTORE_ID_TOKEN")
            .env_remove("ACTIONS_ID_TOKEN_REQUEST_URL")
            .env_remove("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
            .envs(stack.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .args(args)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "sigil {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    };
    // The workflow identity through the Actions token protocol, as in lab Exercise 2.
    let exports = run(
        &[
            "oidc",
            "github-env",
            "--repository",
            "owner/cosign-lab",
            "--workflow",
            ".github/workflows/sign.yml",
            "--ref",
            "refs/tags/v1.0.0",
        ],
        &[],
    );
    let actions: Vec<(String, String)> = exports
        .lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.trim_matches(['\'', '"']).to_owned()))
        .collect();
    assert!(
        actions
            .iter()
            .any(|(k, _)| k == "ACTIONS_ID_TOKEN_REQUEST_URL"),
        "{exports}"
    );
    std::fs::write(d.join("artifact.bin"), b"signed on the stack").unwrap();
    run(
        &[
            "sign-blob",
            "--yes",
            "--bundle",
            "artifact.sigstore.json",
            "artifact.bin",
        ],
        &actions,
    );
    let verify = |san: &str| {
        Command::new(system_bin("node"))
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/js-verify.js"))
            .arg(d.join("artifact.sigstore.json"))
            .arg(state.join("trusted_root.json"))
            .arg(d.join("artifact.bin"))
            .arg(san)
            .arg(ISSUER)
            .env("NODE_PATH", &modules)
            .output()
            .unwrap()
    };
    let o = verify(IDENTITY);
    assert!(
        o.status.success(),
        "sigstore-js: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    // And it is really checking: another identity fails.
    let o = verify(
        "https://github.com/attacker/malicious-repo/.github/workflows/build.yml@refs/tags/v1.0.0",
    );
    assert!(!o.status.success());
}
