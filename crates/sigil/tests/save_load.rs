//! `sigil save` / `sigil load` (cosign's `save` / `load`): an image with its signature goes
//! from a registry into an OCI layout and back into another registry, on sigil's registry and
//! on Debian's docker-registry; skopeo reads the saved layout; a multi-arch index survives the
//! round trip; bad layouts are refused with an error naming the problem.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output};

use sigil_testkit::image::{client, push_image};
use sigil_testkit::registry::{
    layout_blob, layout_image, layout_index, permissive_policy, start_sigil_registry,
};
use sigil_testkit::{run_ok, start_distribution, system_bin, Peer};

fn sigil(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sigil"));
    c.current_dir(dir)
        .env("COSIGN_PASSWORD", "pw")
        .env_remove("COSIGN_REPOSITORY")
        .args(args);
    c
}

fn fails(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(!out.status.success(), "expected failure, got {out:?}");
    out
}

fn sigil_registry(root: &Path) -> Peer {
    start_sigil_registry(Path::new(env!("CARGO_BIN_EXE_sigil")), root, &[])
}

fn index_json(layout: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap()
}

/// Push and sign an image on `src`, save it, load it into `dst` under another name, verify
/// the signature there. Returns the saved layout's directory.
fn round_trip(src: &str, dst: &str, work: &Path) -> std::path::PathBuf {
    let image = format!("{src}/lab/app:v1");
    let digest = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(push_image(&client(), &image, b"saved and loaded"));
    run_ok(&mut sigil(work, &["generate-key-pair"]));
    run_ok(&mut sigil(
        work,
        &[
            "sign",
            "--key",
            "cosign.key",
            "--tlog-upload=false",
            &format!("{src}/lab/app@{digest}"),
        ],
    ));
    let layout = work.join("layout");
    run_ok(&mut sigil(
        work,
        &["save", "--dir", layout.to_str().unwrap(), &image],
    ));
    let index = index_json(&layout);
    let entries = index["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{index}");
    assert_eq!(entries[0]["digest"], digest.to_string());
    assert_eq!(
        entries[0]["annotations"]["kind"],
        "dev.cosignproject.cosign/image"
    );
    assert_eq!(
        entries[0]["annotations"]["org.opencontainers.image.ref.name"],
        "v1"
    );
    assert_eq!(
        entries[1]["annotations"]["kind"],
        "dev.cosignproject.cosign/sigs"
    );

    let copied = format!("{dst}/mirror/app:v2");
    run_ok(&mut sigil(
        work,
        &["load", "--dir", layout.to_str().unwrap(), &copied],
    ));
    let out = run_ok(&mut sigil(
        work,
        &[
            "verify",
            "--key",
            "cosign.pub",
            "--insecure-ignore-tlog",
            &copied,
        ],
    ));
    let payloads: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        payloads[0]["critical"]["image"]["docker-manifest-digest"],
        digest.to_string()
    );
    // A second load sends no blob again (the registry has them all).
    let out = sigil(work, &["load", "--dir", layout.to_str().unwrap(), &copied])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("(0 uploaded, 0 bytes)"), "{stderr}");
    layout
}

