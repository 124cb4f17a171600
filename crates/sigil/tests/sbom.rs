//! `sigil sbom` end to end: outputs validated by the real validators (spdx-tools'
//! `pyspdxtools`, cyclonedx-python-lib's CycloneDX 1.6 JSON schema validator), the registry
//! source against Debian's docker-registry, and the three archive/layout sources agreeing on
//! an image built by umoci and copied by skopeo.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;

use sigil_testkit::{copy_tree, run_ok, start_distribution, system_bin, venv_bin, workspace_root};

fn fixture(name: &str) -> PathBuf {
    workspace_root()
        .join("crates/sigil-sbom/testdata/syft")
        .join(name)
}

fn sigil() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sigil"))
}

fn validate_spdx(path: &Path) {
    run_ok(Command::new(venv_bin("pyspdxtools")).arg("-i").arg(path));
}

fn validate_cyclonedx(path: &Path) {
    let py = venv_bin("python");
    let check = Command::new(&py)
        .args(["-c", "import cyclonedx.validation.json"])
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "cyclonedx-python-lib is missing from the peers venv: run `bash scripts/install-peers.sh`"
    );
    run_ok(Command::new(py).arg("-c").arg(
        "import sys\nfrom cyclonedx.schema import SchemaVersion\nfrom cyclonedx.validation.json import JsonStrictValidator\n\
         e = JsonStrictValidator(SchemaVersion.V1_6).validate_str(open(sys.argv[1]).read())\n\
         sys.exit(str(e) if e else 0)",
    ).arg(path));
}

fn package_list(json_path: &Path) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(json_path).unwrap()).unwrap();
    let mut out: Vec<String> = v["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| format!("{} {} {} {}", p["type"], p["name"], p["version"], p["purl"]))
        .collect();
    out.sort();
    out
}

#[test]
fn outputs_pass_the_spdx_and_cyclonedx_validators() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "integration-image-pkg-coverage-subset",
        "npm-node-modules",
        "dpkg-relationships",
    ] {
        let spdx = dir.path().join(format!("{name}.spdx.json"));
        let cdx = dir.path().join(format!("{name}.cdx.json"));
        let json = dir.path().join(format!("{name}.json"));
        let table = run_ok(
            sigil()
                .args([
                    "sbom",
                    &format!("dir:{}", fixture(name).display()),
                    "--catalogers",
                    "image",
                ])
                .args(["-o", "syft-table"])
                .arg("-o")
                .arg(format!("spdx-json={}", spdx.display()))
                .arg("-o")
                .arg(format!("cyclonedx-json={}", cdx.display()))
                .arg("-o")
                .arg(format!("json={}", json.display())),
        );
        assert!(table.starts_with("NAME"), "{table}");
        validate_spdx(&spdx);
        validate_cyclonedx(&cdx);
        assert!(!package_list(&json).is_empty());
        // The SPDX document has the image-as-root shape and a DESCRIBES relationship.
        let doc: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&spdx).unwrap()).unwrap();
        let rels = doc["relationships"].as_array().unwrap();
        assert_eq!(
            rels.iter()
                .filter(|r| r["relationshipType"] == "DESCRIBES")
                .count(),
            1
        );
        assert_eq!(
            rels.iter()
                .filter(|r| r["relationshipType"] == "CONTAINS")
                .count(),
            doc["packages"].as_array().unwrap().len() - 1
        );
    }
}

#[test]
fn registry_oci_dir_and_archives_give_the_same_sbom() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let layout = d.join("layout");
    let bundle = d.join("bundle");
    let umoci = system_bin("umoci");
    let img = format!("{}:v1", layout.display());
    run_ok(Command::new(&umoci).args(["init", "--layout"]).arg(&layout));
    run_ok(Command::new(&umoci).args(["new", "--image", &img]));
    run_ok(
        Command::new(&umoci)
            .args(["unpack", "--rootless", "--image", &img])
            .arg(&bundle),
    );
    // Two layers: an apk database, then dpkg + npm on top.
    copy_tree(&fixture("apk-multiple/lib"), &bundle.join("rootfs/lib"));
    copy_tree(&fixture("apk-multiple/etc"), &bundle.join("rootfs/etc"));
    run_ok(
        Command::new(&umoci)
            .args(["repack", "--refresh-bundle", "--image", &img])
            .arg(&bundle),
    );
    copy_tree(&fixture("dpkg-image/var"), &bundle.join("rootfs/var"));
    copy_tree(&fixture("npm-node-modules/app"), &bundle.join("rootfs/app"));
    run_ok(
        Command::new(&umoci)
            .args(["repack", "--refresh-bundle", "--image", &img])
            .arg(&bundle),
    );

    let registry = start_distribution();
    let reference = format!("{}/sbom/test:v1", registry.addr);
    let archive = d.join("image.docker.tar");
    let skopeo = system_bin("skopeo");
    run_ok(
        Command::new(&skopeo)
            .args(["copy", "-q", "--dest-tls-verify=false"])
            .arg(format!("oci:{img}"))
            .arg(format!("docker://{reference}")),
    );
    run_ok(
        Command::new(&skopeo)
            .args(["copy", "-q"])
            .arg(format!("oci:{img}"))
            .arg(format!("docker-archive:{}:sbom/test:v1", archive.display())),
    );
    let oci_tar = d.join("image.oci.tar");
    run_ok(
        Command::new("tar")
            .arg("-C")
            .arg(&layout)
            .arg("-cf")
            .arg(&oci_tar)
            .arg("."),
    );

    let mut lists = Vec::new();
    for (i, src) in [
        reference.clone(),
        format!("registry:{reference}"),
        format!("oci-dir:{}", layout.display()),
        format!("oci-archive:{}", oci_tar.display()),
        format!("docker-archive:{}", archive.display()),
    ]
    .iter()
    .enumerate()
    {
        let json = d.join(format!("{i}.json"));
        let spdx = d.join(format!("{i}.spdx.json"));
        run_ok(
            sigil()
                .args(["sbom", src, "-q", "-o"])
                .arg(format!("json={}", json.display()))
                .arg("-o")
                .arg(format!("spdx-json={}", spdx.display())),
        );
        validate_spdx(&spdx);
        lists.push(package_list(&json));
    }
    // 14 apk + 1 deb + 5 npm.
    assert_eq!(lists[0].len(), 20, "{:#?}", lists[0]);
    for l in &lists[1..] {
        assert_eq!(l, &lists[0]);
    }
}

#[test]
fn bad_sources_and_flags_fail_clearly() {
    let out = sigil()
        .args(["sbom", "oci-dir:/definitely/not/here"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("failed to read `/definitely/not/here/index.json`"),
        "{err}"
    );

    let out = sigil()
        .args(["sbom", "dir:.", "-o", "xml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown output format `xml`"));

    let out = sigil()
        .args(["sbom", "dir:.", "-o", "json", "-o", "spdx-json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("only one output can go to stdout"));

    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.tar");
    std::fs::write(&junk, b"this is not a tar archive at all").unwrap();
    let out = sigil()
        .arg("sbom")
        .arg(format!("docker-archive:{}", junk.display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}
