//! sigil signs against @sigstore/mock (sigstore-js's test Fulcio, CT log and Rekor, npm 0.12,
//! served on loopback by `testdata/mock-sigstore-server.js`) and verifies the result with the
//! trusted root that mock instance writes: a blob bundle (which sigstore-python 4.5 also
//! verifies offline) and a keyless image signature; and sigstore-js 4.1 signs there with a TSA
//! timestamp, which sigil verifies.
//! A second mock instance (other keys, same software) stands for another Sigstore deployment:
//! its root must not accept the first one's signatures.
//!
//! Needs node and `@sigstore/mock` in `.venv-peers/npm` (scripts/install-peers.sh).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use sigil_core::bundle::Bundle;
use sigil_core::trust_root::TrustedRoot;
use sigil_core::ImageRef;
use sigil_oci::cosign::{fetch_layers, Attachment};
use sigil_sign::{sign_blob, sign_image, SignOptions, Signer, TlogUpload};
use sigil_testkit::image::{client, push_image};
use sigil_testkit::{
    free_port, peers_venv, start_distribution, system_bin, venv_bin, wait_for_port,
};
use sigil_verify::{
    verify_bundle, verify_candidates, Artifact, BundleSigner, Failure, GithubExpectations,
    IdentityPolicy, ImagePolicy, Matcher, SctPolicy, SignatureCandidate, TlogPolicy, Trust,
};

const SUBJECT: &str = "https://github.com/sigil/interop/.github/workflows/sign.yml@refs/heads/main";
const ISSUER: &str = "https://token.actions.githubusercontent.com";

/// A running mock deployment; killed when dropped.
struct Mock {
    child: Child,
    base: String,
    root: TrustedRoot,
    _dir: tempfile::TempDir,
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/mock-sigstore-server.js")
}

