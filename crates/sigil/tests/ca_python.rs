//! Keyless signing with a real client: sigstore-python 4.5 signs against `sigil ca serve`
//! (certificate + embedded SCT) and `sigil tlog serve` (Rekor v1), getting its identity token
//! either from `sigil oidc token` or, as inside a GitHub Actions job, from the ambient
//! `ACTIONS_ID_TOKEN_REQUEST_*` variables that `sigil oidc github-env` prints; then it verifies
//! the bundle offline against a trust root built from the services' keys.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};
use sigil_testkit::registry::http;
use sigil_testkit::{run_ok, start_sigil, venv_bin, Peer};

const GITHUB: &str = "https://token.actions.githubusercontent.com";

fn sigil() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sigil"))
}

/// A `sigil … serve` child, killed on drop.
fn serve(args: &[&str]) -> Peer {
    start_sigil(Path::new(env!("CARGO_BIN_EXE_sigil")), args, true)
}

/// The tlog entry of a trusted root for the log at `addr` (key from its publicKey endpoint).
fn tlog_entry(dir: &Path, addr: &str) -> Value {
    let pem = http(addr, "GET", "/api/v1/log/publicKey", &[], b"").unwrap();
    assert_eq!(pem.status, 200);
    std::fs::write(dir.join("rekor.pem"), &pem.body).unwrap();
    let script = "import base64,hashlib,sys\nfrom cryptography.hazmat.primitives import serialization as s\n\
k=s.load_pem_public_key(open(sys.argv[1],'rb').read()).public_bytes(s.Encoding.DER,s.PublicFormat.SubjectPublicKeyInfo)\n\
print(base64.b64encode(k).decode(), base64.b64encode(hashlib.sha256(k).digest()).decode())\n";
    let out = run_ok(
        Command::new(venv_bin("python"))
            .arg("-c")
            .arg(script)
            .arg(dir.join("rekor.pem")),
    );
    let (raw, id) = out.trim().split_once(' ').unwrap();
    json!({
        "baseUrl": format!("http://{addr}"),
        "hashAlgorithm": "SHA2_256",
        "publicKey": {"rawBytes": raw, "keyDetails": "PKIX_ECDSA_P256_SHA_256", "validFor": {"start": "2020-01-01T00:00:00Z"}},
        "logId": {"keyId": id},
    })
}

