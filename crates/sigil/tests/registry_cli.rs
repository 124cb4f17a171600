//! `sigil registry serve` as a user runs it: the address line, the exposure policy, TLS with
//! htpasswd basic auth (checked with curl and skopeo), and clear failures on bad input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sigil_testkit::registry::{
    layout_image, layout_index, permissive_policy, start_sigil_registry,
};
use sigil_testkit::{run_ok, system_bin};

fn sigil() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_sigil"))
}

fn testdata(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../sigil-registry/testdata")
        .join(name)
}

/// Runs sigil expecting it to exit by itself (within 20 s) with a failure.
fn run_failing(args: &[&str]) -> String {
    let mut child = Command::new(sigil())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            assert!(!status.success(), "sigil {args:?} should fail");
            return String::from_utf8_lossy(&out.stderr).into_owned();
        }
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("sigil {args:?} kept running: it should have refused to start");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn refuses_a_public_bind_without_auth_and_tls() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let err = run_failing(&[
        "registry",
        "serve",
        "--addr",
        "0.0.0.0:0",
        "--root",
        root.to_str().unwrap(),
    ]);
    assert!(err.contains("refusing to serve 0.0.0.0:0"), "{err}");
    assert!(
        err.contains("--insecure-public"),
        "the message says how to proceed: {err}"
    );
    // Credentials alone are not enough: basic auth in clear text would leak them.
    let htpasswd = testdata("htpasswd");
    let err = run_failing(&[
        "registry",
        "serve",
        "--addr",
        "0.0.0.0:0",
        "--root",
        root.to_str().unwrap(),
        "--htpasswd",
        htpasswd.to_str().unwrap(),
    ]);
    assert!(err.contains("refusing"), "{err}");
}

#[test]
fn bad_configuration_fails_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let err = run_failing(&[
        "registry",
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--root",
        file.to_str().unwrap(),
    ]);
    assert!(err.contains("error: starting the registry"), "{err}");
    let bad = tmp.path().join("htpasswd");
    std::fs::write(&bad, "lab:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n").unwrap();
    let root = tmp.path().join("root");
    let err = run_failing(&[
        "registry",
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--root",
        root.to_str().unwrap(),
        "--htpasswd",
        bad.to_str().unwrap(),
    ]);
    assert!(err.contains("only bcrypt hashes are supported"), "{err}");
    let err = run_failing(&[
        "registry",
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--root",
        root.to_str().unwrap(),
        "--tls-cert",
        testdata("tls-cert.pem").to_str().unwrap(),
    ]);
    assert!(err.contains("--tls-key"), "{err}");
    let err = run_failing(&[
        "registry",
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--root",
        root.to_str().unwrap(),
        "--tls-cert",
        testdata("tls-key.pem").to_str().unwrap(),
        "--tls-key",
        testdata("tls-key.pem").to_str().unwrap(),
    ]);
    assert!(err.contains("TLS"), "{err}");
}

#[test]
fn tls_and_basic_auth_with_curl_and_skopeo() {
    let tmp = tempfile::tempdir().unwrap();
    let reg = start_sigil_registry(
        sigil(),
        &tmp.path().join("root"),
        &[
            "--htpasswd",
            testdata("htpasswd").to_str().unwrap(),
            "--tls-cert",
            testdata("tls-cert.pem").to_str().unwrap(),
            "--tls-key",
            testdata("tls-key.pem").to_str().unwrap(),
        ],
    );
    let cert = testdata("tls-cert.pem");
    let url = format!("https://{}/v2/", reg.addr);
    let curl = |extra: &[&str]| {
        run_ok(
            Command::new(system_bin("curl"))
                .args([
                    "-s",
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code} %header{www-authenticate}",
                    "--cacert",
                ])
                .arg(&cert)
                .args(extra)
                .arg(&url),
        )
    };
    let anonymous = curl(&[]);
    assert_eq!(anonymous, "401 Basic realm=\"sigil-registry\"");
    assert!(curl(&["-u", "lab:wrong"]).starts_with("401"));
    assert!(curl(&["-u", "lab:lab-password"]).starts_with("200"));

    // skopeo pushes over TLS with credentials, trusting the test CA through --dest-cert-dir.
    let certs = tmp.path().join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    std::fs::copy(&cert, certs.join("ca.crt")).unwrap();
    let layout = tmp.path().join("layout");
    let (digest, size, _) = layout_image(&layout, "amd64", &[b"layer over tls".to_vec()]);
    layout_index(
        &layout,
        &[(
            "application/vnd.oci.image.manifest.v1+json",
            &digest,
            size,
            "v1",
        )],
    );
    let policy = permissive_policy(tmp.path());
    let dest = format!("docker://{}/lab/tls:v1", reg.addr);
    run_ok(
        Command::new(system_bin("skopeo"))
            .arg("--policy")
            .arg(&policy)
            .args([
                "copy",
                "--preserve-digests",
                "--dest-creds",
                "lab:lab-password",
                "--dest-cert-dir",
            ])
            .arg(&certs)
            .arg(format!("oci:{}:v1", layout.display()))
            .arg(&dest),
    );
    let out = run_ok(
        Command::new(system_bin("skopeo"))
            .args([
                "inspect",
                "--raw",
                "--creds",
                "lab:lab-password",
                "--cert-dir",
            ])
            .arg(&certs)
            .arg(&dest),
    );
    assert_eq!(
        sigil_core::Digest::sha256(out.as_bytes()).to_string(),
        digest
    );
}
