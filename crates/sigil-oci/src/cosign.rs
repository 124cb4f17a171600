//! cosign's "legacy" storage of signatures and attestations (cosign `specs/SIGNATURE_SPEC.md`):
//! an OCI image tagged `sha256-<hex>.sig` (`.att`, `.sbom`) in the image's repository (or
//! `COSIGN_REPOSITORY`), one layer per signature, the layer blob being the signed payload and
//! its annotations carrying the signature, certificate, chain and Rekor bundle.
//!
//! Adding a signature re-pushes the tag with one more layer. The new layer's blob and the new
//! config are uploaded before the manifest, and the manifest PUT is the only write that
//! changes what the tag means, so a failed push leaves the previous `.sig` intact.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::Serialize;
use sigil_core::{media_types, Digest, ImageRef};

use crate::manifest::{to_json, Descriptor, ImageManifest};
use crate::{Client, Error};

/// Most layers one `.sig` image may hold (cosign caps it at 1000 too).
pub const MAX_LAYERS: usize = 1000;
/// Largest layer blob read (an attestation's DSSE envelope can be several MiB).
pub const MAX_LAYER_SIZE: u64 = 64 << 20;

/// Which attachment: signatures, attestations or (deprecated) SBOMs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attachment {
    Signature,
    Attestation,
    Sbom,
}

impl Attachment {
    pub fn suffix(self) -> &'static str {
        match self {
            Attachment::Signature => "sig",
            Attachment::Attestation => "att",
            Attachment::Sbom => "sbom",
        }
    }
}

/// The tag holding `digest`'s attachments: `sha256-<hex>.sig`.
pub fn attachment_tag(digest: &Digest, kind: Attachment) -> String {
    format!(
        "{}-{}.{}",
        digest.algorithm().as_str(),
        digest.hex(),
        kind.suffix()
    )
}

/// One layer of a `.sig`/`.att` image: the payload and its annotations.
#[derive(Clone, Debug)]
pub struct SignatureLayer {
    pub descriptor: Descriptor,
    pub payload: Bytes,
}

impl SignatureLayer {
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.descriptor.annotations.get(key).map(String::as_str)
    }

    /// Base64 of the signature (`dev.cosignproject.cosign/signature`).
    pub fn signature_b64(&self) -> Option<&str> {
        self.annotation(media_types::ANNOTATION_SIGNATURE)
    }

    /// Leaf certificate PEM (keyless signatures).
    pub fn certificate(&self) -> Option<&str> {
        self.annotation(media_types::ANNOTATION_CERTIFICATE)
            .filter(|s| !s.is_empty())
    }

    /// Intermediate and root PEM.
    pub fn chain(&self) -> Option<&str> {
        self.annotation(media_types::ANNOTATION_CHAIN)
            .filter(|s| !s.is_empty())
    }

    /// Rekor bundle JSON.
    pub fn bundle(&self) -> Option<&str> {
        self.annotation(media_types::ANNOTATION_BUNDLE)
            .filter(|s| !s.is_empty())
    }
}

