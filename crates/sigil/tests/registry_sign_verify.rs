//! The sigil client against sigil's own registry, as against docker-registry: push with
//! skopeo, `sigil sign --key` (cosign's `.sig` tag layout), `sigil verify --key`. The
//! transparency log is switched off because these tests run offline; the log's own tests
//! cover it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output};

use sigil_testkit::registry::{
    http, layout_image, layout_index, permissive_policy, start_sigil_registry,
};
use sigil_testkit::{run_ok, system_bin};

#[path = "support/cli.rs"]
mod cli;
use cli::ok;

/// `sigil ARGS` in `dir`, with no stack environment.
fn sigil(dir: &Path, args: &[&str]) -> Output {
    cli::sigil(dir, &[], args)
}

#[test]
fn sigil_signs_and_verifies_against_sigil_registry() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let reg = start_sigil_registry(Path::new(env!("CARGO_BIN_EXE_sigil")), &d.join("root"), &[]);
    let layout = d.join("layout");
    let (digest, size, _) = layout_image(&layout, "amd64", &[b"signed layer".to_vec()]);
    layout_index(
        &layout,
        &[(
            "application/vnd.oci.image.manifest.v1+json",
            &digest,
            size,
            "v1",
        )],
    );
    let policy = permissive_policy(d);
    run_ok(
        Command::new(system_bin("skopeo"))
            .arg("--policy")
            .arg(&policy)
            .args(["copy", "--preserve-digests", "--dest-tls-verify=false"])
            .arg(format!("oci:{}:v1", layout.display()))
            .arg(format!("docker://{}/lab/app:v1", reg.addr)),
    );
    let image = format!("{}/lab/app@{digest}", reg.addr);

    ok(sigil(d, &["generate-key-pair"]));
    ok(sigil(
        d,
        &[
            "sign",
            "--key",
            "cosign.key",
            "--tlog-upload=false",
            "-y",
            &image,
        ],
    ));
    let tag = format!("sha256-{}.sig", digest.trim_start_matches("sha256:"));
    let sig = http(
        &reg.addr,
        "GET",
        &format!("/v2/lab/app/manifests/{tag}"),
        &[],
        b"",
    )
    .unwrap();
    assert_eq!(sig.status, 200, "the signature is stored in cosign's tag");

    let verified = ok(sigil(
        d,
        &[
            "verify",
            "--key",
            "cosign.pub",
            "--insecure-ignore-tlog",
            &image,
        ],
    ));
    let out = String::from_utf8_lossy(&verified.stdout);
    assert!(out.contains(&digest), "{out}");

    // Another key does not verify.
    let other = d.join("other");
    std::fs::create_dir_all(&other).unwrap();
    ok(sigil(&other, &["generate-key-pair"]));
    let wrong = sigil(
        d,
        &[
            "verify",
            "--key",
            "other/cosign.pub",
            "--insecure-ignore-tlog",
            &image,
        ],
    );
    assert!(
        !wrong.status.success(),
        "a signature by another key must not verify"
    );
}
