//! Building OCI images from files, without a container engine: one reproducible layer
//! (image-spec `layer.md`), a config (`config.md`) and a manifest (`manifest.md`), optionally
//! on top of a base image fetched from a registry.
//!
//! # Reproducibility
//! The same inputs give the same digest: tar entries are sorted by path; owner and group are
//! 0 with no names; modes are normalised (directories and executable files `0755`, other
//! files `0644`, symlinks `0777`); every mtime is the given epoch (`SOURCE_DATE_EPOCH`, as
//! the reproducible-builds convention says, else 0); gzip carries no timestamp or file name;
//! the config's `created` is the same epoch, and nothing from the build machine (paths, user,
//! hostname, time) enters the image.
//!
//! # Defaults
//! - Destinations are paths inside the image: `..` components and destinations that would
//!   replace the root are refused, so a `--file` can never write outside the image's tree.
//! - A source directory's symlinks are stored as symlinks (never followed); device files,
//!   sockets and FIFOs are refused.
//! - A base image's layers are reused by digest (mounted across repositories of the same
//!   registry, else copied blob by blob); its config is merged the way a Dockerfile's `FROM`
//!   is: `Env` by key, `ExposedPorts` and `Labels` added, `Entrypoint` resetting `Cmd`.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use serde_json::{json, Map, Value};
use sigil_core::{media_types, Algorithm, Digest, Hasher, ImageRef};

use crate::manifest::{to_json, Descriptor, ImageIndex, ImageManifest};
use crate::{Client, Error};

/// Errors of image building. Each names the file, destination or image at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PackError {
    #[error("`{spec}` is not SRC[:DEST]")]
    FileSpec { spec: String },
    #[error("destination `{dest}` leaves the image's root (`..` is not allowed)")]
    DestEscapes { dest: String },
    #[error("destination `{dest}` names the image's root; a file needs a path such as `/server`")]
    DestIsRoot { dest: String },
    #[error("cannot read `{path}`")]
    Source {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("`{path}` is not a regular file, directory or symlink")]
    SpecialFile { path: PathBuf },
    #[error("`/{dest}` is written twice (by `{first}` and by `{second}`)")]
    Conflict {
        dest: String,
        first: String,
        second: String,
    },
    #[error("nothing to pack: give at least one --file SRC[:DEST]")]
    NoFiles,
    #[error("`{value}` is not a port: use PORT or PORT/tcp, PORT/udp, PORT/sctp")]
    Port { value: String },
    #[error("writing the layer")]
    Layer(#[source] io::Error),
    #[error("base image `{image}` has no {os}/{architecture} image")]
    NoPlatform {
        image: String,
        os: String,
        architecture: String,
    },
    #[error("base image `{image}`: {detail}")]
    Base { image: String, detail: String },
    #[error("registry request failed")]
    Registry(#[from] Error),
}

/// One `--file SRC[:DEST]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackFile {
    pub source: PathBuf,
    /// The destination as given (an image path; `None`: `/` + the source's name).
    pub dest: Option<String>,
}

impl PackFile {
    /// Parses `SRC[:DEST]`. The first `:` splits (image paths rarely hold one; a source path
    /// that does can be given with an explicit `:DEST`).
    pub fn parse(spec: &str) -> Result<PackFile, PackError> {
        let (src, dest) = match spec.split_once(':') {
            Some((s, d)) => (s, Some(d.to_owned())),
            None => (spec, None),
        };
        if src.is_empty() || dest.as_deref() == Some("") {
            return Err(PackError::FileSpec { spec: spec.into() });
        }
        Ok(PackFile {
            source: PathBuf::from(src),
            dest,
        })
    }
}

/// What goes into the image besides the files: Dockerfile-like settings.
#[derive(Clone, Debug, Default)]
pub struct ImageSettings {
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    /// `KEY=VALUE` pairs, replacing the base's value of the same key.
    pub env: Vec<(String, String)>,
    /// `8080`, `8080/tcp`, `53/udp`.
    pub expose: Vec<String>,
    pub workdir: Option<String>,
    pub labels: BTreeMap<String, String>,
    /// Seconds since 1970 used for every mtime and for `created`.
    pub epoch: u64,
    /// `GOARCH`-style architecture and OS of the image (when there is no base).
    pub architecture: String,
    pub os: String,
}

