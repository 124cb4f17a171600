//! Syft's own fixtures with the findings Syft 1.18.1 reports for them (testdata/syft/*/
//! EXPECTED-syft-1.18.1.json): every package (type, name, version, purl, licenses, locations)
//! and every dependency-of edge must match, for the image and the directory cataloger sets.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::PathBuf;

use sigil_sbom::{scan_dir, CatalogerSet, ScanOptions};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/syft")
        .join(name)
}

type Row = (String, String, String, String, Vec<String>, Vec<String>);

fn expected(name: &str, set: &str) -> (BTreeSet<Row>, BTreeSet<String>) {
    let text = std::fs::read_to_string(fixture(name).join("EXPECTED-syft-1.18.1.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let sec = &v[set];
    let mut rows = BTreeSet::new();
    for p in sec["packages"].as_array().unwrap() {
        let s = |k: &str| p[k].as_str().unwrap_or("").to_string();
        let mut lic: Vec<String> = p["licenses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap().to_string())
            .collect();
        lic.sort();
        let mut loc: Vec<String> = p["locations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap().to_string())
            .collect();
        loc.sort();
        rows.insert((s("type"), s("name"), s("version"), s("purl"), lic, loc));
    }
    let edges = sec["dependency_of"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap().to_string())
        .collect();
    (rows, edges)
}

fn actual(name: &str, set: CatalogerSet) -> (BTreeSet<Row>, BTreeSet<String>) {
    let opts = ScanOptions {
        catalogers: Some(set),
        ..ScanOptions::default()
    };
    let dir = fixture(name);
    let sbom = scan_dir(&dir, &format!("dir:{}", dir.display()), &opts).unwrap();
    let mut rows = BTreeSet::new();
    for p in &sbom.packages {
        let mut lic = p.licenses.clone();
        lic.sort();
        let mut loc: Vec<String> = p.locations.iter().map(|l| l.path.clone()).collect();
        loc.sort();
        loc.dedup();
        rows.insert((
            p.kind.as_str().to_string(),
            p.name.clone(),
            p.version.clone(),
            p.purl.clone(),
            lic,
            loc,
        ));
    }
    let name_of = |id: &str| {
        sbom.packages
            .iter()
            .find(|p| p.id == id)
            .map(|p| p.name.clone())
            .unwrap_or_default()
    };
    let edges = sbom
        .dependency_of
        .iter()
        .map(|(a, b)| format!("{} -dependency-of-> {}", name_of(a), name_of(b)))
        .collect();
    (rows, edges)
}

fn check(name: &str) {
    for (set, key) in [
        (CatalogerSet::Image, "image"),
        (CatalogerSet::Directory, "directory"),
    ] {
        let (want_rows, want_edges) = expected(name, key);
        let (got_rows, got_edges) = actual(name, set);
        let missing: Vec<_> = want_rows.difference(&got_rows).collect();
        let extra: Vec<_> = got_rows.difference(&want_rows).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{name} ({key}): missing {missing:#?}\nextra {extra:#?}"
        );
        let missing: Vec<_> = want_edges.difference(&got_edges).collect();
        let extra: Vec<_> = got_edges.difference(&want_edges).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{name} ({key}) edges: missing {missing:#?}\nextra {extra:#?}"
        );
    }
}

#[test]
fn apk_single() {
    check("apk-single");
}
#[test]
fn apk_multiple() {
    check("apk-multiple");
}
#[test]
fn dpkg_image() {
    check("dpkg-image");
}
#[test]
fn dpkg_distroless() {
    check("dpkg-distroless");
}
#[test]
fn dpkg_multiple() {
    check("dpkg-multiple");
}
#[test]
fn dpkg_deinstall_reports_both_like_1_18_1() {
    check("dpkg-deinstall");
}
#[test]
fn dpkg_relationships() {
    check("dpkg-relationships");
}
#[test]
fn python_site_packages() {
    check("python-site-packages");
}
#[test]
fn npm_node_modules() {
    check("npm-node-modules");
}
#[test]
fn npm_lockfiles() {
    check("npm-lockfiles");
}
#[test]
fn integration_image_pkg_coverage_subset() {
    check("integration-image-pkg-coverage-subset");
}
/// A real rpm 4.18 sqlite database (scripts/sbom-make-rpmdb.sh); expected findings from
/// `syft dir:testdata/rpm --override-default-catalogers image` (Syft 1.18.1).
#[test]
fn rpm_sqlite() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/rpm");
    let opts = ScanOptions::default();
    let sbom = scan_dir(&dir, "dir:testdata/rpm", &opts).unwrap();
    let got: Vec<(String, String, Vec<String>)> = sbom
        .packages
        .iter()
        .map(|p| (p.version.clone(), p.purl.clone(), p.licenses.clone()))
        .collect();
    let (want, _) = expected("../rpm", "image");
    let want: Vec<(String, String, Vec<String>)> =
        want.into_iter().map(|r| (r.2, r.3, r.4)).collect();
    assert_eq!(got, want);
}
