//! skopeo (containers/image, Debian's 1.9) copies an image with its cosign `.sig` attachment
//! from one registry to another; sigil verifies the copy. skopeo parses and rewrites the
//! signature manifest independently of sigil, so this checks our layout is the standard one.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

use sigil_testkit::image::{client, push_image};
use sigil_testkit::{run_ok, start_distribution, system_bin};

#[test]
fn skopeo_carries_sigils_signature_between_registries() {
    let src = start_distribution();
    let dst = start_distribution();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let image = format!("{}/lab/app:v1", src.addr);
    let digest = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(push_image(&client(), &image, b"copied"));
    let sigil = |args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_sigil"));
        c.current_dir(d).env("COSIGN_PASSWORD", "pw").args(args);
        c
    };
    run_ok(&mut sigil(&["generate-key-pair"]));
    run_ok(&mut sigil(&[
        "sign",
        "--key",
        "cosign.key",
        "--tlog-upload=false",
        &format!("{}/lab/app@{digest}", src.addr),
    ]));

    let regd = d.join("registries.d");
    std::fs::create_dir_all(&regd).unwrap();
    std::fs::write(
        regd.join("sigil.yaml"),
        format!("docker:\n  {}:\n    use-sigstore-attachments: true\n  {}:\n    use-sigstore-attachments: true\n", src.addr, dst.addr),
    )
    .unwrap();
    std::fs::write(
        d.join("policy.json"),
        r#"{"default":[{"type":"insecureAcceptAnything"}]}"#,
    )
    .unwrap();
    let copied = format!("{}/mirror/app:v1", dst.addr);
    run_ok(
        Command::new(system_bin("skopeo"))
            .arg("--registries.d")
            .arg(&regd)
            .arg("--policy")
            .arg(d.join("policy.json"))
            .args(["copy", "--src-tls-verify=false", "--dest-tls-verify=false"])
            .arg(format!("docker://{image}"))
            .arg(format!("docker://{copied}")),
    );
    let out = run_ok(&mut sigil(&[
        "verify",
        "--key",
        "cosign.pub",
        "--insecure-ignore-tlog",
        &copied,
    ]));
    let payloads: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        payloads[0]["critical"]["image"]["docker-manifest-digest"],
        digest.to_string()
    );
    // The signature names the original repository; cosign does not check it, nor do we.
    assert_eq!(
        payloads[0]["critical"]["identity"]["docker-reference"],
        format!("{}/lab/app", src.addr)
    );
}
