//! `sigil initialize` end to end: the binary refreshes from a python-tuf generated repository
//! (sigil-core's testdata) served on loopback, later commands verify against the cached root,
//! and an attacking mirror is refused without touching the cache.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use sigil_testkit::tuf::{self, Files};

fn sigil(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sigil"))
        .env("SIGIL_HOME", home)
        .env_remove("SIGIL_TRUST_CONFIG")
        .args(args)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `sigil verify-blob` of a public-good conformance bundle, trust from the defaults.
fn verify_blob(home: &Path) -> Output {
    let vectors =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../sigil-verify/testdata/conformance");
    let bundle = vectors.join("bundle-verify/happy-path-v0.3/bundle.sigstore.json");
    sigil(
        home,
        &[
            "verify-blob",
            "--bundle",
            bundle.to_str().unwrap(),
            "--certificate-identity",
            "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main",
            "--certificate-oidc-issuer",
            "https://token.actions.githubusercontent.com",
            vectors.join("a.txt").to_str().unwrap(),
        ],
    )
}

#[test]
fn initialize_caches_the_root_later_commands_use_and_refuses_a_rollback() {
    let files: Files = Arc::new(Mutex::new(tuf::repo_files()));
    let mirror = tuf::serve(files.clone());
    let home = tempfile::tempdir().unwrap();
    let root = tuf::testdata().join("root.v1.json");
    let init = [
        "initialize",
        "--mirror",
        &mirror,
        "--root",
        root.to_str().unwrap(),
    ];

    let o = sigil(home.path(), &init);
    assert!(o.status.success(), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    let cached = PathBuf::from(
        stdout
            .trim()
            .strip_prefix("trusted root cached at ")
            .unwrap(),
    );
    assert!(
        cached.starts_with(home.path().join("tuf")),
        "{}",
        cached.display()
    );
    assert_eq!(
        std::fs::read(&cached).unwrap(),
        include_bytes!("../assets/public-good-trusted-root.json")
    );

    // Later commands verify against the cached root (same content as the embedded one here).
    let o = verify_blob(home.path());
    assert!(o.status.success(), "{}", stderr(&o));
    // ... and really read it: a damaged cache is reported, with the fix.
    std::fs::write(&cached, b"{").unwrap();
    let o = verify_blob(home.path());
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("rerun `sigil initialize`"),
        "{}",
        stderr(&o)
    );
    // Initializing again restores it (from the cached TUF root: no --root needed).
    let o = sigil(home.path(), &init[..3]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = verify_blob(home.path());
    assert!(o.status.success(), "{}", stderr(&o));

    // The mirror replays an old timestamp: refused, exit non-zero, the cache untouched.
    let before = std::fs::read(
        cached
            .parent()
            .unwrap()
            .parent()
            .unwrap()
            .join("timestamp.json"),
    )
    .unwrap();
    files.lock().unwrap().insert(
        "timestamp.json".into(),
        std::fs::read(tuf::testdata().join("attacks/timestamp.v1.json")).unwrap(),
    );
    let o = sigil(home.path(), &init);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains(
            "rollback of `timestamp.json`: version 1 is older than the trusted version 2"
        ),
        "{}",
        stderr(&o)
    );
    let after = std::fs::read(
        cached
            .parent()
            .unwrap()
            .parent()
            .unwrap()
            .join("timestamp.json"),
    )
    .unwrap();
    assert_eq!(before, after);
}
