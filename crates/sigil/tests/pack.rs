//! `sigil pack` against `sigil registry serve`: the same inputs give the same digest, a base
//! image's layers are reused by digest and its config inherited, and bad input (a missing
//! file, a destination leaving the root, an unknown base) fails with a clear message. And
//! `sigil pipeline`, which starts with a pack, on `sigil up`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use sigil_testkit::registry::{http, start_sigil_registry};

fn sigil() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_sigil"))
}

fn pack(args: &[&str], epoch: Option<&str>) -> Output {
    let mut cmd = Command::new(sigil());
    cmd.arg("pack").args(args);
    match epoch {
        Some(e) => cmd.env("SOURCE_DATE_EPOCH", e),
        None => cmd.env_remove("SOURCE_DATE_EPOCH"),
    };
    cmd.output().unwrap()
}

fn pack_ok(args: &[&str], epoch: Option<&str>) -> String {
    let out = pack(args, epoch);
    assert!(
        out.status.success(),
        "sigil pack {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn get_json(addr: &str, path: &str) -> Value {
    let r = http(
        addr,
        "GET",
        path,
        &[("Accept", "application/vnd.oci.image.manifest.v1+json")],
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 200, "{path}");
    serde_json::from_slice(&r.body).unwrap()
}

fn app_tree(dir: &Path) {
    std::fs::create_dir_all(dir.join("www")).unwrap();
    std::fs::write(dir.join("server"), "#!/bin/sh\necho hello\n").unwrap();
    std::fs::write(dir.join("www/index.html"), "<p>hello</p>").unwrap();
}

#[test]
fn same_inputs_give_the_same_digest() {
    let reg_dir = tempfile::tempdir().unwrap();
    let reg = start_sigil_registry(sigil(), reg_dir.path(), &[]);
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    app_tree(a.path());
    app_tree(b.path());
    let run = |dir: &Path, repo: &str, epoch: Option<&str>| {
        let server = format!("{}:/server", dir.join("server").display());
        let www = format!("{}:/srv/www", dir.join("www").display());
        let tag = format!("{}/{repo}:v1", reg.addr);
        pack_ok(
            &[
                "--file",
                &server,
                "--file",
                &www,
                "--entrypoint",
                "/server",
                "--expose",
                "8080",
                "--tag",
                &tag,
            ],
            epoch,
        )
    };
    let d1 = run(a.path(), "lab/one", Some("1700000000"));
    // Another copy of the files (other paths, other mtimes), another repository: same image.
    let d2 = run(b.path(), "lab/two", Some("1700000000"));
    assert!(d1.starts_with("sha256:"), "{d1}");
    assert_eq!(d1, d2);
    // SOURCE_DATE_EPOCH is honoured: another date is another image.
    let d3 = run(a.path(), "lab/three", Some("1600000000"));
    assert_ne!(d1, d3);
    let m = get_json(&reg.addr, &format!("/v2/lab/one/manifests/{d1}"));
    let config = m["config"]["digest"].as_str().unwrap();
    let c = get_json(&reg.addr, &format!("/v2/lab/one/blobs/{config}"));
    assert_eq!(c["created"], "2023-11-14T22:13:20Z");
    assert_eq!(c["config"]["Entrypoint"], serde_json::json!(["/server"]));
    assert_eq!(
        c["config"]["ExposedPorts"],
        serde_json::json!({"8080/tcp": {}})
    );
}

#[test]
fn a_base_image_is_reused_by_digest() {
    let reg_dir = tempfile::tempdir().unwrap();
    let reg = start_sigil_registry(sigil(), reg_dir.path(), &[]);
    let dir = tempfile::tempdir().unwrap();
    app_tree(dir.path());
    let www = format!("{}:/srv/www", dir.path().join("www").display());
    let base_tag = format!("{}/base/os:1", reg.addr);
    let base = pack_ok(
        &[
            "--file",
            &www,
            "--env",
            "PATH=/bin",
            "--cmd",
            "/bin/sh",
            "--tag",
            &base_tag,
        ],
        None,
    );
    let server = format!("{}:/server", dir.path().join("server").display());
    let app_tag = format!("{}/lab/app:v1", reg.addr);
    let app = pack_ok(
        &[
            "--base",
            &base_tag,
            "--file",
            &server,
            "--entrypoint",
            "/server",
            "--env",
            "MODE=lab",
            "--tag",
            &app_tag,
        ],
        None,
    );
    let bm = get_json(&reg.addr, &format!("/v2/base/os/manifests/{base}"));
    let am = get_json(&reg.addr, &format!("/v2/lab/app/manifests/{app}"));
    let layers = am["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2);
    assert_eq!(layers[0]["digest"], bm["layers"][0]["digest"]);
    // The base's layer is in the app's repository (mounted), so the image pulls whole.
    let blob = layers[0]["digest"].as_str().unwrap();
    let r = http(
        &reg.addr,
        "HEAD",
        &format!("/v2/lab/app/blobs/{blob}"),
        &[],
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 200);
    let config = am["config"]["digest"].as_str().unwrap();
    let c = get_json(&reg.addr, &format!("/v2/lab/app/blobs/{config}"));
    assert_eq!(
        c["config"]["Env"],
        serde_json::json!(["PATH=/bin", "MODE=lab"])
    );
    assert_eq!(c["config"]["Entrypoint"], serde_json::json!(["/server"]));
    // Docker's rule: a new ENTRYPOINT drops the inherited CMD.
    assert!(c["config"].get("Cmd").is_none(), "{c}");
    assert_eq!(c["rootfs"]["diff_ids"].as_array().unwrap().len(), 2);
}

#[test]
fn bad_input_fails_clearly() {
    let reg_dir = tempfile::tempdir().unwrap();
    let reg = start_sigil_registry(sigil(), reg_dir.path(), &[]);
    let dir = tempfile::tempdir().unwrap();
    app_tree(dir.path());
    let tag = format!("{}/lab/bad:v1", reg.addr);
    let server = dir.path().join("server").display().to_string();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["--file".into(), format!("{server}:../../etc/passwd")],
            "leaves the image's root",
        ),
        (
            vec!["--file".into(), format!("{server}:/usr/../../etc/passwd")],
            "leaves the image's root",
        ),
        (
            vec!["--file".into(), "/nonexistent/sigil-pack-src:/x".into()],
            "cannot read `/nonexistent/sigil-pack-src`",
        ),
        (
            vec![
                "--file".into(),
                format!("{server}:/server"),
                "--base".into(),
                format!("{}/no/such:base", reg.addr),
            ],
            "not found",
        ),
        (
            vec![
                "--file".into(),
                format!("{server}:/server"),
                "--expose".into(),
                "http".into(),
            ],
            "is not a port",
        ),
    ];
    for (args, want) in cases {
        let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
        all.extend(["--tag", &tag]);
        let out = pack(&all, None);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{all:?}: {stderr}");
        assert!(stderr.contains(want), "{all:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    // Nothing was pushed under the tag.
    let r = http(&reg.addr, "GET", "/v2/lab/bad/tags/list", &[], b"").unwrap();
    assert_ne!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

/// `sigil pipeline` with a key on `sigil up`: every stage passes and the JSON names the
/// digest and its `.sig`/`.att` tags; a wrong identity stops it at `verify` with cosign's 12.
#[test]
fn the_pipeline_signs_attests_and_verifies() {
    let state = tempfile::tempdir().unwrap();
    let stack = sigil_testkit::stack::Stack::up(sigil(), &state.path().join("stack"));
    let dir = tempfile::tempdir().unwrap();
    app_tree(dir.path());
    let run = |args: &[&str]| {
        Command::new(sigil())
            .current_dir(dir.path())
            .envs(stack.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("COSIGN_PASSWORD", "pipeline")
            .args(args)
            .output()
            .unwrap()
    };
    assert!(run(&["generate-key-pair"]).status.success());
    let server = format!("{}:/server", dir.path().join("server").display());
    let tag = format!("{}/lab/pipeline:v1", stack.get("SIGIL_REGISTRY"));
    let out = run(&[
        "pipeline",
        "--file",
        &server,
        "--entrypoint",
        "/server",
        "--tag",
        &tag,
        "--key",
        "cosign.key",
        "--output",
        "json",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["ok"], true);
    let digest = v["digest"].as_str().unwrap();
    let hex = digest.strip_prefix("sha256:").unwrap();
    assert_eq!(
        v["signature"],
        format!(
            "{}/lab/pipeline:sha256-{hex}.sig",
            stack.get("SIGIL_REGISTRY")
        )
    );
    let stages: Vec<&str> = v["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        stages,
        [
            "pack",
            "sign",
            "sbom",
            "attest",
            "verify",
            "verify-attestation"
        ]
    );
    assert!(v["sbom"]["bytes"].as_u64().unwrap() > 100);

    // Keyless signing with the workflow's token, verified against another identity: the
    // pipeline stops at `verify` with cosign's exit code.
    let ci = stack.workflow_env(
        sigil(),
        "owner/cosign-lab",
        ".github/workflows/sign.yml",
        "refs/tags/v1",
    );
    let out = Command::new(sigil())
        .current_dir(dir.path())
        .envs(ci.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .args([
            "pipeline",
            "--file",
            &server,
            "--tag",
            &tag,
            "--certificate-identity",
            "https://github.com/attacker/repo/.github/workflows/x.yml@refs/tags/v1",
            "--certificate-oidc-issuer",
            "https://token.actions.githubusercontent.com",
            "--output",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(12),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["failedStage"], "verify");

    // Keyless with every setting given as a flag and none in the environment: an email token
    // from the stack's issuer, its CA and log, its trust config.
    let token = Command::new(sigil())
        .args(["oidc", "token", "--email", "dev@example.com", "--data-dir"])
        .arg(state.path().join("stack").join("oidc-email"))
        .output()
        .unwrap();
    assert!(token.status.success(), "{token:?}");
    let token = String::from_utf8_lossy(&token.stdout).trim().to_owned();
    let trust_config = stack.get("SIGIL_TRUST_CONFIG");
    let (fulcio, rekor) = (stack.get("SIGIL_FULCIO_URL"), stack.get("SIGIL_REKOR_URL"));
    let issuer = stack.get("SIGIL_OIDC_EMAIL_URL");
    let out = Command::new(sigil())
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .args(["pipeline", "--file", &server, "--tag", &tag])
        .args(["--identity-token", &token, "--trust-config", &trust_config])
        .args(["--fulcio-url", &fulcio, "--rekor-url", &rekor])
        .args(["--certificate-identity", "dev@example.com"])
        .args(["--certificate-oidc-issuer", &issuer, "--output", "json"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["ok"], true);
}
