//! Whole images between a registry and an OCI image layout on disk (image-spec
//! `image-layout.md`), in the shape cosign's `save` and `load` use: `index.json` lists the
//! image (or index) with annotation `kind: dev.cosignproject.cosign/image` (`…/imageIndex`),
//! its `.sig` manifest with `kind: dev.cosignproject.cosign/sigs` and its `.att` manifest with
//! `kind: dev.cosignproject.cosign/atts`; every manifest, config and layer is a file under
//! `blobs/<algorithm>/<hex>`.
//!
//! Like cosign, only the top-level image's signatures and attestations are saved (not those of
//! an index's children). Unlike cosign, the image entry also carries
//! `org.opencontainers.image.ref.name` (the tag), so skopeo's `oci:DIR:TAG` finds it among the
//! other entries.
//!
//! # Defaults
//! - Blobs move in parallel, at most [`TransferOptions::concurrency`] at a time.
//! - Everything is digest-verified: blobs as they stream in (a mismatch deletes the partial
//!   file), manifests when fetched and again when read back from the layout, every blob
//!   before it is uploaded. A layout file that does not match its name is an error naming it.
//! - Save writes each blob to a temporary file and renames it into place, and writes
//!   `index.json` last (fsynced), so an interrupted save never leaves a layout that names
//!   missing or partial content. Blobs and manifests are not fsynced one by one: after a
//!   power cut one may be empty, which its digest check reports on load, and a new save
//!   rewrites it. A blob already in the layout with the right digest is kept.
//! - Load HEADs every blob first and uploads only the ones the registry lacks.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use sigil_core::{media_types, Digest, ImageRef};

use crate::cosign::{attachment_tag, Attachment};
use crate::manifest::{Descriptor, ImageIndex, ImageManifest};
use crate::{Client, Error, Manifest, MAX_MANIFEST_SIZE};

/// The `index.json` annotation cosign uses to say what an entry is.
pub const ANNOTATION_KIND: &str = "kind";
/// `kind` of a single-platform image.
pub const KIND_IMAGE: &str = "dev.cosignproject.cosign/image";
/// `kind` of an image index.
pub const KIND_IMAGE_INDEX: &str = "dev.cosignproject.cosign/imageIndex";
/// `kind` of the image's `.sig` manifest.
pub const KIND_SIGNATURES: &str = "dev.cosignproject.cosign/sigs";
/// `kind` of the image's `.att` manifest.
pub const KIND_ATTESTATIONS: &str = "dev.cosignproject.cosign/atts";
/// The image-spec annotation skopeo's `oci:DIR:NAME` matches.
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";

/// The attachments saved and loaded with an image, and their `kind` in `index.json`.
const ATTACHMENTS: [(Attachment, &str); 2] = [
    (Attachment::Signature, KIND_SIGNATURES),
    (Attachment::Attestation, KIND_ATTESTATIONS),
];

/// How blobs move.
#[derive(Clone, Debug)]
pub struct TransferOptions {
    /// Blobs transferred at the same time.
    pub concurrency: usize,
}

impl Default for TransferOptions {
    fn default() -> TransferOptions {
        TransferOptions { concurrency: 8 }
    }
}