fn start_mock() -> Mock {
    let modules = peers_venv().join("npm/node_modules");
    assert!(
        modules.join("@sigstore/mock/package.json").exists(),
        "@sigstore/mock is not installed in {}: run scripts/install-peers.sh",
        modules.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let child = Command::new(system_bin("node"))
        .arg(script())
        .arg(port.to_string())
        .arg(dir.path())
        .env("NODE_PATH", &modules)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start node");
    let addr = format!("127.0.0.1:{port}");
    wait_for_port(&addr, Duration::from_secs(60));
    let root =
        TrustedRoot::from_json(&std::fs::read(dir.path().join("trusted_root.json")).unwrap())
            .unwrap();
    Mock {
        child,
        base: format!("http://{addr}"),
        root,
        _dir: dir,
    }
}

/// An identity token as the mock CA reads it: it decodes the claims without checking the
/// signature (SAN = `sub`, issuer extension = `iss`).
fn token() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let header = B64URL.encode(br#"{"alg":"ES256","typ":"JWT"}"#);
    let claims = serde_json::json!({
        "iss": ISSUER, "sub": SUBJECT, "aud": "sigstore", "iat": now, "exp": now + 600,
    });
    let payload = B64URL.encode(serde_json::to_vec(&claims).unwrap());
    format!("{header}.{payload}.{}", B64URL.encode(b"unchecked"))
}

/// The mock's trusted root wrapped as sigstore-python's `--trust-config` wants it.
fn client_trust_config(mock: &Mock) -> Vec<u8> {
    let service = |v: u32| {
        serde_json::json!([{"url": mock.base, "majorApiVersion": v,
            "validFor": {"start": "2020-01-01T00:00:00Z"}, "operator": "mock"}])
    };
    serde_json::to_vec(&serde_json::json!({
        "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
        "trustedRoot": mock.root,
        "signingConfig": {
            "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
            "caUrls": service(1), "oidcUrls": [], "rekorTlogUrls": service(1), "tsaUrls": [],
            "rekorTlogConfig": {"selector": "ANY"}, "tsaConfig": {"selector": "ANY"},
        },
    }))
    .unwrap()
}

fn policy(identity: &str) -> IdentityPolicy {
    IdentityPolicy {
        identity: Matcher::Exact(identity.into()),
        issuer: Matcher::Exact(ISSUER.into()),
        github: GithubExpectations::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigil_signs_a_blob_against_sigstore_mock_and_verifies_with_its_root() {
    let mock = tokio::task::spawn_blocking(start_mock).await.unwrap();
    let http = reqwest::Client::new();
    let artifact = b"artifact signed against @sigstore/mock\n";
    let signer = Signer::Keyless {
        fulcio_url: mock.base.clone(),
        token: token(),
    };
    let bundle = sign_blob(&http, artifact, &signer, &mock.base)
        .await
        .expect("sign against the mock");
    // Through JSON, as a file on disk would go.
    let bundle = Bundle::from_json(&bundle.to_json()).unwrap();

    let verify = |signer: &BundleSigner, root: &TrustedRoot| {
        verify_bundle(
            &bundle,
            Artifact::Bytes(artifact),
            signer,
            root,
            TlogPolicy::Required,
            SctPolicy::Required,
        )
    };
    let ok = verify(&BundleSigner::Identity(policy(SUBJECT)), &mock.root)
        .expect("sigil verifies its bundle with the mock's trusted root");
    assert_eq!(ok.timestamps.len(), 1, "the mock log's SET gives the time");

    // sigstore-python 4.5 verifies the same bundle offline with the mock's root.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("artifact"), artifact).unwrap();
    std::fs::write(dir.path().join("bundle.json"), bundle.to_json()).unwrap();
    std::fs::write(
        dir.path().join("trust_config.json"),
        client_trust_config(&mock),
    )
    .unwrap();
    let python = |identity: &str| {
        Command::new(venv_bin("sigstore"))
            .current_dir(dir.path())
            .args([
                "--trust-config",
                "trust_config.json",
                "verify",
                "identity",
                "--offline",
            ])
            .args(["--bundle", "bundle.json", "--cert-identity", identity])
            .args(["--cert-oidc-issuer", ISSUER, "artifact"])
            .output()
            .unwrap()
    };
    let out = python(SUBJECT);
    assert!(
        out.status.success(),
        "sigstore-python rejects sigil's bundle: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !python("https://github.com/attacker/x/.github/workflows/y.yml@refs/heads/main")
            .status
            .success()
    );

    // Another identity fails on the identity check.
    let err = verify(
        &BundleSigner::Identity(policy(
            "https://github.com/attacker/repo/.github/workflows/x.yml@refs/heads/main",
        )),
        &mock.root,
    )
    .unwrap_err();
    assert!(matches!(err, Failure::Identity { .. }), "{err}");

    // Another deployment's root (fresh CA, CT and log keys) rejects it.
    let other = tokio::task::spawn_blocking(start_mock).await.unwrap();
    let err = verify(&BundleSigner::Identity(policy(SUBJECT)), &other.root).unwrap_err();
    assert!(matches!(err, Failure::Tlog { .. }), "{err}");
    // Even with the first log trusted, the certificate must chain to a trusted CA.
    let mut mixed = other.root.clone();
    mixed.tlogs = mock.root.tlogs.clone();
    mixed.ctlogs = mock.root.ctlogs.clone();
    let err = verify(&BundleSigner::Identity(policy(SUBJECT)), &mixed).unwrap_err();
    assert!(matches!(err, Failure::Certificate { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigil_signs_an_image_against_sigstore_mock_and_verifies_with_its_root() {
    let mock = tokio::task::spawn_blocking(start_mock).await.unwrap();
    let reg = tokio::task::spawn_blocking(start_distribution)
        .await
        .unwrap();
    let c = client();
    let name = format!("{}/interop/mock:v1", reg.addr);
    let digest = push_image(&c, &name, b"mock").await;
    let image: ImageRef = name.parse().unwrap();
    let options = SignOptions {
        annotations: BTreeMap::new(),
        tlog: TlogUpload::Enabled {
            rekor_url: mock.base.clone(),
        },
        signature_repository: None,
    };
    let signer = Signer::Keyless {
        fulcio_url: mock.base.clone(),
        token: token(),
    };
    sign_image(&c, &image, &digest, &signer, &options)
        .await
        .expect("keyless image signing against the mock");

    let layers = fetch_layers(&c, &image, &digest, Attachment::Signature)
        .await
        .unwrap()
        .unwrap();
    let candidates: Vec<SignatureCandidate> = layers
        .iter()
        .map(|l| SignatureCandidate {
            payload: l.payload.to_vec(),
            signature_b64: l.signature_b64().map(str::to_owned),
            certificate_pem: l.certificate().map(str::to_owned),
            chain_pem: l.chain().map(str::to_owned),
            rekor_bundle: l.bundle().map(str::to_owned),
        })
        .collect();
    let verify = |identity: &str, root: &TrustedRoot| {
        let policy = ImagePolicy {
            trust: Trust::Keyless {
                identity: policy(identity),
                sct: SctPolicy::Required,
            },
            tlog: TlogPolicy::Required,
            trusted_root: Some(Arc::new(root.clone())),
            annotations: BTreeMap::new(),
        };
        verify_candidates(&image, &digest, candidates.clone(), &policy)
    };
    let verdict = verify(SUBJECT, &mock.root);
    assert!(verdict.is_verified(), "{:?}", verdict.error_message());
    let verdict = verify(
        "https://github.com/attacker/x/.github/workflows/y.yml@refs/heads/main",
        &mock.root,
    );
    assert!(!verdict.is_verified());
    assert!(
        verdict
            .error_message()
            .unwrap()
            .contains("none of the expected identities matched"),
        "{:?}",
        verdict.error_message()
    );
}

/// sigstore-js 4 signs against the same mock, with an RFC 3161 timestamp from the mock TSA;
/// sigil verifies its bundle (v0.2, Rekor v1 entry, signed timestamp) with the mock's root.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigstore_js_bundle_with_mock_tsa_timestamp_verifies_in_sigil() {
    let mock = tokio::task::spawn_blocking(start_mock).await.unwrap();
    let modules = peers_venv().join("npm/node_modules");
    assert!(
        modules.join("sigstore/package.json").exists(),
        "sigstore-js is not installed in {}: run scripts/install-peers.sh",
        modules.display()
    );
    let dir = tempfile::tempdir().unwrap();
    let artifact = dir.path().join("artifact.txt");
    std::fs::write(&artifact, b"signed by sigstore-js\n").unwrap();
    let out = dir.path().join("bundle.json");
    let status = Command::new(system_bin("node"))
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/js-sign.js"))
        .arg(&mock.base)
        .arg(&artifact)
        .arg(&out)
        .arg(token())
        .env("NODE_PATH", &modules)
        .status()
        .unwrap();
    assert!(
        status.success(),
        "sigstore-js could not sign against the mock"
    );
    let bundle = Bundle::from_json(&std::fs::read(&out).unwrap()).unwrap();
    let stamps = bundle
        .verification_material
        .timestamp_verification_data
        .as_ref()
        .map_or(0, |t| t.rfc3161_timestamps.len());
    assert_eq!(stamps, 1, "sigstore-js asked the mock TSA for a timestamp");
    let data = std::fs::read(&artifact).unwrap();
    let verify = |root: &TrustedRoot| {
        verify_bundle(
            &bundle,
            Artifact::Bytes(&data),
            &BundleSigner::Identity(policy(SUBJECT)),
            root,
            TlogPolicy::Required,
            SctPolicy::Required,
        )
    };
    let ok = verify(&mock.root).expect("sigil verifies sigstore-js's bundle");
    assert_eq!(ok.timestamps.len(), 1);
    assert_eq!(ok.signed_timestamps.len(), 1, "the TSA timestamp verified");

    // The timestamp must come from a trusted TSA: with the TSA's certificates replaced by
    // another instance's, the bundle fails on its timestamp.
    let other = tokio::task::spawn_blocking(start_mock).await.unwrap();
    let mut root = mock.root.clone();
    root.timestamp_authorities = other.root.timestamp_authorities.clone();
    let err = verify(&root).unwrap_err();
    assert!(matches!(err, Failure::Timestamp { .. }), "{err}");
}