impl ImageSettings {
    /// Settings with the platform of this machine and the epoch of `SOURCE_DATE_EPOCH`
    /// (0 when unset or not a number).
    pub fn for_host() -> ImageSettings {
        let epoch = std::env::var("SOURCE_DATE_EPOCH")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(0);
        ImageSettings {
            epoch,
            architecture: host_architecture().to_owned(),
            os: "linux".to_owned(),
            ..ImageSettings::default()
        }
    }
}

/// The OCI architecture name (`GOARCH`) of this machine.
pub fn host_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "arm" => "arm",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        other => other,
    }
}

/// A built layer: gzip-compressed tar, its descriptor and its diff ID (the digest of the
/// uncompressed tar, which the config lists).
#[derive(Clone, Debug)]
pub struct Layer {
    pub data: Bytes,
    pub descriptor: Descriptor,
    pub diff_id: Digest,
}

#[derive(Debug)]
enum Node {
    Dir,
    File { path: PathBuf, executable: bool },
    Symlink { target: PathBuf },
}

/// Splits a destination into its components, refusing `..`.
fn dest_components(dest: &str) -> Result<Vec<String>, PackError> {
    let mut out = Vec::new();
    for part in dest.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(PackError::DestEscapes { dest: dest.into() }),
            p if p.contains('\0') => return Err(PackError::DestEscapes { dest: dest.into() }),
            p => out.push(p.to_owned()),
        }
    }
    Ok(out)
}

fn file_name(path: &Path) -> Result<String, PackError> {
    // `canonicalize` gives `foo/.` and `.` a name too.
    let canonical = std::fs::canonicalize(path).map_err(|e| PackError::Source {
        path: path.into(),
        source: e,
    })?;
    Ok(canonical
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default())
}

struct Tree {
    nodes: BTreeMap<String, (Node, String)>,
}

impl Tree {
    fn insert(&mut self, parts: &[String], node: Node, origin: &str) -> Result<(), PackError> {
        // Parent directories first.
        for i in 1..parts.len() {
            let dir = parts.get(..i).unwrap_or_default().join("/");
            match self.nodes.get(&dir) {
                None => {
                    self.nodes.insert(dir, (Node::Dir, origin.to_owned()));
                }
                Some((Node::Dir, _)) => {}
                Some((_, first)) => {
                    return Err(PackError::Conflict {
                        dest: dir,
                        first: first.clone(),
                        second: origin.to_owned(),
                    })
                }
            }
        }
        let path = parts.join("/");
        match (self.nodes.get(&path), &node) {
            (None, _) => {
                self.nodes.insert(path, (node, origin.to_owned()));
                Ok(())
            }
            (Some((Node::Dir, _)), Node::Dir) => Ok(()),
            (Some((_, first)), _) => Err(PackError::Conflict {
                dest: path,
                first: first.clone(),
                second: origin.to_owned(),
            }),
        }
    }

    fn add_source(
        &mut self,
        source: &Path,
        parts: Vec<String>,
        origin: &str,
    ) -> Result<(), PackError> {
        let read_err = |e| PackError::Source {
            path: source.into(),
            source: e,
        };
        // The named source is followed if it is a symlink (the user named it); symlinks
        // found inside a directory are kept as symlinks.
        let meta = std::fs::metadata(source).map_err(read_err)?;
        if meta.is_dir() {
            if !parts.is_empty() {
                self.insert(&parts, Node::Dir, origin)?;
            }
            self.add_dir(source, &parts, origin)
        } else if meta.is_file() {
            if parts.is_empty() {
                return Err(PackError::DestIsRoot {
                    dest: origin.to_owned(),
                });
            }
            self.insert(&parts, file_node(source, &meta), origin)
        } else {
            Err(PackError::SpecialFile {
                path: source.into(),
            })
        }
    }

    fn add_dir(&mut self, dir: &Path, parts: &[String], origin: &str) -> Result<(), PackError> {
        let read_err = |e| PackError::Source {
            path: dir.into(),
            source: e,
        };
        let mut entries = std::fs::read_dir(dir)
            .map_err(read_err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(read_err)?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let mut child = parts.to_vec();
            child.push(name);
            let meta = std::fs::symlink_metadata(&path).map_err(|e| PackError::Source {
                path: path.clone(),
                source: e,
            })?;
            let kind = meta.file_type();
            if kind.is_symlink() {
                let target = std::fs::read_link(&path).map_err(|e| PackError::Source {
                    path: path.clone(),
                    source: e,
                })?;
                self.insert(&child, Node::Symlink { target }, origin)?;
            } else if kind.is_dir() {
                self.insert(&child, Node::Dir, origin)?;
                self.add_dir(&path, &child, origin)?;
            } else if kind.is_file() {
                self.insert(&child, file_node(&path, &meta), origin)?;
            } else {
                return Err(PackError::SpecialFile { path });
            }
        }
        Ok(())
    }
}

