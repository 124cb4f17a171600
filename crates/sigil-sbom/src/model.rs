//! The package graph a scan produces, independent of any output format.
use serde::Serialize;

/// The package ecosystems, named as Syft names them (`syft:package:type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[non_exhaustive]
pub enum PackageType {
    #[serde(rename = "apk")]
    Apk,
    #[serde(rename = "deb")]
    Deb,
    #[serde(rename = "rpm")]
    Rpm,
    #[serde(rename = "go-module")]
    GoModule,
    #[serde(rename = "rust-crate")]
    RustCrate,
    #[serde(rename = "python")]
    Python,
    #[serde(rename = "npm")]
    Npm,
    #[serde(rename = "java-archive")]
    JavaArchive,
}

impl PackageType {
    /// Syft's name for the type.
    pub fn as_str(self) -> &'static str {
        match self {
            PackageType::Apk => "apk",
            PackageType::Deb => "deb",
            PackageType::Rpm => "rpm",
            PackageType::GoModule => "go-module",
            PackageType::RustCrate => "rust-crate",
            PackageType::Python => "python",
            PackageType::Npm => "npm",
            PackageType::JavaArchive => "java-archive",
        }
    }
    /// The language Syft records for the type (empty for OS packages).
    pub fn language(self) -> &'static str {
        match self {
            PackageType::GoModule => "go",
            PackageType::RustCrate => "rust",
            PackageType::Python => "python",
            PackageType::Npm => "javascript",
            PackageType::JavaArchive => "java",
            _ => "",
        }
    }
}

/// Where evidence of a package was found: a path in the squashed tree and the layer
/// (its diffID) the file came from. `layer` is empty for `dir:` sources.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Location {
    pub path: String,
    pub layer: String,
}

/// The Linux distribution of the scanned tree (from `/etc/os-release`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Distro {
    pub id: String,
    pub version_id: String,
    pub pretty_name: String,
    pub name: String,
    pub version_codename: String,
    pub id_like: Vec<String>,
}

impl Distro {
    /// The purl `distro` qualifier, `ID-VERSION_ID` (Syft writes the full VERSION_ID).
    pub fn qualifier(&self) -> Option<String> {
        if self.id.is_empty() {
            return None;
        }
        if self.version_id.is_empty() {
            return Some(self.id.clone());
        }
        Some(format!("{}-{}", self.id, self.version_id))
    }
    /// Whether this is Debian or a derivative (`ID` or `ID_LIKE` is debian).
    pub fn is_debian_like(&self) -> bool {
        self.id == "debian" || self.id_like.iter().any(|l| l == "debian")
    }
}

/// One package found in the scanned tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Package {
    /// Deterministic 16-hex-digit identity (see [`Package::compute_id`]).
    pub id: String,
    pub name: String,
    pub version: String,
    #[serde(rename = "type")]
    pub kind: PackageType,
    pub purl: String,
    pub found_by: &'static str,
    /// Declared license values as written by the package (mapped to SPDX on output).
    pub licenses: Vec<String>,
    pub locations: Vec<Location>,
    /// `Person: Name (email)` or `Organization: Name`, as SPDX wants it.
    pub originator: Option<String>,
    pub download_location: Option<String>,
    pub homepage: Option<String>,
    pub description: Option<String>,
    /// `(algorithm, lowercase hex)` pairs, e.g. `("SHA1", …)` for jars.
    pub checksums: Vec<(String, String)>,
    /// Files the package says it installed (dpkg md5sums and conffiles), absolute paths; after a
    /// scan with file digests, the real paths of those present in the tree.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
}

impl Package {
    /// A package with the compliance defaults Syft applies: version `UNKNOWN` when missing.
    pub fn new(kind: PackageType, found_by: &'static str, name: &str, version: &str) -> Self {
        let version = if version.trim().is_empty() {
            "UNKNOWN".to_string()
        } else {
            version.trim().to_string()
        };
        Package {
            id: String::new(),
            name: name.trim().to_string(),
            version,
            kind,
            purl: String::new(),
            found_by,
            licenses: Vec::new(),
            locations: Vec::new(),
            originator: None,
            download_location: None,
            homepage: None,
            description: None,
            checksums: Vec::new(),
            files: Vec::new(),
        }
    }

    /// The identity used to merge findings and name SPDX elements. Like Syft's package ID it
    /// covers the package fields and the location *paths* but not the layers, so identical
    /// findings at one path in several layers are one package.
    pub fn compute_id(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        let mut paths: Vec<&str> = self.locations.iter().map(|l| l.path.as_str()).collect();
        paths.sort_unstable();
        paths.dedup();
        for part in [self.kind.as_str(), &self.name, &self.version, &self.purl] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        for l in &self.licenses {
            h.update(l.as_bytes());
            h.update([1]);
        }
        for p in paths {
            h.update(p.as_bytes());
            h.update([2]);
        }
        let d = h.finalize();
        hex::encode(d.get(..8).unwrap_or_default())
    }
}

/// A file owned by a package, with its digests (SPDX `files`; only when
/// [`crate::ScanOptions::file_digests`] is on).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileEntry {
    pub path: String,
    pub layer: String,
    pub sha1: String,
    pub sha256: String,
    /// SPDX file type: `BINARY`, `TEXT` or `OTHER`.
    pub kind: &'static str,
}

/// A problem confined to one file; the scan went on without it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub path: String,
    pub message: String,
}

/// What was scanned.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SourceInfo {
    /// The user's input as given (`oci-dir:/x`, `alpine:3.19`).
    pub input: String,
    /// The document name Syft would use (image name, or the path for archives and dirs).
    pub name: String,
    /// `image` or `dir`.
    pub kind: SourceKind,
    /// Manifest digest (`sha256:…`), for images.
    pub manifest_digest: Option<String>,
    /// The tag, when the input had one.
    pub tag: Option<String>,
    pub architecture: Option<String>,
    pub os: Option<String>,
    /// diffIDs of the layers, bottom first.
    pub layers: Vec<String>,
}

/// The kind of source.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub enum SourceKind {
    #[default]
    #[serde(rename = "image")]
    Image,
    #[serde(rename = "directory")]
    Directory,
}

/// The result of a scan.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Sbom {
    pub source: SourceInfo,
    pub distro: Option<Distro>,
    /// Packages, sorted by (name, version, type, id).
    pub packages: Vec<Package>,
    /// `(dependency id, dependent id)`: Syft's `dependency-of`.
    pub dependency_of: Vec<(String, String)>,
    /// Package-owned files present in the tree, sorted by path (empty unless digests were on).
    pub files: Vec<FileEntry>,
    pub warnings: Vec<Warning>,
}