/// What a save or load moved.
#[derive(Clone, Debug)]
pub struct Transferred {
    /// The image's (or index's) digest.
    pub digest: Digest,
    /// Manifests written or pushed (the image's, its children's, `.sig`, `.att`).
    pub manifests: usize,
    /// Blobs (configs and layers) the image and its attachments refer to.
    pub blobs: usize,
    /// Blobs actually copied (the rest were already there).
    pub blobs_copied: usize,
    /// Bytes of the blobs copied.
    pub bytes_copied: u64,
    pub signatures: bool,
    pub attestations: bool,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct LayoutMarker {
    image_layout_version: String,
}

/// A manifest to place, with the blobs it needs.
struct Node {
    manifest: Manifest,
    blobs: Vec<Descriptor>,
    children: Vec<Manifest>,
}

/// Saves `image` (an image or an index with all its children) and its `.sig` and `.att`
/// manifests from `signatures` (the image's repository, or `COSIGN_REPOSITORY`) into the OCI
/// layout at `dir`, which is created if missing.
pub async fn save(
    client: &Client,
    image: &ImageRef,
    signatures: &ImageRef,
    dir: &Path,
    options: &TransferOptions,
) -> Result<Transferred, Error> {
    let top = client.get_manifest(image).await?;
    let digest = top.digest.clone();
    let node = fetch_tree(client, image, top).await?;
    let mut attached = Vec::new();
    for (kind, kind_annotation) in ATTACHMENTS {
        let tagged = signatures
            .with_tag(&attachment_tag(&digest, kind))
            .map_err(|e| Error::Malformed {
                what: format!("attachment tag for `{image}`"),
                detail: e.to_string(),
            })?;
        match client.get_manifest(&tagged).await {
            Ok(m) => attached.push((kind, kind_annotation, fetch_tree(client, &tagged, m).await?)),
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
    }

    let blob_dir_root = dir.join("blobs");
    create_dir(&blob_dir_root).await?;
    let (wanted, manifests) = plan(&node, attached.iter().map(|a| &a.2), image, signatures);
    let blobs = wanted.len();
    let copied: Vec<Option<u64>> = futures_util::stream::iter(wanted)
        .map(|(repo, d)| async move { save_blob(client, &repo, &d, dir).await })
        .buffer_unordered(options.concurrency.max(1))
        .try_collect()
        .await?;
    for m in &manifests {
        write_blob_file(dir, &m.digest, &m.bytes).await?;
    }

    let mut entries = Vec::new();
    let mut top_desc = node.manifest.descriptor();
    let kind = if media_types::is_index(&node.manifest.media_type) {
        KIND_IMAGE_INDEX
    } else {
        KIND_IMAGE
    };
    top_desc
        .annotations
        .insert(ANNOTATION_KIND.into(), kind.into());
    top_desc.annotations.insert(
        ANNOTATION_REF_NAME.into(),
        image.tag().unwrap_or("latest").to_owned(),
    );
    entries.push(top_desc);
    for (_, kind, n) in &attached {
        let mut d = n.manifest.descriptor();
        d.annotations.insert(ANNOTATION_KIND.into(), (*kind).into());
        entries.push(d);
    }
    let mut index = ImageIndex::empty();
    index.manifests = entries;
    let marker = LayoutMarker {
        image_layout_version: "1.0.0".into(),
    };
    // Only `index.json` is fsynced: it names everything else, and nothing it names is
    // fsynced (a blob lost to a power cut fails its digest check on load).
    write_atomic(
        &dir.join("oci-layout"),
        &crate::manifest::to_json(&marker),
        Durability::Unsynced,
    )
    .await?;
    write_atomic(
        &dir.join("index.json"),
        &crate::manifest::to_json(&index),
        Durability::Synced,
    )
    .await?;
    Ok(Transferred {
        digest,
        manifests: manifests.len(),
        blobs,
        blobs_copied: copied.iter().flatten().count(),
        bytes_copied: copied.iter().flatten().sum(),
        signatures: attached.iter().any(|(k, _, _)| *k == Attachment::Signature),
        attestations: attached
            .iter()
            .any(|(k, _, _)| *k == Attachment::Attestation),
    })
}

/// Pushes the image saved in the layout at `dir` (by [`save`], or any layout with a single
/// entry) to `image`, and its `.sig` / `.att` manifests beside it in `signatures`.
pub async fn load(
    client: &Client,
    dir: &Path,
    image: &ImageRef,
    signatures: &ImageRef,
    options: &TransferOptions,
) -> Result<Transferred, Error> {
    let index = read_index(dir).await?;
    let kinded = |k: &str| {
        index
            .manifests
            .iter()
            .find(|d| d.annotations.get(ANNOTATION_KIND).map(String::as_str) == Some(k))
    };
    let top = match kinded(KIND_IMAGE).or_else(|| kinded(KIND_IMAGE_INDEX)) {
        Some(d) => d,
        None => match index.manifests.as_slice() {
            [only] => only,
            [] => {
                return Err(layout_error(dir, "index.json lists no image"));
            }
            _ => {
                return Err(layout_error(
                    dir,
                    "index.json lists several images and none has a cosign `kind` annotation",
                ))
            }
        },
    };
    let node = read_tree(dir, top).await?;
    let digest = node.manifest.digest.clone();
    let mut attached = Vec::new();
    for (kind, k) in ATTACHMENTS {
        if let Some(d) = kinded(k) {
            attached.push((kind, k, read_tree(dir, d).await?));
        }
    }

    let (wanted, _) = plan(&node, attached.iter().map(|a| &a.2), image, signatures);
    let blobs = wanted.len();
    let copied: Vec<Option<u64>> = futures_util::stream::iter(wanted)
        .map(|(repo, d)| async move { load_blob(client, &repo, &d, dir).await })
        .buffer_unordered(options.concurrency.max(1))
        .try_collect()
        .await?;

    // Children before their index, the image before its attachments: a registry refuses a
    // manifest that names content it does not have.
    let mut pushed = 0;
    pushed += push_children(client, image, &node).await?;
    let reference = match image.digest() {
        Some(d) if *d != digest => {
            return Err(Error::DigestMismatch {
                what: format!("image in `{}`", dir.display()),
                expected: d.to_string(),
                actual: digest.to_string(),
            })
        }
        Some(d) => d.to_string(),
        None => image.tag().unwrap_or("latest").to_owned(),
    };
    put(client, image, &reference, &node.manifest).await?;
    pushed += 1;
    for (kind, _, n) in &attached {
        pushed += push_children(client, signatures, n).await?;
        put(
            client,
            signatures,
            &attachment_tag(&digest, *kind),
            &n.manifest,
        )
        .await?;
        pushed += 1;
    }
    Ok(Transferred {
        digest,
        manifests: pushed,
        blobs,
        blobs_copied: copied.iter().flatten().count(),
        bytes_copied: copied.iter().flatten().sum(),
        signatures: attached.iter().any(|(k, _, _)| *k == Attachment::Signature),
        attestations: attached
            .iter()
            .any(|(k, _, _)| *k == Attachment::Attestation),
    })
}

async fn push_children(client: &Client, repo: &ImageRef, node: &Node) -> Result<usize, Error> {
    for c in &node.children {
        put(client, repo, &c.digest.to_string(), c).await?;
    }
    Ok(node.children.len())
}

async fn put(client: &Client, repo: &ImageRef, reference: &str, m: &Manifest) -> Result<(), Error> {
    client
        .put_manifest(repo, reference, m.bytes.clone(), &m.media_type)
        .await
        .map(|_| ())
}

/// Adds `node`'s blobs (once each) to `wanted` and its manifests to `manifests`.
/// The blobs to move (each once per repository, with the repository it is in) and the
/// manifests of `node` (in `image`) and of its attachments (in `signatures`).
fn plan<'a>(
    node: &Node,
    attached: impl Iterator<Item = &'a Node>,
    image: &ImageRef,
    signatures: &ImageRef,
) -> (Vec<(ImageRef, Descriptor)>, Vec<Manifest>) {
    let mut wanted = Vec::new();
    let mut manifests = Vec::new();
    collect(
        node,
        image,
        &mut wanted,
        &mut HashSet::new(),
        &mut manifests,
    );
    let mut seen_sig = HashSet::new();
    for n in attached {
        collect(n, signatures, &mut wanted, &mut seen_sig, &mut manifests);
    }
    (wanted, manifests)
}

fn collect(
    node: &Node,
    repo: &ImageRef,
    wanted: &mut Vec<(ImageRef, Descriptor)>,
    seen: &mut HashSet<Digest>,
    manifests: &mut Vec<Manifest>,
) {
    manifests.push(node.manifest.clone());
    manifests.extend(node.children.iter().cloned());
    for b in &node.blobs {
        if seen.insert(b.digest.clone()) {
            wanted.push((repo.clone(), b.clone()));
        }
    }
}

/// The blobs a manifest names (config and layers; an index's children's).
fn manifest_blobs(m: &Manifest) -> Result<Vec<Descriptor>, Error> {
    let parsed: ImageManifest = serde_json::from_slice(&m.bytes).map_err(|e| Error::Malformed {
        what: format!("manifest {}", m.digest),
        detail: e.to_string(),
    })?;
    let mut out = vec![parsed.config];
    out.extend(parsed.layers.into_iter().filter(|l| l.urls.is_empty()));
    Ok(out)
}

fn index_children(m: &Manifest) -> Result<Vec<Descriptor>, Error> {
    let parsed: ImageIndex = serde_json::from_slice(&m.bytes).map_err(|e| Error::Malformed {
        what: format!("index {}", m.digest),
        detail: e.to_string(),
    })?;
    Ok(parsed.manifests)
}

/// The manifest and, for an index, its child manifests (one level: nested indexes are refused
/// as cosign's layout code does not write them either).
async fn fetch_tree(client: &Client, repo: &ImageRef, top: Manifest) -> Result<Node, Error> {
    if !media_types::is_index(&top.media_type) {
        let blobs = manifest_blobs(&top)?;
        return Ok(Node {
            manifest: top,
            blobs,
            children: Vec::new(),
        });
    }
    let mut blobs = Vec::new();
    let mut children = Vec::new();
    for d in index_children(&top)? {
        let child = client
            .get_manifest(&repo.with_digest(d.digest.clone()))
            .await?;
        if media_types::is_index(&child.media_type) {
            return Err(nested_index(&top.digest));
        }
        blobs.extend(manifest_blobs(&child)?);
        children.push(child);
    }
    Ok(Node {
        manifest: top,
        blobs,
        children,
    })
}

async fn read_tree(dir: &Path, top: &Descriptor) -> Result<Node, Error> {
    let manifest = read_manifest(dir, top).await?;
    if !media_types::is_index(&manifest.media_type) {
        let blobs = manifest_blobs(&manifest)?;
        return Ok(Node {
            manifest,
            blobs,
            children: Vec::new(),
        });
    }
    let mut blobs = Vec::new();
    let mut children = Vec::new();
    for d in index_children(&manifest)? {
        let child = read_manifest(dir, &d).await?;
        if media_types::is_index(&child.media_type) {
            return Err(nested_index(&manifest.digest));
        }
        blobs.extend(manifest_blobs(&child)?);
        children.push(child);
    }
    Ok(Node {
        manifest,
        blobs,
        children,
    })
}

fn nested_index(digest: &Digest) -> Error {
    Error::Malformed {
        what: format!("index {digest}"),
        detail: "an index inside an index is not supported".into(),
    }
}

/// A manifest file of the layout, verified against its descriptor.
async fn read_manifest(dir: &Path, d: &Descriptor) -> Result<Manifest, Error> {
    if d.size > MAX_MANIFEST_SIZE {
        return Err(Error::TooLarge {
            what: format!("manifest {} in `{}`", d.digest, dir.display()),
            limit: MAX_MANIFEST_SIZE,
        });
    }
    let path = blob_path(dir, &d.digest);
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|e| io_error(&path, e))?;
    if !d.digest.matches(&bytes) {
        return Err(file_mismatch(&path, &d.digest, &bytes));
    }
    let media_type = if d.media_type.is_empty() {
        media_types::OCI_MANIFEST.to_owned()
    } else {
        d.media_type.clone()
    };
    Ok(Manifest {
        bytes: Bytes::from(bytes),
        media_type,
        digest: d.digest.clone(),
    })
}

