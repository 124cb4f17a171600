//! `docker save` archives: `manifest.json` (`[{Config, RepoTags, Layers}]`), a config JSON and
//! one tar (or compressed tar) per layer. The first image in the manifest is scanned, as Syft does.
use std::io::Read;
use std::path::Path;

use super::tarindex::TarIndex;
use super::{parse_config, ImageSource, LayerDescriptor};
use crate::error::Error;
use crate::model::{SourceInfo, SourceKind};

#[derive(serde::Deserialize)]
struct Entry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    layers: Vec<String>,
}

/// A docker-save archive.
#[derive(Debug)]
pub struct DockerArchive {
    tar: TarIndex,
    info: SourceInfo,
    layers: Vec<LayerDescriptor>,
    layer_paths: Vec<String>,
}

impl DockerArchive {
    pub fn open(path: &Path, input: &str) -> Result<DockerArchive, Error> {
        let tar = TarIndex::open(path)?;
        let manifest = tar.read_small("manifest.json")?;
        let entries: Vec<Entry> = serde_json::from_slice(&manifest).map_err(|e| Error::Json {
            what: "manifest.json".into(),
            source: e,
        })?;
        let entry = entries
            .into_iter()
            .next()
            .ok_or_else(|| Error::invalid("manifest.json", "lists no images"))?;
        let config = tar.read_small(&entry.config)?;
        let (architecture, os, diff_ids) = parse_config(&config, &entry.config)?;
        if diff_ids.len() != entry.layers.len() {
            return Err(Error::invalid(
                "manifest.json",
                format!(
                    "{} layers but {} diffIDs in the config",
                    entry.layers.len(),
                    diff_ids.len()
                ),
            ));
        }
        for l in &entry.layers {
            if !tar.contains(l) {
                return Err(Error::invalid(
                    "manifest.json",
                    format!("layer `{l}` is not in the archive"),
                ));
            }
        }
        // Syft identifies a docker archive by the config digest (the image ID).
        let config_digest = format!(
            "sha256:{}",
            hex::encode(ring::digest::digest(&ring::digest::SHA256, &config))
        );
        let tag = entry
            .repo_tags
            .as_ref()
            .and_then(|t| t.first())
            .and_then(|t| t.rsplit_once(':').map(|(_, tag)| tag.to_string()));
        let layers = diff_ids
            .iter()
            .map(|d| LayerDescriptor {
                // The archive's layer files are named by path, not digest: integrity comes from
                // the diffID, which is not re-hashed (it would cost a second hash of every byte).
                digest: None,
                diff_id: d.clone(),
                media_type: String::new(),
            })
            .collect();
        let info = SourceInfo {
            input: input.to_string(),
            name: path.display().to_string(),
            kind: SourceKind::Image,
            manifest_digest: Some(config_digest),
            tag,
            architecture,
            os,
            layers: diff_ids,
        };
        Ok(DockerArchive {
            tar,
            info,
            layers,
            layer_paths: entry.layers,
        })
    }
}

impl ImageSource for DockerArchive {
    fn info(&self) -> &SourceInfo {
        &self.info
    }
    fn layers(&self) -> &[LayerDescriptor] {
        &self.layers
    }
    fn open_layer(&self, index: usize) -> Result<Box<dyn Read + Send + '_>, Error> {
        let p = self
            .layer_paths
            .get(index)
            .ok_or_else(|| Error::invalid("layer", format!("no layer {index}")))?;
        Ok(Box::new(self.tar.open_member(p)?))
    }
}
