//! `sigil oidc …` and `sigil ca serve` end to end, with real peers checking the result:
//! openssl makes the keys, proofs and CSRs and verifies the issued chain, and sigstore-python's
//! own SCT verifier checks the embedded SCT against the CT log key in `trust.json`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};
use sigil_testkit::registry::http;
use sigil_testkit::{run_ok, start_sigil, system_bin, venv_bin, Peer};

const GITHUB: &str = "https://token.actions.githubusercontent.com";

fn sigil() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sigil"))
}

/// A `sigil … serve` child, killed on drop.
fn serve(args: &[&str]) -> Peer {
    start_sigil(Path::new(env!("CARGO_BIN_EXE_sigil")), args, true)
}

fn openssl(dir: &Path, args: &[&str]) -> String {
    run_ok(
        Command::new(system_bin("openssl"))
            .current_dir(dir)
            .args(args),
    )
}

fn b64(dir: &Path, file: &str) -> String {
    openssl(dir, &["base64", "-A", "-in", file])
        .trim()
        .to_owned()
}

fn jwt_claims(dir: &Path, jwt: &str) -> Value {
    let mut part = jwt
        .split('.')
        .nth(1)
        .unwrap()
        .replace('-', "+")
        .replace('_', "/");
    while part.len() % 4 != 0 {
        part.push('=');
    }
    std::fs::write(dir.join("claims.b64"), part).unwrap();
    serde_json::from_str(&openssl(dir, &["base64", "-d", "-A", "-in", "claims.b64"])).unwrap()
}