#[test]
fn round_trip_on_sigils_registry_and_skopeo_reads_the_layout() {
    let work = tempfile::tempdir().unwrap();
    let src = sigil_registry(&work.path().join("src"));
    let dst = sigil_registry(&work.path().join("dst"));
    let layout = round_trip(&src.addr, &dst.addr, work.path());

    // skopeo (containers/image) reads the image out of the saved layout by its tag.
    let policy = permissive_policy(work.path());
    let copy = work.path().join("skopeo-copy");
    run_ok(
        Command::new(system_bin("skopeo"))
            .arg("--policy")
            .arg(&policy)
            .args(["copy", "--preserve-digests"])
            .arg(format!("oci:{}:v1", layout.display()))
            .arg(format!("oci:{}:v1", copy.display())),
    );
    let saved = index_json(&layout)["manifests"][0]["digest"].clone();
    assert_eq!(index_json(&copy)["manifests"][0]["digest"], saved);

    // A corrupted layer is refused before anything is pushed, naming the file.
    let index = index_json(&layout);
    let manifest_digest = index["manifests"][0]["digest"].as_str().unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(layout.join("blobs/sha256").join(&manifest_digest[7..])).unwrap(),
    )
    .unwrap();
    let layer = manifest["layers"][0]["digest"].as_str().unwrap();
    let layer_path = layout.join("blobs/sha256").join(&layer[7..]);
    let mut bytes = std::fs::read(&layer_path).unwrap();
    bytes[0] ^= 0xff;
    std::fs::write(&layer_path, bytes).unwrap();
    let out = fails(&mut sigil(
        work.path(),
        &[
            "load",
            "--dir",
            layout.to_str().unwrap(),
            &format!("{}/corrupt/app:v1", dst.addr),
        ],
    ));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("does not match its digest"), "{stderr}");
    assert!(stderr.contains(&layer[7..]), "{stderr}");
    // …and nothing was tagged.
    let out = fails(&mut sigil(
        work.path(),
        &[
            "save",
            "--dir",
            work.path().join("none").to_str().unwrap(),
            &format!("{}/corrupt/app:v1", dst.addr),
        ],
    ));
    assert_eq!(out.status.code(), Some(11), "{out:?}");

    // Saving again over the corrupted layout replaces the bad file.
    run_ok(&mut sigil(
        work.path(),
        &[
            "save",
            "--dir",
            layout.to_str().unwrap(),
            &format!("{}/lab/app:v1", src.addr),
        ],
    ));
    run_ok(&mut sigil(
        work.path(),
        &[
            "load",
            "--dir",
            layout.to_str().unwrap(),
            &format!("{}/fixed/app:v1", dst.addr),
        ],
    ));

    // A missing directory and a directory that is no layout.
    let out = fails(&mut sigil(
        work.path(),
        &[
            "load",
            "--dir",
            "/nonexistent/layout",
            &format!("{}/x/y:v1", dst.addr),
        ],
    ));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("/nonexistent/layout/oci-layout"),
        "{stderr}"
    );
    let out = fails(&mut sigil(
        work.path(),
        &[
            "load",
            "--dir",
            work.path().to_str().unwrap(),
            &format!("{}/x/y:v1", dst.addr),
        ],
    ));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("oci-layout"),
        "{out:?}"
    );
    // A manifest file whose content is not what index.json says.
    std::fs::write(
        layout.join("blobs/sha256").join(&manifest_digest[7..]),
        b"{}",
    )
    .unwrap();
    let out = fails(&mut sigil(
        work.path(),
        &[
            "load",
            "--dir",
            layout.to_str().unwrap(),
            &format!("{}/x/y:v1", dst.addr),
        ],
    ));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not match its digest"),
        "{out:?}"
    );
}

#[test]
fn round_trip_on_docker_registry() {
    let work = tempfile::tempdir().unwrap();
    let src = start_distribution();
    let dst = start_distribution();
    round_trip(&src.addr, &dst.addr, work.path());
}

#[test]
fn multi_arch_index_round_trip() {
    let work = tempfile::tempdir().unwrap();
    let reg = sigil_registry(&work.path().join("reg"));
    // A layout as skopeo writes it: one entry (the index), no cosign `kind`.
    let first = work.path().join("first");
    let (a, asz, _) = layout_image(&first, "amd64", &[b"amd64 layer".to_vec()]);
    let (b, bsz, _) = layout_image(&first, "arm64", &[b"arm64 layer".to_vec(), b"two".to_vec()]);
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{a}","size":{asz},"platform":{{"architecture":"amd64","os":"linux"}}}},{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{b}","size":{bsz},"platform":{{"architecture":"arm64","os":"linux"}}}}]}}"#
    );
    let (idx, isz) = layout_blob(&first, index.as_bytes());
    layout_index(
        &first,
        &[("application/vnd.oci.image.index.v1+json", &idx, isz, "v1")],
    );
    let image = format!("{}/multi/app:v1", reg.addr);
    run_ok(&mut sigil(
        work.path(),
        &["load", "--dir", first.to_str().unwrap(), &image],
    ));
    let second = work.path().join("second");
    run_ok(&mut sigil(
        work.path(),
        &["save", "--dir", second.to_str().unwrap(), &image],
    ));
    let entries = index_json(&second);
    assert_eq!(entries["manifests"][0]["digest"], idx);
    assert_eq!(
        entries["manifests"][0]["annotations"]["kind"],
        "dev.cosignproject.cosign/imageIndex"
    );
    for d in [&a, &b] {
        assert!(
            second.join("blobs/sha256").join(&d[7..]).is_file(),
            "child {d} saved"
        );
    }
    // Every blob of the first layout is in the second, byte for byte.
    for e in std::fs::read_dir(first.join("blobs/sha256")).unwrap() {
        let e = e.unwrap();
        assert_eq!(
            std::fs::read(e.path()).unwrap(),
            std::fs::read(second.join("blobs/sha256").join(e.file_name())).unwrap()
        );
    }
}
