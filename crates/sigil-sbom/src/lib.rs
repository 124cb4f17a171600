//! sigil-sbom: software bills of materials for container images and directories, the job
//! `syft IMAGE -o spdx-json` does.
//!
//! A scan opens a source (an OCI layout directory or archive, a `docker save` archive, a
//! directory, or — through [`ImageSource`] — a registry), streams each layer once without
//! extracting it, squashes the layers with whiteouts, runs catalogers that read what Syft's
//! catalogers read (os-release, apk, dpkg, Python, npm, Go and cargo-auditable binaries, Java
//! archives), merges identical findings, and renders SPDX 2.3 JSON, CycloneDX 1.6 JSON or a
//! table. Identity follows Syft 1.18.1 (purls, licenses, supplier strings).
//!
//! # Security
//! Layers are untrusted: entry paths are cleaned and never used to write anything, links are
//! resolved only inside the in-memory tree with a hop limit, decompression is bounded by
//! [`Limits`], blob digests are verified while streaming, and malformed package data becomes
//! a [`Warning`] instead of a failure or a panic.

mod catalog;
mod error;
mod format;
mod layer;
mod limits;
mod model;
mod purl;
mod scan;
mod source;
mod tree;

// The public interface is:
pub use catalog::license::{to_spdx, SpdxLicense};
pub use catalog::CatalogerSet;
pub use error::Error;
pub use format::{render, render_to, Format, RenderContext};
pub use limits::Limits;
pub use model::{
    Distro, FileEntry, Location, Package, PackageType, Sbom, SourceInfo, SourceKind, Warning,
};
pub use scan::{scan, scan_dir, scan_image, Progress, ScanOptions, Scope};
pub use source::{
    DockerArchive, ImageSource, LayerDescriptor, OciArchive, OciDir, RegistrySource, SourceSpec,
};
