//! Crash safety of `sigil ca serve`: the server is killed with SIGKILL while clients request
//! certificates; every certificate a client received must have its precertificate entry in
//! the CT log afterwards (an SCT is a promise the log must keep), the log must open cleanly,
//! and the restarted CA must go on issuing from the same keys.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use sigil_testkit::registry::http;
use sigil_testkit::{run_ok, start_sigil, system_bin, Peer};

const GITHUB: &str = "https://token.actions.githubusercontent.com";

/// A `sigil … serve` child, killed on drop.
fn serve(args: &[&str]) -> Peer {
    start_sigil(Path::new(env!("CARGO_BIN_EXE_sigil")), args, false)
}

fn openssl(dir: &Path, args: &[&str]) -> String {
    run_ok(
        Command::new(system_bin("openssl"))
            .current_dir(dir)
            .args(args),
    )
}

#[test]
fn acknowledged_certificates_survive_sigkill() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let p = |name: &str| dir.join(name).to_str().unwrap().to_owned();
    let gh = serve(&[
        "oidc",
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--data-dir",
        &p("oidc"),
        "--issuer",
        GITHUB,
    ]);
    std::fs::write(
        dir.join("ca.yaml"),
        format!(
            "oidc-issuers:\n  {GITHUB}:\n    issuer-url: {GITHUB}\n    type: github-workflow\n    discovery-url: http://{}/.well-known/openid-configuration\n",
            gh.addr
        ),
    )
    .unwrap();
    let issuer = sigil_ca::DevIssuer::open(&dir.join("oidc")).unwrap();
    let profile = sigil_ca::WorkflowProfile::new(
        "octo/hello",
        ".github/workflows/ci.yml",
        "refs/heads/main",
        None,
        "push",
    )
    .unwrap();
    let token = issuer.mint_github(GITHUB, &profile, "sigstore").unwrap();
    openssl(
        dir,
        &[
            "ecparam",
            "-genkey",
            "-name",
            "prime256v1",
            "-noout",
            "-out",
            "key.pem",
        ],
    );
    openssl(dir, &["ec", "-in", "key.pem", "-pubout", "-out", "pub.pem"]);
    std::fs::write(dir.join("challenge"), "repo:octo/hello:ref:refs/heads/main").unwrap();
    openssl(
        dir,
        &[
            "dgst",
            "-sha256",
            "-sign",
            "key.pem",
            "-out",
            "proof.sig",
            "challenge",
        ],
    );
    let body = json!({
        "credentials": {"oidcIdentityToken": token},
        "publicKeyRequest": {
            "publicKey": {"content": std::fs::read_to_string(dir.join("pub.pem")).unwrap()},
            "proofOfPossession": openssl(dir, &["base64", "-A", "-in", "proof.sig"]).trim(),
        }
    })
    .to_string();

    let config_args = [
        "ca",
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--data-dir",
        &p("ca"),
        "--config",
        &p("ca.yaml"),
    ];
    let mut ca = serve(&config_args);
    let acknowledged: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for _ in 0..8 {
        let (addr, body, acked, stop) = (
            ca.addr.clone(),
            body.clone(),
            acknowledged.clone(),
            stop.clone(),
        );
        clients.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let Ok(resp) = http(
                    &addr,
                    "POST",
                    "/api/v2/signingCert",
                    &[("Content-Type", "application/json")],
                    body.as_bytes(),
                ) else {
                    break; // the server is gone
                };
                if resp.status != 201 {
                    continue;
                }
                let v: Value = serde_json::from_slice(&resp.body).unwrap();
                let certs = &v["signedCertificateEmbeddedSct"]["chain"]["certificates"];
                acked.lock().unwrap().push((
                    certs[0].as_str().unwrap().to_owned(),
                    certs[1].as_str().unwrap().to_owned(),
                ));
            }
        }));
    }
    std::thread::sleep(Duration::from_millis(1500));
    ca.kill(); // SIGKILL, mid-traffic
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    let acked = acknowledged.lock().unwrap().clone();
    assert!(
        acked.len() > 10,
        "only {} certificates before the kill",
        acked.len()
    );

    // Open the log in this process and look every acknowledged certificate up.
    {
        let config =
            sigil_ca::CaConfig::from_yaml(&std::fs::read_to_string(dir.join("ca.yaml")).unwrap())
                .unwrap();
        let state = sigil_ca::open_ca(&dir.join("ca"), &config).unwrap();
        let log = state.ct_log.clone().unwrap();
        let size = log.size();
        assert!(
            size >= acked.len() as u64,
            "log has {size} entries for {} certificates",
            acked.len()
        );
        for (leaf, inter) in &acked {
            let entry = sigil_ca::certificate_leaf(leaf, inter).unwrap();
            let (index, _) = log
                .proof_by_hash(&sigil_core::merkle::leaf_hash(&entry), size)
                .unwrap();
            assert!(index < size);
        }
        log.signed_tree_head().unwrap();
    }

    // The restarted CA keeps its chain and issues again.
    let ca = serve(&config_args);
    let resp = http(
        &ca.addr,
        "POST",
        "/api/v2/signingCert",
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
    .unwrap();
    assert_eq!(resp.status, 201);
    let v: Value = serde_json::from_slice(&resp.body).unwrap();
    assert_eq!(
        v["signedCertificateEmbeddedSct"]["chain"]["certificates"][1],
        json!(acked[0].1)
    );
}
