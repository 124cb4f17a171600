//! OCI image layouts (image-spec `image-layout.md`): a directory (`oci-dir:`) or a tar of one
//! (`oci-archive:`). `index.json` lists manifests; an index is followed to its linux/amd64 entry
//! (the platform Syft picks by default on these machines).
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::tarindex::TarIndex;
use super::{checked_digest, parse_config, verifying, ImageSource, LayerDescriptor};
use crate::error::Error;
use crate::model::{SourceInfo, SourceKind};

#[derive(serde::Deserialize)]
struct Descriptor {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    platform: Option<Platform>,
    annotations: Option<std::collections::HashMap<String, String>>,
}

#[derive(serde::Deserialize)]
struct Platform {
    architecture: String,
    os: String,
}

#[derive(serde::Deserialize)]
struct IndexOrManifest {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    #[serde(default)]
    manifests: Vec<Descriptor>,
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Vec<Descriptor>,
}

/// Reads blobs by digest from a layout.
trait BlobStore {
    fn read_blob_small(&self, digest: &str) -> Result<Vec<u8>, Error>;
    fn open_blob(&self, digest: &str) -> Result<Box<dyn Read + Send>, Error>;
}

fn blob_path(digest: &str) -> Result<String, Error> {
    let (alg, hex) = checked_digest(digest)?;
    Ok(format!("blobs/{alg}/{hex}"))
}

fn json<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, Error> {
    serde_json::from_slice(bytes).map_err(|e| Error::Json {
        what: what.to_string(),
        source: e,
    })
}

/// Reads a small blob whole and checks its digest.
fn verified_small(store: &dyn BlobStore, digest: &str) -> Result<Vec<u8>, Error> {
    let bytes = store.read_blob_small(digest)?;
    let (mut r, h) = verifying(&bytes[..], Some(digest));
    std::io::copy(&mut r, &mut std::io::sink())
        .map_err(|e| Error::invalid(digest, e.to_string()))?;
    h.finish()
        .map_err(|e| Error::invalid(digest, e.to_string()))?;
    Ok(bytes)
}

/// Walks index.json → (index →) manifest → config, and builds the source description.
fn load(
    store: &dyn BlobStore,
    index_json: &[u8],
    input: &str,
    name: &str,
) -> Result<(SourceInfo, Vec<LayerDescriptor>), Error> {
    let index: IndexOrManifest = json(index_json, "index.json")?;
    let mut tag = None;
    let mut desc = pick(&index.manifests, "index.json")?;
    if let Some(t) = desc
        .annotations
        .as_ref()
        .and_then(|a| a.get("org.opencontainers.image.ref.name"))
    {
        tag = Some(t.clone());
    }
    let mut digest = desc.digest.clone();
    let mut bytes = verified_small(store, &digest)?;
    // Follow nested indexes (multi-platform images) a bounded number of times.
    for _ in 0..4 {
        let m: IndexOrManifest = json(&bytes, &digest)?;
        if m.manifests.is_empty() || m.media_type.contains("manifest.v1") {
            break;
        }
        desc = pick(&m.manifests, &digest)?;
        digest = desc.digest.clone();
        bytes = verified_small(store, &digest)?;
    }
    let manifest: IndexOrManifest = json(&bytes, &digest)?;
    let config = manifest
        .config
        .as_ref()
        .ok_or_else(|| Error::invalid(&digest, "manifest has no config"))?;
    let config_bytes = verified_small(store, &config.digest)?;
    let (architecture, os, diff_ids) = parse_config(&config_bytes, &config.digest)?;
    if diff_ids.len() != manifest.layers.len() {
        return Err(Error::invalid(
            &digest,
            format!(
                "{} layers but {} diffIDs in the config",
                manifest.layers.len(),
                diff_ids.len()
            ),
        ));
    }
    let layers = manifest
        .layers
        .iter()
        .zip(diff_ids.iter())
        .map(|(l, d)| LayerDescriptor {
            digest: Some(l.digest.clone()),
            diff_id: d.clone(),
            media_type: l.media_type.clone(),
        })
        .collect();
    let info = SourceInfo {
        input: input.to_string(),
        name: name.to_string(),
        kind: SourceKind::Image,
        manifest_digest: Some(digest),
        tag,
        architecture,
        os,
        layers: diff_ids,
    };
    Ok((info, layers))
}

