//! Hostile image layers against the SBOM scanner (`sigil sbom`): entries that climb out of
//! the root, absolute paths, symlinks and hard links that point at the host's files, and a
//! gzip bomb under the default limits. The scanner never extracts a layer; these tests prove
//! that nothing is written and that no host file is read in place of the image's.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{Read, Write};

use sigil_sbom::{
    scan_image, Error, ImageSource, LayerDescriptor, Limits, Sbom, ScanOptions, SourceInfo,
};

struct MemoryImage {
    info: SourceInfo,
    descriptors: Vec<LayerDescriptor>,
    layers: Vec<Vec<u8>>,
}

impl ImageSource for MemoryImage {
    fn info(&self) -> &SourceInfo {
        &self.info
    }
    fn layers(&self) -> &[LayerDescriptor] {
        &self.descriptors
    }
    fn open_layer(&self, index: usize) -> Result<Box<dyn Read + Send + '_>, Error> {
        Ok(Box::new(self.layers[index].as_slice()))
    }
}

fn scan_layers(layers: Vec<Vec<u8>>, limits: Limits) -> Result<Sbom, Error> {
    let ids: Vec<String> = (0..layers.len())
        .map(|i| format!("sha256:{i:064x}"))
        .collect();
    let image = MemoryImage {
        info: SourceInfo {
            input: "attack".into(),
            name: "attack".into(),
            layers: ids.clone(),
            ..SourceInfo::default()
        },
        descriptors: ids
            .iter()
            .map(|d| LayerDescriptor {
                digest: None,
                diff_id: d.clone(),
                media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
            })
            .collect(),
        layers,
    };
    scan_image(
        &image,
        &ScanOptions {
            limits,
            ..ScanOptions::default()
        },
    )
}

enum Entry<'a> {
    /// A regular file under a raw header name (the tar crate's builder refuses `../`).
    File(&'a str, &'a [u8]),
    Symlink(&'a str, &'a str),
    Hardlink(&'a str, &'a str),
}

fn tar_of(entries: &[Entry]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_old();
        let (name, kind, size, link) = match e {
            Entry::File(n, d) => (*n, tar::EntryType::Regular, d.len(), None),
            Entry::Symlink(n, t) => (*n, tar::EntryType::Symlink, 0, Some(*t)),
            Entry::Hardlink(n, t) => (*n, tar::EntryType::Link, 0, Some(*t)),
        };
        h.as_mut_bytes()[..name.len()].copy_from_slice(name.as_bytes());
        if let Some(t) = link {
            h.as_mut_bytes()[157..157 + t.len()].copy_from_slice(t.as_bytes());
        }
        h.set_size(size as u64);
        h.set_mode(0o644);
        h.set_entry_type(kind);
        h.set_cksum();
        let data: &[u8] = match e {
            Entry::File(_, d) => d,
            _ => &[],
        };
        b.append(&h, data).unwrap();
    }
    b.into_inner().unwrap()
}

const DPKG_STATUS: &[u8] =
    b"Package: inside\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.0\n";

fn names(sbom: &Sbom) -> Vec<String> {
    sbom.packages.iter().map(|p| p.name.clone()).collect()
}

/// Path traversal in tar entry names (CVE-2007-4559 class; the "tar slip" / "zip slip"
/// family that image extractors keep rediscovering, e.g. CVE-2018-15664 in Docker): an entry
/// `../../…/canary` must not be written, and is reported.
#[test]
fn layer_entry_climbing_out_of_the_root() {
    let outside = tempfile::tempdir().unwrap();
    let canary = outside.path().join("canary");
    let name = format!("../../../../../../../..{}", canary.display());
    let sbom = scan_layers(
        vec![tar_of(&[
            Entry::File(&name, b"owned"),
            Entry::File(
                "../var/lib/dpkg/status",
                b"Package: escaped\nStatus: install ok installed\nVersion: 1\n",
            ),
            Entry::File("var/lib/dpkg/status", DPKG_STATUS),
        ])],
        Limits::default(),
    )
    .unwrap();
    assert!(!canary.exists(), "the scan wrote outside the image");
    assert_eq!(names(&sbom), ["inside"]);
    assert!(sbom
        .warnings
        .iter()
        .any(|w| w.message.contains("climbs above the root")));
}

