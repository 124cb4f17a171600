//! Lab Exercise 1 end to end through the `sigil` binary, against Debian's docker-registry
//! (distribution 2.8): generate a key pair, sign by digest, verify, and every failure the lab
//! and cosign users meet, with cosign's exit codes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output};

use sigil_testkit::image::{client, push_image};
use sigil_testkit::{start_distribution, start_distribution_at};

#[path = "support/cli.rs"]
mod cli;
use cli::{ok, text};

/// `sigil ARGS` in `dir`, with no stack environment.
fn sigil(dir: &Path, args: &[&str]) -> Output {
    cli::sigil(dir, &[], args)
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn exercise_one_against_distribution() {
    let reg = start_distribution();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let repo = format!("{}/lab/cosign-lab", reg.addr);
    let (signed, unsigned, other) = rt().block_on(async {
        let c = client();
        (
            push_image(&c, &format!("{repo}:v1"), b"signed").await,
            push_image(&c, &format!("{repo}:v0.1.0"), b"unsigned").await,
            push_image(&c, &format!("{}/lab/other:v1", reg.addr), b"other").await,
        )
    });

    ok(sigil(d, &["generate-key-pair"]));
    assert!(d.join("cosign.key").exists() && d.join("cosign.pub").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(d.join("cosign.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "cosign.key must be private");
    }
    let refuse = sigil(d, &["generate-key-pair"]);
    assert_ne!(
        code(&refuse),
        0,
        "an existing key is never overwritten silently"
    );

    // Signing by tag warns and signs the digest.
    let by_tag = ok(sigil(
        d,
        &[
            "sign",
            "--key",
            "cosign.key",
            "--tlog-upload=false",
            "-y",
            &format!("{repo}:v1"),
        ],
    ));
    let stderr = String::from_utf8_lossy(&by_tag.stderr);
    assert!(
        stderr.contains("WARNING") && stderr.contains(&signed.to_string()),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("sha256-{}.sig", signed.hex())),
        "{stderr}"
    );

    // Verify: cosign's header and checks on stderr, the payload array on stdout.
    let v = ok(sigil(
        d,
        &[
            "verify",
            "--key",
            "cosign.pub",
            "--insecure-ignore-tlog",
            &format!("{repo}:v1"),
        ],
    ));
    let stderr = String::from_utf8_lossy(&v.stderr);
    assert!(
        stderr.contains(&format!("Verification for {repo}:v1 --")),
        "{stderr}"
    );
    assert!(stderr.contains("  - The cosign claims were validated"));
    assert!(stderr.contains("  - The signatures were verified against the specified public key"));
    let payloads: serde_json::Value = serde_json::from_slice(&v.stdout).unwrap();
    assert_eq!(
        payloads[0]["critical"]["image"]["docker-manifest-digest"],
        signed.to_string()
    );
    assert_eq!(
        payloads[0]["critical"]["identity"]["docker-reference"],
        repo
    );
    assert_eq!(
        payloads[0]["critical"]["type"],
        "cosign container image signature"
    );
    assert_eq!(payloads[0]["optional"], serde_json::Value::Null);

    // The log is required unless ignored: fail closed, exit 12, say how.
    let v = sigil(d, &["verify", "--key", "cosign.pub", &format!("{repo}:v1")]);
    assert_eq!(code(&v), 12, "{}", text(&v));
    assert!(
        String::from_utf8_lossy(&v.stderr).contains("transparency log"),
        "{}",
        text(&v)
    );

    // Unsigned image: exit 10, "no signatures found".
    let v = sigil(
        d,
        &[
            "verify",
            "--key",
            "cosign.pub",
            "--insecure-ignore-tlog",
            &format!("{repo}:v0.1.0"),
        ],
    );
    assert_eq!(code(&v), 10, "{}", text(&v));
    assert!(String::from_utf8_lossy(&v.stderr).contains("no signatures found"));

    // Missing tag: exit 11.
    let v = sigil(
        d,
        &[
            "verify",
            "--key",
            "cosign.pub",
            "--insecure-ignore-tlog",
            &format!("{repo}:nope"),
        ],
    );
    assert_eq!(code(&v), 11, "{}", text(&v));
    assert!(String::from_utf8_lossy(&v.stderr).contains("image tag not found"));

    // Wrong key: exit 12, "no matching signatures".
    ok(sigil(
        d,
        &["generate-key-pair", "--output-key-prefix", "other"],
    ));
    let v = sigil(
        d,
        &[
            "verify",
            "--key",
            "other.pub",
            "--insecure-ignore-tlog",
            &format!("{repo}:v1"),
        ],
    );
    assert_eq!(code(&v), 12, "{}", text(&v));
    assert!(String::from_utf8_lossy(&v.stderr).contains("no matching signatures"));

    // Annotations: signed ones verify, missing ones fail.
    let pinned = format!("{repo}@{signed}");
    ok(sigil(
        d,
        &[
            "sign",
            "--key",
            "cosign.key",
            "--tlog-upload=false",
            "-a",
            "env=lab",
            &pinned,
        ],
    ));
    ok(sigil(
        d,
        &[
            "verify",
            "--key",
            "cosign.pub",
            "--insecure-ignore-tlog",
            "-a",
            "env=lab",
            &pinned,
        ],
    ));
    let v = sigil(
        d,
        &[
            "verify",
            "--key",
            "cosign.pub",
            "--insecure-ignore-tlog",
            "-a",
            "env=prod",
            &pinned,
        ],
    );
    assert_eq!(code(&v), 12, "{}", text(&v));
    assert!(String::from_utf8_lossy(&v.stderr).contains("missing or incorrect annotation"));

    // Signing twice keeps both signatures; the same signature again is not duplicated.
    let v = ok(sigil(
        d,
        &[
            "verify",
            "--key",
            "cosign.pub",
            "--insecure-ignore-tlog",
            &pinned,
        ],
    ));
    let payloads: serde_json::Value = serde_json::from_slice(&v.stdout).unwrap();
    assert_eq!(
        payloads.as_array().unwrap().len(),
        2,
        "both signatures are kept"
    );

    // Replay: copy the signed image's .sig onto another image: its payload names another digest.
    let sig_tag = format!("sha256-{}.sig", signed.hex());
    rt().block_on(async {
        let c = client();
        let src: sigil_core::ImageRef = format!("{repo}:{sig_tag}").parse().unwrap();
        let m = c.get_manifest(&src).await.unwrap();
        let parsed: sigil_oci::ImageManifest = serde_json::from_slice(&m.bytes).unwrap();
        let dst: sigil_core::ImageRef = format!("{}/lab/other:v1", reg.addr).parse().unwrap();
        for l in parsed.layers.iter().chain([&parsed.config]) {
            let b = c.get_blob(&src, &l.digest).await.unwrap();
            c.push_blob(&dst, &l.digest, b).await.unwrap();
        }
        c.put_manifest(
            &dst,
            &format!("sha256-{}.sig", other.hex()),
            m.bytes,
            &m.media_type,
        )
        .await
        .unwrap();
    });
    let v = sigil(
        d,
        &[
            "verify",
            "--key",
            "cosign.pub",
            "--insecure-ignore-tlog",
            &format!("{}/lab/other:v1", reg.addr),
        ],
    );
    assert_eq!(code(&v), 12, "{}", text(&v));
    assert!(
        String::from_utf8_lossy(&v.stderr).contains("invalid or missing digest in claim"),
        "{}",
        text(&v)
    );

    // A wrong password is reported as such and signs nothing.
    let v = Command::new(env!("CARGO_BIN_EXE_sigil"))
        .current_dir(d)
        .env("COSIGN_PASSWORD", "wrong")
        .args([
            "sign",
            "--key",
            "cosign.key",
            "--tlog-upload=false",
            &format!("{repo}@{unsigned}"),
        ])
        .output()
        .unwrap();
    assert_eq!(code(&v), 1, "{}", text(&v));
    assert!(
        String::from_utf8_lossy(&v.stderr).contains("wrong password"),
        "{}",
        text(&v)
    );
    let v = sigil(
        d,
        &[
            "verify",
            "--key",
            "cosign.pub",
            "--insecure-ignore-tlog",
            &format!("{repo}:v0.1.0"),
        ],
    );
    assert_eq!(code(&v), 10);

    // With the log unreachable, signing fails naming the log, and writes nothing.
    let closed = format!("http://127.0.0.1:{}", sigil_testkit::free_port());
    let v = sigil(
        d,
        &[
            "sign",
            "--key",
            "cosign.key",
            "--rekor-url",
            &closed,
            &format!("{repo}@{unsigned}"),
        ],
    );
    assert_eq!(code(&v), 1, "{}", text(&v));
    assert!(
        String::from_utf8_lossy(&v.stderr).contains("transparency log"),
        "{}",
        text(&v)
    );
    let v = sigil(
        d,
        &[
            "verify",
            "--key",
            "cosign.pub",
            "--insecure-ignore-tlog",
            &format!("{repo}:v0.1.0"),
        ],
    );
    assert_eq!(code(&v), 10, "nothing was attached: {}", text(&v));
}

#[test]
fn bad_key_files_and_unreachable_registries_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("junk.key"),
        "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nAAAA\n",
    )
    .unwrap();
    std::fs::write(d.join("junk.pub"), "not a key").unwrap();
    let v = sigil(d, &["public-key", "--key", "junk.key"]);
    assert_eq!(code(&v), 1, "{}", text(&v));
    assert!(
        String::from_utf8_lossy(&v.stderr).starts_with("error: loading private key `junk.key`"),
        "{}",
        text(&v)
    );
    // Nothing listens on this port: a transport error, exit 1, no panic.
    let port = sigil_testkit::free_port();
    let v = sigil(
        d,
        &[
            "verify",
            "--key",
            "junk.pub",
            &format!("127.0.0.1:{port}/a/b:v1"),
        ],
    );
    assert_eq!(code(&v), 1, "{}", text(&v));
    assert!(
        String::from_utf8_lossy(&v.stderr).contains("loading public key"),
        "{}",
        text(&v)
    );
    ok(sigil(d, &["generate-key-pair"]));
    let v = sigil(
        d,
        &[
            "verify",
            "--key",
            "cosign.pub",
            "--insecure-ignore-tlog",
            &format!("127.0.0.1:{port}/a/b:v1"),
        ],
    );
    assert_eq!(code(&v), 1, "{}", text(&v));
    assert!(
        String::from_utf8_lossy(&v.stderr).contains(&format!("127.0.0.1:{port}")),
        "{}",
        text(&v)
    );
    // public-key prints the PEM.
    let v = ok(sigil(d, &["public-key", "--key", "cosign.key"]));
    assert_eq!(
        String::from_utf8_lossy(&v.stdout),
        std::fs::read_to_string(d.join("cosign.pub")).unwrap()
    );
}

