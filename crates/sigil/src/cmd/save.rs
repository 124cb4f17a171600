//! `sigil save IMAGE --dir DIR`: cosign's `save`. Writes the image (or index, with every child
//! manifest) and its `.sig` and `.att` manifests into an OCI image layout at `DIR`, with
//! cosign's `kind` annotations, so `sigil load` (or `cosign load`) can push it back and
//! skopeo's `oci:DIR:TAG` reads the image. `COSIGN_REPOSITORY` names where the signatures
//! are, as for `sign` and `verify`.
//!
//! Exit codes: 0 saved; 11 image tag not found; 1 errors (unreachable registry, digest
//! mismatch, unwritable directory).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use sigil_core::ImageRef;
use sigil_oci::layout::{self, TransferOptions};

use super::registry_opts::RegistryOpts;

#[derive(Debug, clap::Args)]
pub struct SaveArgs {
    /// Directory of the OCI image layout to write (created if missing).
    #[arg(long)]
    pub dir: PathBuf,
    /// Blobs downloaded at the same time.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
    #[command(flatten)]
    pub registry: RegistryOpts,
    /// The image to save.
    pub image: String,
}

pub async fn run(args: SaveArgs) -> anyhow::Result<ExitCode> {
    let image: ImageRef = args.image.parse().context("parsing the image reference")?;
    let client = args.registry.client()?;
    // A missing tag is cosign's exit code 11, like the other commands that read an image.
    let digest = super::resolve_digest(&client, &image).await?;
    let signatures = super::signature_repository()?.unwrap_or_else(|| image.clone());
    let pinned = match image.tag() {
        // Keep the tag (it names the image in the layout) but read the digest just resolved,
        // so a tag moved meanwhile cannot mix two images.
        Some(_) => image.clone(),
        None => image.with_digest(digest),
    };
    let saved = layout::save(
        &client,
        &pinned,
        &signatures,
        &args.dir,
        &TransferOptions {
            concurrency: usize::from(args.concurrency),
        },
    )
    .await
    .with_context(|| format!("saving `{image}` to `{}`", args.dir.display()))?;
    eprintln!(
        "saved {}@{} to {}: {} manifests, {} blobs ({} downloaded, {} bytes){}{}",
        image.name(),
        saved.digest,
        args.dir.display(),
        saved.manifests,
        saved.blobs,
        saved.blobs_copied,
        saved.bytes_copied,
        if saved.signatures { ", signatures" } else { "" },
        if saved.attestations {
            ", attestations"
        } else {
            ""
        },
    );
    Ok(ExitCode::SUCCESS)
}