/// linux/amd64 if the list says platforms, else the first entry.
fn pick<'a>(list: &'a [Descriptor], what: &str) -> Result<&'a Descriptor, Error> {
    list.iter()
        .find(|d| {
            d.platform
                .as_ref()
                .is_some_and(|p| p.os == "linux" && p.architecture == "amd64")
        })
        .or_else(|| list.first())
        .ok_or_else(|| Error::invalid(what, "lists no manifests"))
}

/// An OCI image layout directory.
#[derive(Debug)]
pub struct OciDir {
    root: PathBuf,
    info: SourceInfo,
    layers: Vec<LayerDescriptor>,
}

struct DirStore<'a>(&'a Path);

impl BlobStore for DirStore<'_> {
    fn read_blob_small(&self, digest: &str) -> Result<Vec<u8>, Error> {
        let p = self.0.join(blob_path(digest)?);
        let mut out = Vec::new();
        File::open(&p)
            .and_then(|f| f.take(16 << 20).read_to_end(&mut out))
            .map_err(|e| Error::io(&p, e))?;
        Ok(out)
    }
    fn open_blob(&self, digest: &str) -> Result<Box<dyn Read + Send>, Error> {
        let p = self.0.join(blob_path(digest)?);
        Ok(Box::new(File::open(&p).map_err(|e| Error::io(&p, e))?))
    }
}

impl OciDir {
    pub fn open(path: &Path, input: &str) -> Result<OciDir, Error> {
        let ip = path.join("index.json");
        let index = std::fs::read(&ip).map_err(|e| Error::io(&ip, e))?;
        let (info, layers) = load(&DirStore(path), &index, input, &path.display().to_string())?;
        Ok(OciDir {
            root: path.to_path_buf(),
            info,
            layers,
        })
    }
}

impl ImageSource for OciDir {
    fn info(&self) -> &SourceInfo {
        &self.info
    }
    fn layers(&self) -> &[LayerDescriptor] {
        &self.layers
    }
    fn open_layer(&self, index: usize) -> Result<Box<dyn Read + Send + '_>, Error> {
        let d = self
            .layers
            .get(index)
            .and_then(|l| l.digest.as_deref())
            .ok_or_else(|| Error::invalid("layer", format!("no layer {index}")))?;
        DirStore(&self.root).open_blob(d)
    }
}

/// A tar of an OCI image layout.
#[derive(Debug)]
pub struct OciArchive {
    tar: TarIndex,
    info: SourceInfo,
    layers: Vec<LayerDescriptor>,
}

struct ArchiveStore<'a>(&'a TarIndex);

impl BlobStore for ArchiveStore<'_> {
    fn read_blob_small(&self, digest: &str) -> Result<Vec<u8>, Error> {
        self.0.read_small(&blob_path(digest)?)
    }
    fn open_blob(&self, digest: &str) -> Result<Box<dyn Read + Send>, Error> {
        Ok(Box::new(self.0.open_member(&blob_path(digest)?)?))
    }
}

impl OciArchive {
    pub fn open(path: &Path, input: &str) -> Result<OciArchive, Error> {
        let tar = TarIndex::open(path)?;
        let index = tar.read_small("index.json")?;
        let (info, layers) = load(
            &ArchiveStore(&tar),
            &index,
            input,
            &path.display().to_string(),
        )?;
        Ok(OciArchive { tar, info, layers })
    }
}

impl ImageSource for OciArchive {
    fn info(&self) -> &SourceInfo {
        &self.info
    }
    fn layers(&self) -> &[LayerDescriptor] {
        &self.layers
    }
    fn open_layer(&self, index: usize) -> Result<Box<dyn Read + Send + '_>, Error> {
        let d = self
            .layers
            .get(index)
            .and_then(|l| l.digest.as_deref())
            .ok_or_else(|| Error::invalid("layer", format!("no layer {index}")))?;
        ArchiveStore(&self.tar).open_blob(d)
    }
}
