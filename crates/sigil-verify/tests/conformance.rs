//! The sigstore-conformance `bundle-verify` suite, with the suite's rules
//! (`test/assets/bundle-verify/README.md`): a case passes unless its name ends in `_fail`;
//! `artifact` else `../a.txt`; `identity`/`issuer` files else the suite's defaults; `key.pub`
//! means verify with that key; `trusted_root.json` else the production root. Every case runs
//! with the artifact's bytes and with its `sha256:` digest.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};
use sigil_core::bundle::Bundle;
use sigil_core::keys::PublicKey;
use sigil_core::trust_root::TrustedRoot;
use sigil_verify::{
    verify_bundle, Artifact, BundleSigner, GithubExpectations, IdentityPolicy, Matcher, SctPolicy,
    TlogPolicy,
};

const DEFAULT_IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const DEFAULT_ISSUER: &str = "https://token.actions.githubusercontent.com";

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

fn read_trim(p: &Path) -> Option<String> {
    std::fs::read_to_string(p).ok().map(|s| s.trim().to_owned())
}

/// Runs one case with one artifact form; Ok = verified.
fn run_case(dir: &Path, by_digest: bool) -> Result<(), String> {
    let bundle_bytes =
        std::fs::read(dir.join("bundle.sigstore.json")).map_err(|e| e.to_string())?;
    let bundle = Bundle::from_json(&bundle_bytes).map_err(|e| e.to_string())?;
    let artifact_path = if dir.join("artifact").exists() {
        dir.join("artifact")
    } else {
        dir.join("../../a.txt")
    };
    let artifact = std::fs::read(&artifact_path).map_err(|e| e.to_string())?;
    let digest: [u8; 32] = Sha256::digest(&artifact).into();
    let root_path = if dir.join("trusted_root.json").exists() {
        dir.join("trusted_root.json")
    } else {
        testdata().join("trust/production/trusted_root.json")
    };
    let root = TrustedRoot::from_json(&std::fs::read(root_path).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let signer = if dir.join("key.pub").exists() {
        let pem = std::fs::read(dir.join("key.pub")).map_err(|e| e.to_string())?;
        BundleSigner::Key(PublicKey::from_pem(&pem).map_err(|e| e.to_string())?)
    } else {
        BundleSigner::Identity(IdentityPolicy {
            identity: Matcher::Exact(
                read_trim(&dir.join("identity")).unwrap_or_else(|| DEFAULT_IDENTITY.into()),
            ),
            issuer: Matcher::Exact(
                read_trim(&dir.join("issuer")).unwrap_or_else(|| DEFAULT_ISSUER.into()),
            ),
            github: GithubExpectations::default(),
        })
    };
    let art = if by_digest {
        Artifact::Sha256(&digest)
    } else {
        Artifact::Bytes(&artifact)
    };
    verify_bundle(
        &bundle,
        art,
        &signer,
        &root,
        TlogPolicy::Required,
        SctPolicy::Required,
    )
    .map(|_| ())
    .map_err(|f| f.to_string())
}

#[test]
fn bundle_verify_suite() {
    let suite = testdata().join("conformance/bundle-verify");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&suite)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 47, "suite incomplete: {} cases", cases.len());
    let mut wrong = Vec::new();
    let mut report = String::new();
    for dir in &cases {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let should_pass = !name.ends_with("_fail");
        for by_digest in [false, true] {
            let got = run_case(dir, by_digest);
            let form = if by_digest { "digest" } else { "path" };
            report.push_str(&format!(
                "{name} [{form}]: {}\n",
                match &got {
                    Ok(()) => "verified".into(),
                    Err(e) => format!("rejected: {e}"),
                }
            ));
            if got.is_ok() != should_pass {
                wrong.push(format!(
                    "{name} [{form}]: expected {}, got {got:?}",
                    if should_pass { "pass" } else { "fail" }
                ));
            }
        }
    }
    println!("{report}");
    assert!(
        wrong.is_empty(),
        "{} cases wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