/// `index.json` of the layout at `dir`.
async fn read_index(dir: &Path) -> Result<ImageIndex, Error> {
    let marker = dir.join("oci-layout");
    let bytes = tokio::fs::read(&marker)
        .await
        .map_err(|e| io_error(&marker, e))?;
    let m: LayoutMarker = serde_json::from_slice(&bytes).map_err(|e| Error::Malformed {
        what: format!("`{}`", marker.display()),
        detail: e.to_string(),
    })?;
    if m.image_layout_version != "1.0.0" {
        return Err(layout_error(
            dir,
            &format!(
                "unsupported imageLayoutVersion `{}`",
                m.image_layout_version
            ),
        ));
    }
    let path = dir.join("index.json");
    let bytes = tokio::fs::read(&path)
        .await
        .map_err(|e| io_error(&path, e))?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Malformed {
        what: format!("`{}`", path.display()),
        detail: e.to_string(),
    })
}

/// `blobs/<algorithm>/<hex>`.
fn blob_path(dir: &Path, digest: &Digest) -> PathBuf {
    dir.join("blobs")
        .join(digest.algorithm().as_str())
        .join(digest.hex())
}

/// Downloads one blob into the layout unless a file with the right content is there already.
/// Returns the bytes copied, `None` when skipped.
async fn save_blob(
    client: &Client,
    repo: &ImageRef,
    d: &Descriptor,
    dir: &Path,
) -> Result<Option<u64>, Error> {
    let path = blob_path(dir, &d.digest);
    if file_has_digest(&path, &d.digest).await? {
        return Ok(None);
    }
    if let Some(parent) = path.parent() {
        create_dir(parent).await?;
    }
    let tmp = temp_path(&path);
    let file = tokio::fs::File::create(&tmp)
        .await
        .map_err(|e| io_error(&tmp, e))?
        .into_std()
        .await;
    // No fsync per blob (nor does cosign's save): a blob lost to a power cut is caught by its
    // digest on the next load or save, and the next save writes it again.
    match client
        .download_blob(repo, &d.digest, d.size, file, &tmp)
        .await
    {
        Ok(total) => {
            tokio::fs::rename(&tmp, &path)
                .await
                .map_err(|e| io_error(&path, e))?;
            Ok(Some(total))
        }
        Err(e) => {
            let _ = tokio::fs::remove_file(&tmp).await;
            Err(e)
        }
    }
}