/// Absolute entry names are rooted in the image, never in the host (`/tmp/…/canary`).
#[test]
fn layer_entry_with_an_absolute_path() {
    let outside = tempfile::tempdir().unwrap();
    let canary = outside.path().join("canary");
    let name = canary.display().to_string();
    let sbom = scan_layers(
        vec![tar_of(&[
            Entry::File(&name, b"owned"),
            Entry::File("/var/lib/dpkg/status", DPKG_STATUS),
        ])],
        Limits::default(),
    )
    .unwrap();
    assert!(!canary.exists(), "the scan wrote to the host path");
    assert_eq!(
        names(&sbom),
        ["inside"],
        "read inside the image, as `var/lib/dpkg/status`"
    );
}

/// A symlink whose target climbs out (`etc/os-release -> ../../../../etc/os-release`, or an
/// absolute `/etc/passwd`) resolves inside the image tree: the host's files are never read
/// (CVE-2018-15664-style symlink races do not apply: nothing touches the filesystem).
#[test]
fn symlink_escaping_to_host_files() {
    let host_has_dpkg = std::path::Path::new("/var/lib/dpkg/status").exists();
    let sbom = scan_layers(
        vec![tar_of(&[
            Entry::Symlink("etc/os-release", "../../../../../../etc/os-release"),
            Entry::Symlink("var/lib/dpkg/status", "/var/lib/dpkg/status"),
            Entry::Symlink("var/lib/dpkg", "../../../../../var/lib/dpkg"),
        ])],
        Limits::default(),
    )
    .unwrap();
    assert!(sbom.distro.is_none(), "the host's os-release was read");
    assert!(
        sbom.packages.is_empty(),
        "host packages reported (host has dpkg: {host_has_dpkg})"
    );
}

/// A hard link to a file outside the layer set (`../../../etc/shadow`, or the host's dpkg
/// database) is an empty reference, never the host file.
#[test]
fn hardlink_escaping_to_host_files() {
    let sbom = scan_layers(
        vec![tar_of(&[
            Entry::Hardlink("var/lib/dpkg/status", "../../../../../var/lib/dpkg/status"),
            Entry::Hardlink("etc/os-release", "/etc/os-release"),
        ])],
        Limits::default(),
    )
    .unwrap();
    assert!(sbom.packages.is_empty(), "{:?}", names(&sbom));
    assert!(sbom.distro.is_none());
}

/// A gzip bomb (deflate reaches ~1000:1 on zeros: 300 MiB of layer from ~300 KiB of blob)
/// against the *default* limits: the scan stops with the compression-ratio error once past
/// the grace bytes, rather than inflating without bound.
#[test]
fn gzip_bomb_under_default_limits() {
    let limits = Limits::default();
    let size: u64 = limits.ratio_grace_bytes + (48 << 20);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let mut h = tar::Header::new_gnu();
    h.set_path("zeros").unwrap();
    h.set_size(size);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    gz.write_all(h.as_bytes()).unwrap();
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..(size >> 20) {
        gz.write_all(&chunk).unwrap();
    }
    gz.write_all(&[0u8; 1024]).unwrap();
    let blob = gz.finish().unwrap();
    assert!(blob.len() < 1 << 20, "the bomb is {} bytes", blob.len());
    let err = scan_layers(vec![blob], limits).unwrap_err();
    assert!(
        matches!(
            err,
            Error::LimitExceeded {
                what: "compression ratio",
                ..
            }
        ),
        "{err}"
    );
}
