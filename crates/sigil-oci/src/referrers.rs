//! Sigstore bundles stored as OCI 1.1 referrers, as cosign v3 (and `attest
//! --new-bundle-format`) writes them (cosign `pkg/oci/remote/write.go` `WriteReferrer`,
//! `specs/BUNDLE_SPEC.md`): an image manifest with `artifactType`
//! `application/vnd.dev.sigstore.bundle.v0.3+json`, the empty config, one layer holding the
//! bundle JSON, `subject` = the signed image, pushed by digest.
//!
//! Registries that implement the referrers API index the manifest themselves (they answer
//! `OCI-Subject`). For the others the writer maintains the tag-schema fallback index
//! (`sha256-<hex>`, image-spec `manifest.md` "Referrers Tag Schema"): read it, add the new
//! descriptor, push it back. Like every client of that schema this is read-modify-write and
//! racy between concurrent writers; the referrer manifest itself is never lost (it is pushed
//! by digest first), only its listing.

use std::collections::BTreeMap;

use bytes::Bytes;
use sigil_core::{media_types, Digest, ImageRef};

use crate::client::referrers_tag;
use crate::manifest::{to_json, Descriptor, ImageManifest};
use crate::{Client, Error};

/// cosign's annotation naming what the bundle holds (`dsse-envelope`, `message-signature`).
pub const ANNOTATION_BUNDLE_CONTENT: &str = "dev.sigstore.bundle.content";
/// cosign's annotation carrying the DSSE statement's predicate type.
pub const ANNOTATION_PREDICATE_TYPE: &str = "dev.sigstore.bundle.predicateType";
/// The OCI annotation with the creation time.
pub const ANNOTATION_CREATED: &str = "org.opencontainers.image.created";
/// Largest bundle blob read (an attestation bundle holds the whole statement).
pub const MAX_BUNDLE_BLOB: u64 = 64 << 20;
/// Most referrers examined for one digest.
pub const MAX_REFERRERS: usize = 1000;

/// What [`push_bundle_referrer`] did.
#[derive(Clone, Debug)]
pub struct PushedReferrer {
    /// The referrer manifest, by digest.
    pub reference: ImageRef,
    pub manifest_digest: Digest,
    /// `true` when the registry indexes referrers itself; `false` when sigil updated the
    /// `sha256-<hex>` fallback index.
    pub registry_indexed: bool,
}

/// One bundle found among a digest's referrers.
#[derive(Clone, Debug)]
pub struct BundleReferrer {
    /// The referrer manifest's descriptor (as listed, with its annotations).
    pub descriptor: Descriptor,
    /// The bundle JSON (digest-verified).
    pub bundle: Bytes,
}

/// Pushes `bundle_json` as a referrer of `subject` in `repo`.
pub async fn push_bundle_referrer(
    client: &Client,
    repo: &ImageRef,
    subject: &Descriptor,
    bundle_json: Bytes,
    annotations: BTreeMap<String, String>,
) -> Result<PushedReferrer, Error> {
    let empty = Bytes::from_static(b"{}");
    let config = Descriptor::for_bytes(media_types::OCI_EMPTY, &empty);
    client.push_blob(repo, &config.digest, empty).await?;
    let layer = Descriptor::for_bytes(media_types::SIGSTORE_BUNDLE_V03, &bundle_json);
    client.push_blob(repo, &layer.digest, bundle_json).await?;
    let mut subject = subject.clone();
    subject.annotations.clear();
    subject.artifact_type = None;
    subject.platform = None;
    let manifest = ImageManifest {
        schema_version: 2,
        media_type: Some(media_types::OCI_MANIFEST.to_owned()),
        artifact_type: Some(media_types::SIGSTORE_BUNDLE_V03.to_owned()),
        config,
        layers: vec![layer],
        subject: Some(subject.clone()),
        annotations: annotations.clone(),
    };
    let bytes = Bytes::from(to_json(&manifest));
    let digest = Digest::sha256(&bytes);
    let pushed = client
        .put_manifest(
            repo,
            &digest.to_string(),
            bytes.clone(),
            media_types::OCI_MANIFEST,
        )
        .await?;
    if !pushed.subject_indexed {
        let mut entry = Descriptor::for_bytes(media_types::OCI_MANIFEST, &bytes);
        entry.artifact_type = Some(media_types::SIGSTORE_BUNDLE_V03.to_owned());
        entry.annotations = annotations;
        add_to_fallback_index(client, repo, &subject.digest, entry).await?;
    }
    Ok(PushedReferrer {
        reference: repo.with_digest(pushed.digest.clone()),
        manifest_digest: pushed.digest,
        registry_indexed: pushed.subject_indexed,
    })
}