/// Uploads one layout blob unless the registry has it. Returns the bytes copied, `None`
/// when the registry already had it.
async fn load_blob(
    client: &Client,
    repo: &ImageRef,
    d: &Descriptor,
    dir: &Path,
) -> Result<Option<u64>, Error> {
    let path = blob_path(dir, &d.digest);
    let limit = client.options().max_blob_size;
    if d.size > limit {
        return Err(Error::TooLarge {
            what: format!("blob `{}`", path.display()),
            limit,
        });
    }
    let data = tokio::fs::read(&path)
        .await
        .map_err(|e| io_error(&path, e))?;
    // Checked here, before asking the registry, so a corrupted layout is refused even when the
    // registry already holds the real blob.
    let data = Bytes::from(data);
    let digest = d.digest.clone();
    let (data, ok) = tokio::task::spawn_blocking(move || {
        let ok = digest.matches(&data);
        (data, ok)
    })
    .await
    .map_err(|e| Error::Malformed {
        what: format!("blob `{}`", path.display()),
        detail: format!("digest check did not finish: {e}"),
    })?;
    if !ok {
        return Err(file_mismatch(&path, &d.digest, &data));
    }
    if client.blob_exists(repo, &d.digest).await? {
        return Ok(None);
    }
    let len = data.len() as u64;
    client.upload_blob(repo, &d.digest, data).await?;
    Ok(Some(len))
}