#[test]
fn a_failed_push_leaves_the_existing_signature_intact() {
    let data = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ok(sigil(d, &["generate-key-pair"]));
    let image_ref;
    {
        let reg = start_distribution_at(data.path(), false);
        let repo = format!("{}/lab/app", reg.addr);
        let digest = rt().block_on(push_image(&client(), &format!("{repo}:v1"), b"app"));
        ok(sigil(
            d,
            &[
                "sign",
                "--key",
                "cosign.key",
                "--tlog-upload=false",
                &format!("{repo}@{digest}"),
            ],
        ));
        image_ref = format!("lab/app@{digest}");
    }
    {
        // Same storage, now refusing writes: the second signature cannot be pushed.
        let reg = start_distribution_at(data.path(), true);
        let v = sigil(
            d,
            &[
                "sign",
                "--key",
                "cosign.key",
                "--tlog-upload=false",
                "-a",
                "n=2",
                &format!("{}/{image_ref}", reg.addr),
            ],
        );
        assert_ne!(code(&v), 0, "{}", text(&v));
        let v = ok(sigil(
            d,
            &[
                "verify",
                "--key",
                "cosign.pub",
                "--insecure-ignore-tlog",
                &format!("{}/{image_ref}", reg.addr),
            ],
        ));
        let payloads: serde_json::Value = serde_json::from_slice(&v.stdout).unwrap();
        assert_eq!(
            payloads.as_array().unwrap().len(),
            1,
            "the first signature is still there, alone"
        );
    }
}
