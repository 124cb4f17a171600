//! Interoperability of `sigil registry serve` with real clients: skopeo 1.9 (Debian) copies
//! multi-layer images and multi-arch indexes in and out, and copies cosign `.sig` attachments
//! between sigil and Debian's docker-registry; oras-py pushes and pulls artifacts, one with a
//! `subject` that the referrers API then lists.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

use sigil_testkit::registry::{
    http, layout_image, layout_index, permissive_policy, sigstore_registries_d,
    start_sigil_registry,
};
use sigil_testkit::{run_ok, start_distribution, system_bin, venv_bin, Peer};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

fn sigil_registry(root: &Path) -> Peer {
    start_sigil_registry(Path::new(env!("CARGO_BIN_EXE_sigil")), root, &[])
}

fn skopeo(policy: &Path) -> Command {
    let mut c = Command::new(system_bin("skopeo"));
    c.arg("--policy").arg(policy);
    c
}

fn random_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// `skopeo inspect --raw` of a reference, and its sha256.
fn raw_manifest(policy: &Path, reference: &str) -> String {
    run_ok(skopeo(policy).args(["inspect", "--raw", "--tls-verify=false", reference]))
}

#[test]
fn skopeo_copies_a_multi_layer_image_in_and_out() {
    let tmp = tempfile::tempdir().unwrap();
    let reg = sigil_registry(&tmp.path().join("root"));
    let policy = permissive_policy(tmp.path());
    let layout = tmp.path().join("layout");
    let layers: Vec<Vec<u8>> = (0..5)
        .map(|i| random_bytes(1000 + i * 300_000, i as u64))
        .collect();
    let (digest, size, manifest) = layout_image(&layout, "amd64", &layers);
    layout_index(&layout, &[(OCI_MANIFEST, &digest, size, "v1")]);

    let dest = format!("docker://{}/lab/multi-layer:v1", reg.addr);
    run_ok(
        skopeo(&policy)
            .args(["copy", "--preserve-digests", "--dest-tls-verify=false"])
            .arg(format!("oci:{}:v1", layout.display()))
            .arg(&dest),
    );
    // The registry serves exactly the bytes skopeo pushed (no conversion was needed).
    assert_eq!(raw_manifest(&policy, &dest).as_bytes(), &manifest[..]);
    let head = http(
        &reg.addr,
        "HEAD",
        "/v2/lab/multi-layer/manifests/v1",
        &[("Accept", OCI_MANIFEST)],
        b"",
    )
    .unwrap();
    assert_eq!(head.status, 200);
    assert_eq!(head.header("docker-content-digest"), Some(digest.as_str()));

    let out = tmp.path().join("pulled");
    run_ok(
        skopeo(&policy)
            .args(["copy", "--preserve-digests", "--src-tls-verify=false"])
            .arg(&dest)
            .arg(format!("oci:{}:v1", out.display())),
    );
    for layer in &layers {
        let d = sigil_core::Digest::sha256(layer);
        let pulled = std::fs::read(out.join("blobs/sha256").join(d.hex())).unwrap();
        assert_eq!(&pulled, layer, "layer {d} came back intact");
    }
    let pulled_manifest = std::fs::read(
        out.join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:")),
    )
    .unwrap();
    assert_eq!(pulled_manifest, manifest);
}

