//! Images in a registry, through `sigil_oci::Client`: the reference is resolved, an index is
//! followed to its linux/amd64 manifest (Syft's default platform here), the config is read,
//! and each layer blob is streamed (the client verifies its digest as the last chunk passes).
//!
//! The scan itself is synchronous (it reads layers on worker threads); each `open_layer`
//! starts a task on the async runtime that feeds blob chunks into a bounded channel (16
//! chunks: backpressure), so a layer is never buffered whole, in memory or on disk.
use std::io::Read;
use std::str::FromStr;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use sigil_core::ImageRef;
use sigil_oci::{Client, ImageIndex, ImageManifest};

use super::{parse_config, ImageSource, LayerDescriptor};
use crate::error::Error;
use crate::model::{SourceInfo, SourceKind};

/// An image in a registry.
#[derive(Debug)]
pub struct RegistrySource {
    client: Arc<Client>,
    image: ImageRef,
    runtime: tokio::runtime::Handle,
    info: SourceInfo,
    layers: Vec<LayerDescriptor>,
    blobs: Vec<sigil_core::Digest>,
}

fn reg_err(reference: &str, e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::Registry {
        reference: reference.to_string(),
        source: Box::new(e),
    }
}

const INDEX_TYPES: [&str; 2] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

impl RegistrySource {
    /// Resolves `reference` and reads its manifest and config. Must be called inside a tokio
    /// runtime; layers are later streamed on that runtime.
    pub async fn open(
        client: Arc<Client>,
        reference: &str,
        input: &str,
    ) -> Result<RegistrySource, Error> {
        let image = ImageRef::from_str(reference).map_err(|e| reg_err(reference, e))?;
        let mut manifest = client
            .get_manifest(&image)
            .await
            .map_err(|e| reg_err(reference, e))?;
        if INDEX_TYPES.contains(&manifest.media_type.as_str()) {
            let index: ImageIndex =
                serde_json::from_slice(&manifest.bytes).map_err(|e| Error::Json {
                    what: format!("index of `{reference}`"),
                    source: e,
                })?;
            let pick = index
                .manifests
                .iter()
                .find(|d| {
                    d.platform
                        .as_ref()
                        .is_some_and(|p| p.os == "linux" && p.architecture == "amd64")
                })
                .ok_or_else(|| Error::invalid(reference, "the index has no linux/amd64 image"))?;
            manifest = client
                .get_manifest(&image.with_digest(pick.digest.clone()))
                .await
                .map_err(|e| reg_err(reference, e))?;
        }
        let m: ImageManifest =
            serde_json::from_slice(&manifest.bytes).map_err(|e| Error::Json {
                what: format!("manifest of `{reference}`"),
                source: e,
            })?;
        let config = client
            .get_blob_limited(&image, &m.config.digest, 16 << 20)
            .await
            .map_err(|e| reg_err(reference, e))?;
        let (architecture, os, diff_ids) = parse_config(&config, &m.config.digest.to_string())?;
        if diff_ids.len() != m.layers.len() {
            return Err(Error::invalid(
                reference,
                format!(
                    "{} layers but {} diffIDs in the config",
                    m.layers.len(),
                    diff_ids.len()
                ),
            ));
        }
        let layers = m
            .layers
            .iter()
            .zip(&diff_ids)
            .map(|(l, d)| LayerDescriptor {
                // The client checks the blob digest itself (its stream ends in an error on
                // mismatch), so the generic reader does not hash it a second time.
                digest: None,
                diff_id: d.clone(),
                media_type: l.media_type.clone(),
            })
            .collect();
        let blobs = m.layers.iter().map(|l| l.digest.clone()).collect();
        let info = SourceInfo {
            input: input.to_string(),
            // Syft names the document after the repository (`alpine` for `alpine:3.19`).
            name: image
                .repository()
                .rsplit('/')
                .next()
                .unwrap_or(image.repository())
                .to_string(),
            kind: SourceKind::Image,
            manifest_digest: Some(manifest.digest.to_string()),
            tag: image.tag().map(str::to_string),
            architecture,
            os,
            layers: diff_ids,
        };
        Ok(RegistrySource {
            client,
            image,
            runtime: tokio::runtime::Handle::current(),
            info,
            layers,
            blobs,
        })
    }
}

/// Reads chunks a runtime task sends.
struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>,
    current: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            // The scan reads layers on plain threads, never on the runtime, so blocking here
            // is allowed.
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.current = b,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        let chunk = self.current.split_to(n);
        if let Some(dst) = buf.get_mut(..n) {
            dst.copy_from_slice(&chunk);
        }
        Ok(n)
    }
}

impl ImageSource for RegistrySource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }
    fn layers(&self) -> &[LayerDescriptor] {
        &self.layers
    }
    fn open_layer(&self, index: usize) -> Result<Box<dyn Read + Send + '_>, Error> {
        let digest = self
            .blobs
            .get(index)
            .cloned()
            .ok_or_else(|| Error::invalid("layer", format!("no layer {index}")))?;
        let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(16);
        let client = self.client.clone();
        let image = self.image.clone();
        self.runtime.spawn(async move {
            let stream = match client.blob_stream(&image, &digest).await {
                Ok(s) => s,
                Err(e) => {
                    let _ = tx.send(Err(std::io::Error::other(e))).await;
                    return;
                }
            };
            futures_util::pin_mut!(stream);
            while let Some(item) = stream.next().await {
                let item = item.map_err(std::io::Error::other);
                let failed = item.is_err();
                // A full channel makes this task wait for the reader (backpressure).
                if tx.send(item).await.is_err() || failed {
                    return;
                }
            }
        });
        Ok(Box::new(ChannelReader {
            rx,
            current: Bytes::new(),
        }))
    }
}