#[cfg(unix)]
fn file_node(path: &Path, meta: &std::fs::Metadata) -> Node {
    use std::os::unix::fs::PermissionsExt as _;
    Node::File {
        path: path.into(),
        executable: meta.permissions().mode() & 0o111 != 0,
    }
}

#[cfg(not(unix))]
fn file_node(path: &Path, _meta: &std::fs::Metadata) -> Node {
    Node::File {
        path: path.into(),
        executable: false,
    }
}

/// A writer that hashes what passes through it (the diff ID is the digest of the tar).
struct HashingWriter<W> {
    inner: W,
    hasher: Hasher,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(buf.get(..n).unwrap_or_default());
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Builds the layer holding `files`, every entry with mtime `epoch`.
pub fn build_layer(files: &[PackFile], epoch: u64) -> Result<Layer, PackError> {
    if files.is_empty() {
        return Err(PackError::NoFiles);
    }
    let mut tree = Tree {
        nodes: BTreeMap::new(),
    };
    for f in files {
        let origin = match &f.dest {
            Some(d) => format!("{}:{d}", f.source.display()),
            None => f.source.display().to_string(),
        };
        let parts = match &f.dest {
            None => vec![file_name(&f.source)?],
            Some(d) => {
                let mut parts = dest_components(d)?;
                // `DEST/` puts a file (or directory) under DEST with its own name.
                if d.ends_with('/') && std::fs::metadata(&f.source).is_ok_and(|m| m.is_file()) {
                    parts.push(file_name(&f.source)?);
                }
                parts
            }
        };
        tree.add_source(&f.source, parts, &origin)?;
    }

    let gz = flate2::GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(Vec::new(), flate2::Compression::default());
    let mut builder = tar::Builder::new(HashingWriter {
        inner: gz,
        hasher: Hasher::new(Algorithm::Sha256),
    });
    builder.mode(tar::HeaderMode::Deterministic);
    for (path, (node, _)) in &tree.nodes {
        let mut h = tar::Header::new_gnu();
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(epoch);
        match node {
            Node::Dir => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                builder
                    .append_data(&mut h, format!("{path}/"), io::empty())
                    .map_err(PackError::Layer)?;
            }
            Node::Symlink { target } => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_mode(0o777);
                h.set_size(0);
                builder
                    .append_link(&mut h, path, target)
                    .map_err(PackError::Layer)?;
            }
            Node::File {
                path: src,
                executable,
            } => {
                let file = File::open(src).map_err(|e| PackError::Source {
                    path: src.clone(),
                    source: e,
                })?;
                let len = file
                    .metadata()
                    .map_err(|e| PackError::Source {
                        path: src.clone(),
                        source: e,
                    })?
                    .len();
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(if *executable { 0o755 } else { 0o644 });
                h.set_size(len);
                // A file that changes size while it is read would corrupt the tar: read
                // exactly `len` bytes and fail if fewer come.
                let mut reader = io::Read::take(file, len);
                builder
                    .append_data(&mut h, path, &mut reader)
                    .map_err(|e| PackError::Source {
                        path: src.clone(),
                        source: e,
                    })?;
            }
        }
    }
    let hashing = builder.into_inner().map_err(PackError::Layer)?;
    let diff_id = hashing.hasher.finish();
    let data = hashing.inner.finish().map_err(PackError::Layer)?;
    let data = Bytes::from(data);
    Ok(Layer {
        descriptor: Descriptor::for_bytes(media_types::OCI_LAYER_GZIP, &data),
        data,
        diff_id,
    })
}

/// A base image as fetched: where it lives, its layer descriptors and its config.
#[derive(Clone, Debug)]
pub struct BaseImage {
    pub image: ImageRef,
    pub layers: Vec<Descriptor>,
    pub config: Value,
}