async fn file_has_digest(path: &Path, digest: &Digest) -> Result<bool, Error> {
    match tokio::fs::read(path).await {
        Ok(bytes) => {
            let digest = digest.clone();
            Ok(tokio::task::spawn_blocking(move || digest.matches(&bytes))
                .await
                .unwrap_or(false))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_error(path, e)),
    }
}

async fn write_blob_file(dir: &Path, digest: &Digest, bytes: &[u8]) -> Result<(), Error> {
    let path = blob_path(dir, digest);
    if let Some(parent) = path.parent() {
        create_dir(parent).await?;
    }
    write_atomic(&path, bytes, Durability::Unsynced).await
}

/// Whether [`write_atomic`] fsyncs the file before renaming it into place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Durability {
    Synced,
    Unsynced,
}

/// Writes `bytes` to a temporary file beside `path` and renames it into place, in one trip
/// to the blocking pool.
async fn write_atomic(path: &Path, bytes: &[u8], durability: Durability) -> Result<(), Error> {
    let (path, bytes) = (path.to_path_buf(), bytes.to_vec());
    let failed = path.clone();
    tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let tmp = temp_path(&path);
        let mut f = std::fs::File::create(&tmp).map_err(|e| io_error(&tmp, e))?;
        f.write_all(&bytes).map_err(|e| io_error(&tmp, e))?;
        if durability == Durability::Synced {
            f.sync_all().map_err(|e| io_error(&tmp, e))?;
        }
        drop(f);
        std::fs::rename(&tmp, &path).map_err(|e| io_error(&path, e))
    })
    .await
    .map_err(|e| io_error(&failed, std::io::Error::other(e)))?
}

fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp-{}", std::process::id()));
    path.with_file_name(name)
}

async fn create_dir(path: &Path) -> Result<(), Error> {
    tokio::fs::create_dir_all(path)
        .await
        .map_err(|e| io_error(path, e))
}

fn io_error(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn layout_error(dir: &Path, detail: &str) -> Error {
    Error::Malformed {
        what: format!("OCI layout `{}`", dir.display()),
        detail: detail.to_owned(),
    }
}

fn file_mismatch(path: &Path, expected: &Digest, bytes: &[u8]) -> Error {
    Error::DigestMismatch {
        what: format!("`{}`", path.display()),
        expected: expected.to_string(),
        actual: Digest::compute(expected.algorithm(), bytes).to_string(),
    }
}

/// Annotations of an `index.json` entry, for tests and callers that list a layout.
pub fn entry_kind(d: &Descriptor) -> Option<&str> {
    d.annotations.get(ANNOTATION_KIND).map(String::as_str)
}