/// Fetches the layers attached to `digest` in `repo`. `None` when the tag does not exist (no
/// signatures); every layer blob is digest-verified.
pub async fn fetch_layers(
    client: &Client,
    repo: &ImageRef,
    digest: &Digest,
    kind: Attachment,
) -> Result<Option<Vec<SignatureLayer>>, Error> {
    let tag_ref = repo
        .with_tag(&attachment_tag(digest, kind))
        .map_err(|e| Error::Malformed {
            what: "attachment tag".into(),
            detail: e.to_string(),
        })?;
    let manifest = match client.get_manifest(&tag_ref).await {
        Ok(m) => m,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e),
    };
    let parsed: ImageManifest =
        serde_json::from_slice(&manifest.bytes).map_err(|e| Error::Malformed {
            what: format!("signature manifest `{tag_ref}`"),
            detail: e.to_string(),
        })?;
    if parsed.layers.len() > MAX_LAYERS {
        return Err(Error::TooLarge {
            what: format!(
                "signature manifest `{tag_ref}` ({} layers)",
                parsed.layers.len()
            ),
            limit: MAX_LAYERS as u64,
        });
    }
    let mut out = Vec::with_capacity(parsed.layers.len());
    for layer in parsed.layers {
        if layer.size > MAX_LAYER_SIZE {
            return Err(Error::TooLarge {
                what: format!("signature layer {}", layer.digest),
                limit: MAX_LAYER_SIZE,
            });
        }
        let payload = client
            .get_blob_limited(repo, &layer.digest, MAX_LAYER_SIZE)
            .await?;
        out.push(SignatureLayer {
            descriptor: layer,
            payload,
        });
    }
    Ok(Some(out))
}

/// A layer to attach.
#[derive(Clone, Debug)]
pub struct NewLayer {
    pub media_type: String,
    pub payload: Bytes,
    pub annotations: BTreeMap<String, String>,
}

/// What [`attach_layer`] did.
#[derive(Clone, Debug)]
pub struct Attached {
    /// The `.sig`/`.att` reference written.
    pub reference: ImageRef,
    /// Digest of the new manifest.
    pub manifest_digest: Digest,
    /// The identical layer was already there; nothing was pushed.
    pub already_present: bool,
}

/// The config cosign writes for signature images (go-containerregistry's empty image plus
/// one history entry and diff ID per layer); verifiers ignore it.
#[derive(Serialize)]
struct SignatureConfig<'a> {
    architecture: &'a str,
    created: &'a str,
    history: Vec<History<'a>>,
    os: &'a str,
    rootfs: RootFs,
    config: serde_json::Map<String, serde_json::Value>,
}

#[derive(Serialize)]
struct History<'a> {
    created: &'a str,
}

#[derive(Serialize)]
struct RootFs {
    #[serde(rename = "type")]
    kind: &'static str,
    diff_ids: Vec<Digest>,
}

const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Appends `layer` to `digest`'s attachment image in `repo`, keeping the layers already there.
pub async fn attach_layer(
    client: &Client,
    repo: &ImageRef,
    digest: &Digest,
    kind: Attachment,
    layer: NewLayer,
) -> Result<Attached, Error> {
    let mut descriptor = Descriptor::for_bytes(&layer.media_type, &layer.payload);
    descriptor.annotations = layer.annotations;
    attach(client, repo, digest, kind, descriptor, Some(layer.payload)).await
}

async fn attach(
    client: &Client,
    repo: &ImageRef,
    digest: &Digest,
    kind: Attachment,
    descriptor: Descriptor,
    payload: Option<Bytes>,
) -> Result<Attached, Error> {
    let staged = stage_attachment(client, repo, digest, kind, &descriptor.digest).await?;
    if let Some(payload) = payload {
        if !staged.holds(&descriptor) {
            staged.check_room()?;
            client.push_blob(repo, &descriptor.digest, payload).await?;
        }
    }
    staged.finish(client, repo, descriptor).await
}