/// A built (not yet pushed) image.
#[derive(Clone, Debug)]
pub struct BuiltImage {
    pub config: Bytes,
    pub manifest: Bytes,
    /// The manifest's digest: the image's digest.
    pub digest: Digest,
    pub layers: Vec<Descriptor>,
}

fn rfc3339(epoch: u64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(epoch.min(253_402_300_799) as i64)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}

fn normalise_port(value: &str) -> Result<String, PackError> {
    let err = || PackError::Port {
        value: value.into(),
    };
    let (port, proto) = value.split_once('/').unwrap_or((value, "tcp"));
    let n: u16 = port.parse().map_err(|_| err())?;
    if n == 0 || !matches!(proto, "tcp" | "udp" | "sctp") {
        return Err(err());
    }
    Ok(format!("{n}/{proto}"))
}

fn object(v: &mut Value, key: &str) -> Map<String, Value> {
    match v.get_mut(key).map(Value::take) {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

/// Builds the config and manifest of an image made of `base`'s layers (if any) then `layer`.
pub fn build_image(
    settings: &ImageSettings,
    base: Option<&BaseImage>,
    layer: &Layer,
) -> Result<BuiltImage, PackError> {
    let created = rfc3339(settings.epoch);
    let mut config = match base {
        Some(b) => b.config.clone(),
        None => json!({
            "architecture": settings.architecture,
            "os": settings.os,
        }),
    };
    if !config.is_object() {
        return Err(PackError::Base {
            image: base.map(|b| b.image.to_string()).unwrap_or_default(),
            detail: "its config is not a JSON object".into(),
        });
    }
    let mut c = object(&mut config, "config");
    // Env: replace by key, else append (Dockerfile `ENV`).
    if !settings.env.is_empty() {
        let mut env: Vec<String> = c
            .get("Env")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        for (k, v) in &settings.env {
            let entry = format!("{k}={v}");
            match env
                .iter_mut()
                .find(|e| e.split_once('=').map(|(ek, _)| ek) == Some(k))
            {
                Some(e) => *e = entry,
                None => env.push(entry),
            }
        }
        c.insert("Env".into(), json!(env));
    }
    if let Some(ep) = &settings.entrypoint {
        c.insert("Entrypoint".into(), json!(ep));
        // Docker resets an inherited CMD when ENTRYPOINT is set.
        if settings.cmd.is_none() {
            c.remove("Cmd");
        }
    }
    if let Some(cmd) = &settings.cmd {
        c.insert("Cmd".into(), json!(cmd));
    }
    if !settings.expose.is_empty() {
        let mut ports = c
            .get("ExposedPorts")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for p in &settings.expose {
            ports.insert(normalise_port(p)?, json!({}));
        }
        let ports: BTreeMap<String, Value> = ports.into_iter().collect();
        c.insert("ExposedPorts".into(), json!(ports));
    }
    if let Some(w) = &settings.workdir {
        c.insert("WorkingDir".into(), json!(w));
    }
    if !settings.labels.is_empty() {
        let mut labels = c
            .get("Labels")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for (k, v) in &settings.labels {
            labels.insert(k.clone(), json!(v));
        }
        let labels: BTreeMap<String, Value> = labels.into_iter().collect();
        c.insert("Labels".into(), json!(labels));
    }
    let mut rootfs = object(&mut config, "rootfs");
    let mut diff_ids = rootfs
        .get("diff_ids")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let base_layers = base.map(|b| b.layers.as_slice()).unwrap_or_default();
    if diff_ids.len() != base_layers.len() {
        return Err(PackError::Base {
            image: base.map(|b| b.image.to_string()).unwrap_or_default(),
            detail: format!(
                "its config lists {} diff IDs for {} layers",
                diff_ids.len(),
                base_layers.len()
            ),
        });
    }
    diff_ids.push(json!(layer.diff_id.to_string()));
    rootfs.insert("type".into(), json!("layers"));
    rootfs.insert("diff_ids".into(), json!(diff_ids));
    let mut history = config
        .get_mut("history")
        .map(Value::take)
        .and_then(|h| match h {
            Value::Array(a) => Some(a),
            _ => None,
        })
        .unwrap_or_default();
    history.push(json!({"created": created, "created_by": "sigil pack"}));
    let Value::Object(top) = &mut config else {
        return Err(PackError::Base {
            image: String::new(),
            detail: "its config is not a JSON object".into(),
        });
    };
    top.insert("created".into(), json!(created));
    top.insert("config".into(), Value::Object(c));
    top.insert("rootfs".into(), Value::Object(rootfs));
    top.insert("history".into(), json!(history));
    let config = Bytes::from(serde_json::to_vec(&config).map_err(|e| PackError::Base {
        image: String::new(),
        detail: e.to_string(),
    })?);

    let mut layers: Vec<Descriptor> = base_layers
        .iter()
        .map(|d| {
            let mut d = d.clone();
            // Same bytes, OCI's name for them: an OCI manifest lists OCI media types.
            if d.media_type == media_types::DOCKER_LAYER_GZIP {
                d.media_type = media_types::OCI_LAYER_GZIP.to_owned();
            }
            d
        })
        .collect();
    layers.push(layer.descriptor.clone());
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(media_types::OCI_MANIFEST.to_owned()),
        artifact_type: None,
        config: Descriptor::for_bytes(media_types::OCI_CONFIG, &config),
        layers: layers.clone(),
        subject: None,
        annotations: BTreeMap::new(),
    };
    let manifest = Bytes::from(to_json(&manifest));
    Ok(BuiltImage {
        digest: Digest::sha256(&manifest),
        config,
        manifest,
        layers,
    })
}

/// Fetches a base image's manifest (choosing `os`/`architecture` in an index) and config.
pub async fn fetch_base(
    client: &Client,
    image: &ImageRef,
    os: &str,
    architecture: &str,
) -> Result<BaseImage, PackError> {
    let base_err = |detail: String| PackError::Base {
        image: image.to_string(),
        detail,
    };
    let mut manifest = client.get_manifest(image).await?;
    let mut pinned = image.with_digest(manifest.digest.clone());
    if manifest.media_type == media_types::OCI_INDEX
        || manifest.media_type == media_types::DOCKER_MANIFEST_LIST
    {
        let index: ImageIndex = serde_json::from_slice(&manifest.bytes)
            .map_err(|e| base_err(format!("malformed index: {e}")))?;
        let entry = index
            .manifests
            .iter()
            .find(|d| {
                d.platform
                    .as_ref()
                    .is_some_and(|p| p.os == os && p.architecture == architecture)
            })
            .ok_or_else(|| PackError::NoPlatform {
                image: image.to_string(),
                os: os.into(),
                architecture: architecture.into(),
            })?;
        pinned = image.with_digest(entry.digest.clone());
        manifest = client.get_manifest(&pinned).await?;
    }
    let m: ImageManifest = serde_json::from_slice(&manifest.bytes)
        .map_err(|e| base_err(format!("malformed manifest: {e}")))?;
    let config = client.get_blob(&pinned, &m.config.digest).await?;
    let config: Value =
        serde_json::from_slice(&config).map_err(|e| base_err(format!("malformed config: {e}")))?;
    Ok(BaseImage {
        image: pinned,
        layers: m.layers,
        config,
    })
}

/// Pushes a built image to `target` (a tag or a bare repository): the base's layers (mounted
/// or copied), the new layer, the config, then the manifest under `target`'s tag, or under
/// its digest when `target` has no tag.
pub async fn push(
    client: &Client,
    target: &ImageRef,
    base: Option<&BaseImage>,
    layer: &Layer,
    built: &BuiltImage,
) -> Result<Digest, PackError> {
    if let Some(b) = base {
        for d in &b.layers {
            if client.blob_exists(target, &d.digest).await? {
                continue;
            }
            if b.image.registry() == target.registry()
                && client
                    .mount_blob(target, &d.digest, b.image.repository())
                    .await?
            {
                continue;
            }
            let data = client.get_blob(&b.image, &d.digest).await?;
            client.push_blob(target, &d.digest, data).await?;
        }
    }
    client
        .push_blob(target, &layer.descriptor.digest, layer.data.clone())
        .await?;
    let config_digest = Digest::sha256(&built.config);
    client
        .push_blob(target, &config_digest, built.config.clone())
        .await?;
    let reference = match target.tag() {
        Some(t) => t.to_owned(),
        None => built.digest.to_string(),
    };
    let pushed = client
        .put_manifest(
            target,
            &reference,
            built.manifest.clone(),
            media_types::OCI_MANIFEST,
        )
        .await?;
    Ok(pushed.digest)
}

#[cfg(test)]
#[path = "pack_tests.rs"]
mod tests;
