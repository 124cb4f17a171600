//! `sigil tree IMAGE`: cosign's `tree` — what is attached to an image: the legacy
//! `sha256-<hex>.sig`, `.att` and `.sbom` images (one line per layer) and the OCI 1.1
//! referrers (referrers API or the `sha256-<hex>` fallback index), bundles with their
//! predicate type. Only manifests are read, no layer blobs.
//!
//! Exit codes: 0 listed (even when nothing is attached); 11 image tag not found; 1 errors.

use std::process::ExitCode;

use anyhow::Context;
use sigil_core::ImageRef;
use sigil_oci::cosign::{attachment_tag, Attachment};
use sigil_oci::referrers::ANNOTATION_PREDICATE_TYPE;
use sigil_oci::{Client, ImageManifest};

use super::registry_opts::RegistryOpts;

#[derive(Debug, clap::Args)]
pub struct TreeArgs {
    /// Print JSON (`{"signatures":[…],"attestations":[…],"sboms":[…],"referrers":[…]}`)
    /// instead of the tree.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub registry: RegistryOpts,
    /// The image.
    pub image: String,
}

/// The layers of one legacy attachment image, `None` when the tag does not exist.
async fn legacy(
    client: &Client,
    repo: &ImageRef,
    digest: &sigil_core::Digest,
    kind: Attachment,
) -> anyhow::Result<Option<(ImageRef, ImageManifest)>> {
    let tag = repo.with_tag(&attachment_tag(digest, kind))?;
    match client.get_manifest(&tag).await {
        Ok(m) => {
            let parsed: ImageManifest =
                serde_json::from_slice(&m.bytes).with_context(|| format!("parsing `{tag}`"))?;
            Ok(Some((tag, parsed)))
        }
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(anyhow::Error::new(e).context(format!("fetching `{tag}`"))),
    }
}

pub async fn run(a: TreeArgs) -> anyhow::Result<ExitCode> {
    let image: ImageRef = a.image.parse().context("parsing the image reference")?;
    let client = a.registry.client()?;
    let digest = super::resolve_digest(&client, &image).await?;
    let repo = super::signature_repository()?.unwrap_or_else(|| image.clone());
    let mut sections = Vec::new();
    for (kind, icon, title, key) in [
        (Attachment::Signature, "🔐", "Signatures", "signatures"),
        (
            Attachment::Attestation,
            "💾",
            "Attestations",
            "attestations",
        ),
        (Attachment::Sbom, "📦", "SBOMs", "sboms"),
    ] {
        let found = legacy(&client, &repo, &digest, kind).await?;
        sections.push((icon, title, key, found));
    }
    let referrers = client
        .referrers(&repo, &digest, None)
        .await
        .with_context(|| format!("listing the referrers of `{}@{digest}`", repo.name()))?;
    if a.json {
        let mut out = serde_json::Map::new();
        for (_, _, key, found) in &sections {
            let layers: Vec<serde_json::Value> = found
                .iter()
                .flat_map(|(_, m)| m.layers.iter())
                .map(|l| {
                    serde_json::json!({
                        "digest": l.digest.to_string(),
                        "mediaType": l.media_type,
                        "predicateType": l.annotations.get("predicateType"),
                    })
                })
                .collect();
            out.insert((*key).to_owned(), layers.into());
        }
        let refs: Vec<serde_json::Value> = referrers
            .manifests
            .iter()
            .map(|d| {
                serde_json::json!({
                    "digest": d.digest.to_string(),
                    "artifactType": d.artifact_type,
                    "predicateType": d.annotations.get(ANNOTATION_PREDICATE_TYPE),
                })
            })
            .collect();
        out.insert("referrers".into(), refs.into());
        println!("{}", serde_json::Value::Object(out));
        return Ok(ExitCode::SUCCESS);
    }
    println!("📦 Supply Chain Security Related artifacts for an image: {image}");
    let mut any = false;
    for (icon, title, _, found) in &sections {
        let Some((tag, manifest)) = found else {
            continue;
        };
        any = true;
        println!("└── {icon} {title} for an image tag: {tag}");
        for l in &manifest.layers {
            match l.annotations.get("predicateType") {
                Some(t) => println!("   └── 🍒 {} ({t})", l.digest),
                None => println!("   └── 🍒 {}", l.digest),
            }
        }
    }
    if !referrers.manifests.is_empty() {
        any = true;
        println!("└── 🔗 Referrers of {}@{digest}", repo.name());
        for d in &referrers.manifests {
            let kind = d.artifact_type.as_deref().unwrap_or(&d.media_type);
            match d.annotations.get(ANNOTATION_PREDICATE_TYPE) {
                Some(t) => println!("   └── 🍒 {} {kind} ({t})", d.digest),
                None => println!("   └── 🍒 {} {kind}", d.digest),
            }
        }
    }
    if !any {
        println!("No Supply Chain Security Related Artifacts found for image {image}");
    }
    Ok(ExitCode::SUCCESS)
}
