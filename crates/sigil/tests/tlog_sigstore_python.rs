//! sigstore-python (a real Rekor v1 client) signs and verifies through `sigil tlog serve`,
//! with `sigil ca serve` as Fulcio and `sigil oidc serve` as the identity provider:
//! `sigstore sign` uploads a hashedrekord and `sigstore attest` a dsse entry, then
//! `sigstore verify identity --offline` checks the SET, the inclusion proof and the
//! checkpoint our log returned, against the log key in a ClientTrustConfig.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{json, Value};
use sigil_core::keys::PublicKey;
use sigil_testkit::{start_sigil, system_bin, venv_bin, Peer};

fn serve(args: &[&str]) -> Peer {
    start_sigil(
        std::path::Path::new(env!("CARGO_BIN_EXE_sigil")),
        args,
        true,
    )
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    eprintln!(
        "{:?}: {}\n{}{}",
        cmd,
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn get_json(addr: &str, path: &str) -> Value {
    let out = run(Command::new(system_bin("curl")).args([
        "-sS",
        "--fail",
        &format!("http://{addr}{path}"),
    ]));
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).unwrap()
}

fn sha256_b64(der: &[u8]) -> String {
    B64.encode(sigil_core::Digest::sha256(der).raw())
}

fn trust_config(dir: &Path, ca: &Peer, oidc: &Peer, tlog: &Peer) -> std::path::PathBuf {
    let ca_trust: Value =
        serde_json::from_slice(&std::fs::read(dir.join("ca/trust.json")).unwrap()).unwrap();
    let pem = run(Command::new(system_bin("curl")).args([
        "-sS",
        "--fail",
        &format!("http://{}/api/v1/log/publicKey", tlog.addr),
    ]))
    .stdout;
    let key = PublicKey::from_pem(&pem).unwrap();
    let start = "2020-01-01T00:00:00Z";
    let cfg = json!({
        "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
        "trustedRoot": {
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [{
                "baseUrl": format!("http://{}", tlog.addr),
                "hashAlgorithm": "SHA2_256",
                "publicKey": {"rawBytes": B64.encode(key.spki_der()), "keyDetails": "PKIX_ECDSA_P256_SHA_256", "validFor": {"start": start}},
                "logId": {"keyId": sha256_b64(key.spki_der())},
            }],
            "certificateAuthorities": ca_trust["certificateAuthorities"],
            "ctlogs": ca_trust["ctlogs"],
            "timestampAuthorities": [],
        },
        "signingConfig": {
            "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
            "caUrls": [{"url": format!("http://{}", ca.addr), "majorApiVersion": 1, "validFor": {"start": start}, "operator": "sigil"}],
            "oidcUrls": [{"url": format!("http://{}", oidc.addr), "majorApiVersion": 1, "validFor": {"start": start}, "operator": "sigil"}],
            "rekorTlogUrls": [{"url": format!("http://{}", tlog.addr), "majorApiVersion": 1, "validFor": {"start": start}, "operator": "sigil"}],
            "tsaUrls": [],
            "rekorTlogConfig": {"selector": "ANY"},
            "tsaConfig": {"selector": "ANY"},
        },
    });
    let path = dir.join("client_trust_config.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&cfg).unwrap()).unwrap();
    path
}

#[test]
fn sigstore_python_signs_attests_and_verifies_through_sigil_tlog() {
    let sigstore = venv_bin("sigstore");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let d = |p: &str| dir.join(p).to_str().unwrap().to_owned();
    let oidc = serve(&[
        "oidc",
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--data-dir",
        &d("oidc"),
    ]);
    let issuer = format!("http://{}", oidc.addr);
    std::fs::write(
        dir.join("ca.yaml"),
        format!("oidc-issuers:\n  {issuer}:\n    issuer-url: {issuer}\n    client-id: sigstore\n    type: email\n"),
    )
    .unwrap();
    let ca = serve(&[
        "ca",
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--data-dir",
        &d("ca"),
        "--config",
        &d("ca.yaml"),
    ]);
    let tlog = serve(&[
        "tlog",
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--data-dir",
        &d("tlog"),
    ]);
    let cfg = trust_config(dir, &ca, &oidc, &tlog);
    let token = run(Command::new(env!("CARGO_BIN_EXE_sigil")).args([
        "oidc",
        "token",
        "--email",
        "dev@example.com",
        "--data-dir",
        &d("oidc"),
    ]));
    assert!(token.status.success());
    let token = String::from_utf8(token.stdout).unwrap().trim().to_owned();
    std::fs::write(dir.join("artifact.txt"), b"hello from sigil tlog\n").unwrap();

    // sign: hashedrekord 0.0.1 through our log.
    let out = run(Command::new(&sigstore).current_dir(dir).args([
        "--trust-config",
        cfg.to_str().unwrap(),
        "sign",
        "--rekor-version",
        "1",
        "--identity-token",
        &token,
        "--bundle",
        "artifact.sigstore.json",
        "--overwrite",
        "artifact.txt",
    ]));
    assert!(out.status.success(), "sigstore sign failed");
    let bundle: Value =
        serde_json::from_slice(&std::fs::read(dir.join("artifact.sigstore.json")).unwrap())
            .unwrap();
    let entry = &bundle["verificationMaterial"]["tlogEntries"][0];
    assert_eq!(entry["kindVersion"]["kind"], "hashedrekord");
    assert_eq!(entry["logIndex"], "0");
    let info = get_json(&tlog.addr, "/api/v1/log");
    assert_eq!(info["treeSize"], 1);

    let verify = |artifact: &str, bundle: &str, identity: &str| {
        run(Command::new(&sigstore).current_dir(dir).args([
            "--trust-config",
            cfg.to_str().unwrap(),
            "verify",
            "identity",
            "--offline",
            "--bundle",
            bundle,
            "--cert-identity",
            identity,
            "--cert-oidc-issuer",
            &issuer,
            artifact,
        ]))
    };
    assert!(
        verify("artifact.txt", "artifact.sigstore.json", "dev@example.com")
            .status
            .success()
    );
    assert!(!verify(
        "artifact.txt",
        "artifact.sigstore.json",
        "other@example.com"
    )
    .status
    .success());
    std::fs::write(dir.join("other.txt"), b"something else\n").unwrap();
    assert!(
        !verify("other.txt", "artifact.sigstore.json", "dev@example.com")
            .status
            .success()
    );

    // A tampered inclusion proof in the bundle is caught.
    let mut bad = bundle.clone();
    let h = bad["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["rootHash"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut raw = B64.decode(h).unwrap();
    raw[0] ^= 1;
    bad["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["rootHash"] =
        json!(B64.encode(raw));
    std::fs::write(
        dir.join("bad.sigstore.json"),
        serde_json::to_vec(&bad).unwrap(),
    )
    .unwrap();
    assert!(
        !verify("artifact.txt", "bad.sigstore.json", "dev@example.com")
            .status
            .success()
    );

    // attest: a dsse 0.0.1 entry.
    std::fs::write(dir.join("predicate.json"), br#"{"buildDefinition":{"buildType":"https://example.com/build/v1","externalParameters":{}},"runDetails":{"builder":{"id":"https://example.com/builder"}}}"#).unwrap();
    let out = run(Command::new(&sigstore).current_dir(dir).args([
        "--trust-config",
        cfg.to_str().unwrap(),
        "attest",
        "--predicate",
        "predicate.json",
        "--predicate-type",
        "https://slsa.dev/provenance/v1",
        "--identity-token",
        &token,
        "--bundle",
        "attest.sigstore.json",
        "--overwrite",
        "artifact.txt",
    ]));
    assert!(out.status.success(), "sigstore attest failed");
    let b: Value =
        serde_json::from_slice(&std::fs::read(dir.join("attest.sigstore.json")).unwrap()).unwrap();
    assert_eq!(
        b["verificationMaterial"]["tlogEntries"][0]["kindVersion"]["kind"],
        "dsse"
    );
    assert!(
        verify("artifact.txt", "attest.sigstore.json", "dev@example.com")
            .status
            .success()
    );
    assert_eq!(get_json(&tlog.addr, "/api/v1/log")["treeSize"], 2);
}