#[test]
fn skopeo_copies_a_multi_arch_index_in_and_out() {
    let tmp = tempfile::tempdir().unwrap();
    let reg = sigil_registry(&tmp.path().join("root"));
    let policy = permissive_policy(tmp.path());
    let layout = tmp.path().join("layout");
    let (amd, amd_size, _) = layout_image(
        &layout,
        "amd64",
        &[random_bytes(5000, 1), random_bytes(7000, 2)],
    );
    let (arm, arm_size, _) = layout_image(&layout, "arm64", &[random_bytes(6000, 3)]);
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{{"mediaType":"{OCI_MANIFEST}","digest":"{amd}","size":{amd_size},"platform":{{"architecture":"amd64","os":"linux"}}}},{{"mediaType":"{OCI_MANIFEST}","digest":"{arm}","size":{arm_size},"platform":{{"architecture":"arm64","os":"linux"}}}}]}}"#
    );
    let (idx, idx_size) = sigil_testkit::registry::layout_blob(&layout, index.as_bytes());
    layout_index(&layout, &[(OCI_INDEX, &idx, idx_size, "multi")]);

    let dest = format!("docker://{}/lab/multi-arch:v1", reg.addr);
    run_ok(
        skopeo(&policy)
            .args([
                "copy",
                "--all",
                "--preserve-digests",
                "--dest-tls-verify=false",
            ])
            .arg(format!("oci:{}:multi", layout.display()))
            .arg(&dest),
    );
    let got = http(
        &reg.addr,
        "GET",
        "/v2/lab/multi-arch/manifests/v1",
        &[("Accept", OCI_INDEX)],
        b"",
    )
    .unwrap();
    assert_eq!(got.status, 200);
    assert_eq!(got.header("content-type"), Some(OCI_INDEX));
    assert_eq!(got.body, index.as_bytes());
    for child in [&amd, &arm] {
        let r = http(
            &reg.addr,
            "GET",
            &format!("/v2/lab/multi-arch/manifests/{child}"),
            &[("Accept", OCI_MANIFEST)],
            b"",
        )
        .unwrap();
        assert_eq!(r.status, 200, "child {child}");
    }

    let out = tmp.path().join("pulled");
    run_ok(
        skopeo(&policy)
            .args([
                "copy",
                "--all",
                "--preserve-digests",
                "--src-tls-verify=false",
            ])
            .arg(&dest)
            .arg(format!("oci:{}:v1", out.display())),
    );
    let index_json = std::fs::read_to_string(out.join("index.json")).unwrap();
    assert!(
        index_json.contains(&idx),
        "pulled layout points at the same index: {index_json}"
    );
    assert!(out
        .join("blobs/sha256")
        .join(arm.trim_start_matches("sha256:"))
        .exists());
}

/// Pushes a cosign-shaped signature manifest for `digest` into `repo` of `addr` (the layout of
/// cosign's `sha256-<hex>.sig` tag; the signature is not checked by anyone here).
fn push_sig(addr: &str, repo: &str, digest: &str) -> String {
    let payload = format!(
        r#"{{"critical":{{"identity":{{"docker-reference":"{addr}/{repo}"}},"image":{{"docker-manifest-digest":"{digest}"}},"type":"cosign container image signature"}},"optional":null}}"#
    );
    let push = |data: &[u8]| {
        let d = sigil_core::Digest::sha256(data);
        let r = http(
            addr,
            "POST",
            &format!("/v2/{repo}/blobs/uploads/?digest={d}"),
            &[],
            data,
        )
        .unwrap();
        assert_eq!(r.status, 201);
        (d, data.len())
    };
    let (pd, ps) = push(payload.as_bytes());
    let config = format!(
        r#"{{"architecture":"","os":"","config":{{}},"rootfs":{{"type":"layers","diff_ids":["{pd}"]}}}}"#
    );
    let (cd, cs) = push(config.as_bytes());
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{cd}","size":{cs}}},"layers":[{{"mediaType":"application/vnd.dev.cosign.simplesigning.v1+json","digest":"{pd}","size":{ps},"annotations":{{"dev.cosignproject.cosign/signature":"MEUCIQDzZmFrZQ=="}}}}]}}"#
    );
    let tag = format!("{}.sig", digest.replace(':', "-"));
    let r = http(
        addr,
        "PUT",
        &format!("/v2/{repo}/manifests/{tag}"),
        &[("Content-Type", OCI_MANIFEST)],
        manifest.as_bytes(),
    )
    .unwrap();
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    tag
}