fn post_cert(ca: &Peer, body: &Value) -> (u16, Value) {
    let resp = http(
        &ca.addr,
        "POST",
        "/api/v2/signingCert",
        &[("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    )
    .unwrap();
    (
        resp.status,
        serde_json::from_slice(&resp.body).unwrap_or(Value::Null),
    )
}

/// Writes leaf.pem, inter.pem, root.pem and checks the chain with openssl and the SCT with
/// sigstore-python.
fn check_chain(dir: &Path, resp: &Value, trust: &Value, expect_san: &str) {
    let certs = resp["signedCertificateEmbeddedSct"]["chain"]["certificates"]
        .as_array()
        .unwrap();
    assert_eq!(certs.len(), 3);
    for (name, pem) in ["leaf.pem", "inter.pem", "root.pem"].iter().zip(certs) {
        std::fs::write(dir.join(name), pem.as_str().unwrap()).unwrap();
    }
    let verified = openssl(
        dir,
        &[
            "verify",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "inter.pem",
            "leaf.pem",
        ],
    );
    assert!(verified.contains("leaf.pem: OK"), "{verified}");
    let text = openssl(dir, &["x509", "-in", "leaf.pem", "-noout", "-text"]);
    assert!(text.contains(expect_san), "{text}");
    assert!(text.contains("CT Precertificate SCTs"), "{text}");
    assert!(text.contains("Code Signing"), "{text}");

    let ct_key = trust["ctlogs"][0]["publicKey"]["rawBytes"]
        .as_str()
        .unwrap();
    let script = r#"
import sys
from cryptography import x509
from sigstore._internal.sct import verify_sct
from sigstore._internal.trust import Keyring
from sigstore_models.common.v1 import PublicKey, PublicKeyDetails
load = lambda p: x509.load_pem_x509_certificate(open(p, "rb").read())
leaf, inter, root = load("leaf.pem"), load("inter.pem"), load("root.pem")
key = PublicKey(raw_bytes=sys.argv[1], key_details=PublicKeyDetails.PKIX_ECDSA_P256_SHA_256)
verify_sct(leaf, [inter, root], Keyring([key]))
print("SCT OK")
"#;
    std::fs::write(dir.join("check_sct.py"), script).unwrap();
    let out = run_ok(
        Command::new(venv_bin("python"))
            .current_dir(dir)
            .arg("check_sct.py")
            .arg(ct_key),
    );
    assert!(out.contains("SCT OK"), "{out}");
}

#[test]
fn github_env_token_to_certificate_checked_by_openssl_and_sigstore_python() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let gh_dir = dir.join("oidc-gh");
    let gh = serve(&[
        "oidc",
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--data-dir",
        gh_dir.to_str().unwrap(),
        "--issuer",
        GITHUB,
    ]);
    let email_dir = dir.join("oidc-email");
    let email = serve(&[
        "oidc",
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--data-dir",
        email_dir.to_str().unwrap(),
    ]);
    let email_iss = format!("http://{}", email.addr);

    std::fs::write(
        dir.join("ca.yaml"),
        format!(
            "oidc-issuers:\n  {GITHUB}:\n    issuer-url: {GITHUB}\n    client-id: sigstore\n    type: github-workflow\n    discovery-url: http://{}/.well-known/openid-configuration\n  {email_iss}:\n    issuer-url: {email_iss}\n    client-id: sigstore\n    type: email\n",
            gh.addr
        ),
    )
    .unwrap();
    let ca_dir = dir.join("ca");
    let ca = serve(&[
        "ca",
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--data-dir",
        ca_dir.to_str().unwrap(),
        "--config",
        dir.join("ca.yaml").to_str().unwrap(),
    ]);
    let trust: Value =
        serde_json::from_slice(&std::fs::read(ca_dir.join("trust.json")).unwrap()).unwrap();
    assert_eq!(
        trust["certificateAuthorities"][0]["certChain"]["certificates"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // github-env: the runner protocol, as cosign and sigstore-python's ambient detection use it.
    let env = run_ok(sigil().args([
        "oidc",
        "github-env",
        "--repository",
        "octo/hello",
        "--workflow",
        ".github/workflows/release.yml",
        "--ref",
        "refs/heads/main",
        "--event",
        "workflow_dispatch",
        "--data-dir",
        gh_dir.to_str().unwrap(),
    ]));
    let var = |name: &str| {
        env.lines()
            .find_map(|l| l.strip_prefix(&format!("export {name}='")))
            .and_then(|v| v.strip_suffix('\''))
            .unwrap_or_else(|| panic!("{name} missing from:\n{env}"))
            .to_owned()
    };
    assert_eq!(var("GITHUB_REPOSITORY"), "octo/hello");
    assert_eq!(var("GITHUB_EVENT_NAME"), "workflow_dispatch");
    assert_eq!(
        var("GITHUB_WORKFLOW_REF"),
        "octo/hello/.github/workflows/release.yml@refs/heads/main"
    );
    let url = var("ACTIONS_ID_TOKEN_REQUEST_URL");
    let path = url.strip_prefix(&format!("http://{}", gh.addr)).unwrap();
    let auth = format!("bearer {}", var("ACTIONS_ID_TOKEN_REQUEST_TOKEN"));
    let resp = http(
        &gh.addr,
        "GET",
        &format!("{path}&audience=sigstore"),
        &[("Authorization", &auth)],
        b"",
    )
    .unwrap();
    assert_eq!(resp.status, 200);
    let jwt = serde_json::from_slice::<Value>(&resp.body).unwrap()["value"]
        .as_str()
        .unwrap()
        .to_owned();
    let claims = jwt_claims(dir, &jwt);
    assert_eq!(claims["iss"], GITHUB);
    assert_eq!(claims["sub"], "repo:octo/hello:ref:refs/heads/main");

    // Key and proof of possession made by openssl.
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
    std::fs::write(dir.join("challenge"), claims["sub"].as_str().unwrap()).unwrap();
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
        "credentials": {"oidcIdentityToken": jwt},
        "publicKeyRequest": {
            "publicKey": {"algorithm": "ECDSA", "content": std::fs::read_to_string(dir.join("pub.pem")).unwrap()},
            "proofOfPossession": b64(dir, "proof.sig"),
        }
    });
    let (status, resp) = post_cert(&ca, &body);
    assert_eq!(status, 201, "{resp}");
    check_chain(
        dir,
        &resp,
        &trust,
        "URI:https://github.com/octo/hello/.github/workflows/release.yml@refs/heads/main",
    );

    // Email identity through `sigil oidc token` and an openssl CSR.
    let token = run_ok(sigil().args([
        "oidc",
        "token",
        "--email",
        "dev@example.com",
        "--data-dir",
        email_dir.to_str().unwrap(),
    ]));
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-key",
            "key.pem",
            "-subj",
            "/CN=ignored",
            "-out",
            "req.pem",
        ],
    );
    let body = json!({"credentials": {"oidcIdentityToken": token.trim()}, "certificateSigningRequest": b64(dir, "req.pem")});
    let (status, resp) = post_cert(&ca, &body);
    assert_eq!(status, 201, "{resp}");
    check_chain(dir, &resp, &trust, "email:dev@example.com");

    // A token from the email issuer is not a GitHub token: refused, with the reason.
    let mut wrong = body.clone();
    wrong["credentials"]["oidcIdentityToken"] = json!(jwt.replace('.', "!"));
    let (status, resp) = post_cert(&ca, &wrong);
    assert_eq!(status, 401, "{resp}");
}

#[test]
fn bad_invocations_fail_with_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let fail = |args: &[&str], needle: &str| {
        let out = sigil().args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(
            stderr.contains(needle),
            "{args:?}: stderr lacks `{needle}`:\n{stderr}"
        );
    };
    let d = dir.to_str().unwrap();
    let missing: PathBuf = dir.join("nope.yaml");
    fail(
        &[
            "ca",
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--data-dir",
            d,
            "--config",
            missing.to_str().unwrap(),
        ],
        "reading the CA configuration",
    );
    std::fs::write(
        dir.join("bad.yaml"),
        "oidc-issuers:\n  https://a:\n    issuer-url: https://a\n    type: kerberos\n",
    )
    .unwrap();
    fail(
        &[
            "ca",
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--data-dir",
            d,
            "--config",
            dir.join("bad.yaml").to_str().unwrap(),
        ],
        "unknown variant `kerberos`",
    );
    fail(
        &["oidc", "token", "--email", "a@example.com", "--data-dir", d],
        "no issuer URL",
    );
    fail(
        &[
            "oidc",
            "github-env",
            "--repository",
            "octo",
            "--workflow",
            ".github/workflows/x.yml",
            "--ref",
            "refs/heads/main",
            "--data-dir",
            d,
        ],
        "no server has run",
    );
    fail(
        &["oidc", "serve", "--addr", "0.0.0.0:0", "--data-dir", d],
        "refusing to serve",
    );
}