/// The first half of appending a layer with digest `layer` to `digest`'s attachment image:
/// reads the layers there now and pushes the config of the manifest that will add `layer`.
/// It depends on nothing but the layer's digest, so it can run while the layer's blob
/// uploads and its annotations are not yet known; [`StagedAttachment::finish`] writes the
/// manifest. (If the layer turns out to be there already, the config pushed is left
/// unreferenced, as after any failed push.)
pub async fn stage_attachment(
    client: &Client,
    repo: &ImageRef,
    digest: &Digest,
    kind: Attachment,
    layer: &Digest,
) -> Result<StagedAttachment, Error> {
    let tag = attachment_tag(digest, kind);
    let tag_ref = repo.with_tag(&tag).map_err(|e| Error::Malformed {
        what: "attachment tag".into(),
        detail: e.to_string(),
    })?;
    let layers = match client.get_manifest(&tag_ref).await {
        Ok(m) => {
            let parsed: ImageManifest =
                serde_json::from_slice(&m.bytes).map_err(|e| Error::Malformed {
                    what: format!("existing signature manifest `{tag_ref}`"),
                    detail: e.to_string(),
                })?;
            parsed.layers
        }
        Err(e) if e.is_not_found() => Vec::new(),
        Err(e) => return Err(e),
    };
    let mut diff_ids: Vec<Digest> = layers.iter().map(|l| l.digest.clone()).collect();
    diff_ids.push(layer.clone());
    let config = SignatureConfig {
        architecture: "",
        created: ZERO_TIME,
        history: diff_ids
            .iter()
            .map(|_| History { created: ZERO_TIME })
            .collect(),
        os: "",
        rootfs: RootFs {
            kind: "layers",
            diff_ids,
        },
        config: serde_json::Map::new(),
    };
    let config_bytes = Bytes::from(to_json(&config));
    let config = Descriptor::for_bytes(media_types::OCI_CONFIG, &config_bytes);
    let full = layers.len() >= MAX_LAYERS;
    if !full {
        client.push_blob(repo, &config.digest, config_bytes).await?;
    }
    Ok(StagedAttachment {
        tag,
        tag_ref,
        layers,
        config,
        layer: layer.clone(),
    })
}

/// An attachment image read, with the config of its next version pushed: see
/// [`stage_attachment`].
#[derive(Debug)]
pub struct StagedAttachment {
    tag: String,
    tag_ref: ImageRef,
    layers: Vec<Descriptor>,
    config: Descriptor,
    layer: Digest,
}

impl StagedAttachment {
    /// The attachment holds `descriptor` already (same digest and annotations).
    fn holds(&self, descriptor: &Descriptor) -> bool {
        self.layers
            .iter()
            .any(|l| l.digest == descriptor.digest && l.annotations == descriptor.annotations)
    }

    /// Refuses a layer past [`MAX_LAYERS`].
    fn check_room(&self) -> Result<(), Error> {
        if self.layers.len() >= MAX_LAYERS {
            return Err(Error::TooLarge {
                what: format!(
                    "`{}` already holds {} layers",
                    self.tag_ref,
                    self.layers.len()
                ),
                limit: MAX_LAYERS as u64,
            });
        }
        Ok(())
    }

    /// Writes the manifest that appends `descriptor` (whose blob is in `repo`, and whose
    /// digest is the one staged) to the layers read, unless it is there already.
    pub async fn finish(
        self,
        client: &Client,
        repo: &ImageRef,
        descriptor: Descriptor,
    ) -> Result<Attached, Error> {
        if self.holds(&descriptor) {
            return Ok(Attached {
                manifest_digest: client.resolve(&self.tag_ref).await?.digest,
                reference: self.tag_ref,
                already_present: true,
            });
        }
        self.check_room()?;
        if descriptor.digest != self.layer {
            return Err(Error::Malformed {
                what: format!("layer for `{}`", self.tag_ref),
                detail: format!("staged for {} but given {}", self.layer, descriptor.digest),
            });
        }
        let mut layers = self.layers;
        layers.push(descriptor);
        let manifest = ImageManifest {
            schema_version: 2,
            media_type: Some(media_types::OCI_MANIFEST.to_owned()),
            artifact_type: None,
            config: self.config,
            layers,
            subject: None,
            annotations: BTreeMap::new(),
        };
        let pushed = client
            .put_manifest(
                repo,
                &self.tag,
                Bytes::from(to_json(&manifest)),
                media_types::OCI_MANIFEST,
            )
            .await?;
        Ok(Attached {
            reference: self.tag_ref,
            manifest_digest: pushed.digest,
            already_present: false,
        })
    }
}