#[test]
fn skopeo_copies_sig_attachments_between_sigil_and_distribution() {
    let tmp = tempfile::tempdir().unwrap();
    let sigil = sigil_registry(&tmp.path().join("root"));
    let dist = start_distribution();
    let policy = permissive_policy(tmp.path());
    let regd = sigstore_registries_d(tmp.path(), &[&sigil.addr, &dist.addr]);
    let layout = tmp.path().join("layout");
    let (digest, size, _) = layout_image(&layout, "amd64", &[random_bytes(4096, 9)]);
    layout_index(&layout, &[(OCI_MANIFEST, &digest, size, "v1")]);
    let src = format!("docker://{}/lab/signed:v1", sigil.addr);
    run_ok(
        skopeo(&policy)
            .args(["copy", "--preserve-digests", "--dest-tls-verify=false"])
            .arg(format!("oci:{}:v1", layout.display()))
            .arg(&src),
    );
    let tag = push_sig(&sigil.addr, "lab/signed", &digest);

    // sigil -> distribution -> sigil, carrying the attachment each time.
    let mid = format!("docker://{}/lab/signed:v1", dist.addr);
    let back = format!("docker://{}/lab/copied:v1", sigil.addr);
    for (from, to) in [(&src, &mid), (&mid, &back)] {
        run_ok(
            skopeo(&policy)
                .arg("--registries.d")
                .arg(&regd)
                .args(["copy", "--src-tls-verify=false", "--dest-tls-verify=false"])
                .arg(from)
                .arg(to),
        );
    }
    let original = http(
        &sigil.addr,
        "GET",
        &format!("/v2/lab/signed/manifests/{tag}"),
        &[("Accept", OCI_MANIFEST)],
        b"",
    )
    .unwrap();
    let copied = http(
        &sigil.addr,
        "GET",
        &format!("/v2/lab/copied/manifests/{tag}"),
        &[("Accept", OCI_MANIFEST)],
        b"",
    )
    .unwrap();
    assert_eq!(
        copied.status,
        200,
        "the .sig tag arrived: {}",
        String::from_utf8_lossy(&copied.body)
    );
    let layer = |b: &[u8]| -> serde_json::Value {
        let v: serde_json::Value = serde_json::from_slice(b).unwrap();
        v["layers"][0].clone()
    };
    assert_eq!(
        layer(&copied.body),
        layer(&original.body),
        "signature layer and annotations preserved"
    );
    let tags = http(&sigil.addr, "GET", "/v2/lab/copied/tags/list", &[], b"").unwrap();
    let tags = String::from_utf8(tags.body).unwrap();
    assert!(tags.contains("v1") && tags.contains(&tag), "{tags}");
}

const ORAS_SCRIPT: &str = r#"
import json, sys, oras.client, oras.oci, requests
addr, workdir = sys.argv[1], sys.argv[2]
import os
os.chdir(workdir)
with open("artifact.txt", "w") as f:
    f.write("hello from oras")
c = oras.client.OrasClient(hostname=addr, insecure=True)
r = c.push(target=f"{addr}/lab/artifact:v1", files=["artifact.txt:text/plain"],
           manifest_annotations={"org.example.note": "pushed by oras-py"}, disable_path_validation=True)
assert r.status_code == 201, r.status_code
h = requests.get(f"http://{addr}/v2/lab/artifact/manifests/v1",
                 headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
subj = oras.oci.Subject(mediaType=h.headers["Content-Type"], digest=h.headers["Docker-Content-Digest"], size=len(h.content))
r2 = c.push(target=f"{addr}/lab/artifact:att1", files=["artifact.txt:application/vnd.example.att+json"],
            subject=subj, disable_path_validation=True)
assert r2.status_code == 201, r2.status_code
os.makedirs("out", exist_ok=True)
pulled = c.pull(target=f"{addr}/lab/artifact:v1", outdir="out")
print(json.dumps({"subject": subj.digest, "oci_subject": r2.headers.get("OCI-Subject"),
                  "referrer": r2.headers.get("Docker-Content-Digest"),
                  "pulled": [open(p).read() for p in pulled],
                  "tags": c.get_tags(f"{addr}/lab/artifact")}))
"#;

#[test]
fn oras_pushes_and_pulls_artifacts_and_referrers_list_them() {
    let tmp = tempfile::tempdir().unwrap();
    let reg = sigil_registry(&tmp.path().join("root"));
    let script = tmp.path().join("oras_roundtrip.py");
    std::fs::write(&script, ORAS_SCRIPT).unwrap();
    let out = run_ok(
        Command::new(venv_bin("python"))
            .arg(&script)
            .arg(&reg.addr)
            .arg(tmp.path()),
    );
    let v: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(v["pulled"], serde_json::json!(["hello from oras"]));
    assert_eq!(
        v["oci_subject"], v["subject"],
        "OCI-Subject header on the push with a subject"
    );
    let tags = v["tags"].to_string();
    assert!(tags.contains("v1") && tags.contains("att1"), "{tags}");
    let subject = v["subject"].as_str().unwrap();
    let refs = http(
        &reg.addr,
        "GET",
        &format!("/v2/lab/artifact/referrers/{subject}"),
        &[],
        b"",
    )
    .unwrap();
    assert_eq!(refs.status, 200);
    let idx: serde_json::Value = serde_json::from_slice(&refs.body).unwrap();
    assert_eq!(idx["manifests"][0]["digest"], v["referrer"]);
    let filtered = http(
        &reg.addr,
        "GET",
        &format!("/v2/lab/artifact/referrers/{subject}?artifactType=application/x.none"),
        &[],
        b"",
    )
    .unwrap();
    let idx: serde_json::Value = serde_json::from_slice(&filtered.body).unwrap();
    assert_eq!(idx["manifests"].as_array().unwrap().len(), 0);
}