fn sigstore(dir: &Path, envs: &[(String, String)], args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(venv_bin("sigstore"));
    cmd.current_dir(dir).args(args);
    // Only the variables given here make the run "inside GitHub Actions".
    for var in [
        "GITHUB_ACTIONS",
        "ACTIONS_ID_TOKEN_REQUEST_URL",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        "SIGSTORE_ID_TOKEN",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(envs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    cmd.output().unwrap()
}

fn ok(out: &std::process::Output, what: &str) -> String {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{text}",
        out.status
    );
    text
}

#[test]
fn sigstore_python_signs_with_sigil_ca_and_verifies_offline() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let p = |name: &str| dir.join(name).to_str().unwrap().to_owned();

    let gh = serve(&[
        "oidc",
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--data-dir",
        &p("oidc-gh"),
        "--issuer",
        GITHUB,
    ]);
    let email = serve(&[
        "oidc",
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--data-dir",
        &p("oidc-email"),
    ]);
    let email_iss = format!("http://{}", email.addr);
    std::fs::write(
        dir.join("ca.yaml"),
        format!(
            "oidc-issuers:\n  {GITHUB}:\n    issuer-url: {GITHUB}\n    type: github-workflow\n    discovery-url: http://{}/.well-known/openid-configuration\n  {email_iss}:\n    issuer-url: {email_iss}\n    type: email\n",
            gh.addr
        ),
    )
    .unwrap();
    let ca = serve(&[
        "ca",
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--data-dir",
        &p("ca"),
        "--config",
        &p("ca.yaml"),
    ]);
    let tlog = serve(&[
        "tlog",
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--data-dir",
        &p("tlog"),
    ]);

    let trust: Value =
        serde_json::from_slice(&std::fs::read(dir.join("ca/trust.json")).unwrap()).unwrap();
    let svc = |url: String| json!({"url": url, "majorApiVersion": 1, "validFor": {"start": "2020-01-01T00:00:00Z"}, "operator": "sigil"});
    let config = json!({
        "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
        "trustedRoot": {
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [tlog_entry(dir, &tlog.addr)],
            "certificateAuthorities": trust["certificateAuthorities"],
            "ctlogs": trust["ctlogs"],
            "timestampAuthorities": [],
        },
        "signingConfig": {
            "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
            "caUrls": [svc(format!("http://{}", ca.addr))],
            "oidcUrls": [svc(email_iss.clone())],
            "rekorTlogUrls": [svc(format!("http://{}", tlog.addr))],
            "tsaUrls": [],
            "rekorTlogConfig": {"selector": "ANY"},
            "tsaConfig": {"selector": "ANY"},
        },
    });
    std::fs::write(dir.join("trust_config.json"), config.to_string()).unwrap();
    std::fs::write(dir.join("artifact.txt"), "hello, keyless world\n").unwrap();

    // 1. Inside a (simulated) GitHub Actions job: sigstore-python finds the ambient credential.
    let env = run_ok(sigil().args([
        "oidc",
        "github-env",
        "--data-dir",
        &p("oidc-gh"),
        "--repository",
        "octo/hello",
        "--workflow",
        ".github/workflows/release.yml",
        "--ref",
        "refs/tags/v1.0.0",
    ]));
    let vars: Vec<(String, String)> = env
        .lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.trim_matches('\'').to_owned()))
        .collect();
    let out = sigstore(
        dir,
        &vars,
        &[
            "--trust-config",
            "trust_config.json",
            "sign",
            "--bundle",
            "gh.sigstore.json",
            "--overwrite",
            "artifact.txt",
        ],
    );
    ok(&out, "sigstore sign (GitHub ambient token)");
    let identity = "https://github.com/octo/hello/.github/workflows/release.yml@refs/tags/v1.0.0";
    let out = sigstore(
        dir,
        &[],
        &[
            "--trust-config",
            "trust_config.json",
            "verify",
            "identity",
            "--offline",
            "--bundle",
            "gh.sigstore.json",
            "--cert-identity",
            identity,
            "--cert-oidc-issuer",
            GITHUB,
            "artifact.txt",
        ],
    );
    let text = ok(&out, "sigstore verify identity (GitHub)");
    assert!(text.contains("OK: artifact.txt"), "{text}");
    let out = sigstore(
        dir,
        &[],
        &[
            "--trust-config",
            "trust_config.json",
            "verify",
            "github",
            "--offline",
            "--bundle",
            "gh.sigstore.json",
            "--cert-identity",
            identity,
            "--trigger",
            "push",
            "--repository",
            "octo/hello",
            "--ref",
            "refs/tags/v1.0.0",
            "artifact.txt",
        ],
    );
    ok(&out, "sigstore verify github (extensions 2-6)");
    // The wrong identity is refused.
    let out = sigstore(
        dir,
        &[],
        &[
            "--trust-config",
            "trust_config.json",
            "verify",
            "identity",
            "--offline",
            "--bundle",
            "gh.sigstore.json",
            "--cert-identity",
            "https://github.com/octo/evil/.github/workflows/release.yml@refs/tags/v1.0.0",
            "--cert-oidc-issuer",
            GITHUB,
            "artifact.txt",
        ],
    );
    assert!(!out.status.success());

    // sigil's own verifier accepts the same bundle (chain, SCT from the embedded CT log, tlog
    // entry, identity and GitHub extensions), and refuses another workflow.
    let verify = |identity: &str| {
        sigil()
            .current_dir(dir)
            .args([
                "verify-blob",
                "--bundle",
                "gh.sigstore.json",
                "--trust-config",
                "trust_config.json",
                "--certificate-identity",
                identity,
                "--certificate-oidc-issuer",
                GITHUB,
                "--certificate-github-workflow-repository",
                "octo/hello",
                "--certificate-github-workflow-trigger",
                "push",
                "artifact.txt",
            ])
            .output()
            .unwrap()
    };
    ok(&verify(identity), "sigil verify-blob");
    assert!(
        !verify("https://github.com/octo/evil/.github/workflows/release.yml@refs/tags/v1.0.0")
            .status
            .success()
    );

    // 2. An email identity from `sigil oidc token`.
    let token = run_ok(sigil().args([
        "oidc",
        "token",
        "--email",
        "dev@example.com",
        "--data-dir",
        &p("oidc-email"),
    ]));
    let out = sigstore(
        dir,
        &[],
        &[
            "--trust-config",
            "trust_config.json",
            "sign",
            "--identity-token",
            token.trim(),
            "--bundle",
            "email.sigstore.json",
            "--overwrite",
            "artifact.txt",
        ],
    );
    ok(&out, "sigstore sign (email token)");
    let out = sigstore(
        dir,
        &[],
        &[
            "--trust-config",
            "trust_config.json",
            "verify",
            "identity",
            "--offline",
            "--bundle",
            "email.sigstore.json",
            "--cert-identity",
            "dev@example.com",
            "--cert-oidc-issuer",
            &email_iss,
            "artifact.txt",
        ],
    );
    let text = ok(&out, "sigstore verify identity (email)");
    assert!(text.contains("OK: artifact.txt"), "{text}");
}