/// Adds `entry` to the `sha256-<hex>` fallback index of `subject` (created when missing).
async fn add_to_fallback_index(
    client: &Client,
    repo: &ImageRef,
    subject: &Digest,
    entry: Descriptor,
) -> Result<(), Error> {
    let mut index = client.referrers_fallback(repo, subject).await?;
    if index.manifests.iter().any(|d| d.digest == entry.digest) {
        return Ok(());
    }
    if index.manifests.len() >= MAX_REFERRERS {
        return Err(Error::TooLarge {
            what: format!("referrers index of `{}@{subject}`", repo.name()),
            limit: MAX_REFERRERS as u64,
        });
    }
    index.media_type = Some(media_types::OCI_INDEX.to_owned());
    index.manifests.push(entry);
    client
        .put_manifest(
            repo,
            &referrers_tag(subject),
            Bytes::from(to_json(&index)),
            media_types::OCI_INDEX,
        )
        .await?;
    Ok(())
}

/// The Sigstore bundles among `digest`'s referrers in `repo` (API or fallback index), as
/// cosign selects them: manifests of a bundle artifact type with exactly one layer whose
/// media type is a Sigstore bundle's. Blobs over [`MAX_BUNDLE_BLOB`] are an error.
pub async fn fetch_bundle_referrers(
    client: &Client,
    repo: &ImageRef,
    digest: &Digest,
) -> Result<Vec<BundleReferrer>, Error> {
    let index = client.referrers(repo, digest, None).await?;
    let mut out = Vec::new();
    for d in index
        .manifests
        .into_iter()
        .filter(|d| is_bundle_type(d.artifact_type.as_deref()))
        .take(MAX_REFERRERS)
    {
        let m = client
            .get_manifest(&repo.with_digest(d.digest.clone()))
            .await?;
        let parsed: ImageManifest =
            serde_json::from_slice(&m.bytes).map_err(|e| Error::Malformed {
                what: format!("referrer manifest {}", d.digest),
                detail: e.to_string(),
            })?;
        let [layer] = parsed.layers.as_slice() else {
            continue;
        };
        if !layer
            .media_type
            .starts_with("application/vnd.dev.sigstore.bundle")
        {
            continue;
        }
        if parsed.subject.as_ref().map(|s| &s.digest) != Some(digest) {
            continue;
        }
        if layer.size > MAX_BUNDLE_BLOB {
            return Err(Error::TooLarge {
                what: format!("bundle layer {}", layer.digest),
                limit: MAX_BUNDLE_BLOB,
            });
        }
        let bundle = client
            .get_blob_limited(repo, &layer.digest, MAX_BUNDLE_BLOB)
            .await?;
        let mut descriptor = d;
        if descriptor.annotations.is_empty() {
            descriptor.annotations = parsed.annotations;
        }
        out.push(BundleReferrer { descriptor, bundle });
    }
    Ok(out)
}

/// Whether a referrer's artifact type is a Sigstore bundle (v0.3 media type, or the
/// parameterised `application/vnd.dev.sigstore.bundle+json;version=…`).
pub fn is_bundle_type(artifact_type: Option<&str>) -> bool {
    artifact_type.is_some_and(|t| t.starts_with("application/vnd.dev.sigstore.bundle"))
}
