//! `sigil load --dir DIR IMAGE`: cosign's `load`. Pushes the image saved in the OCI image
//! layout at `DIR` (by `sigil save` or `cosign save`, or any layout holding one image) to
//! `IMAGE`, with its `.sig` and `.att` manifests (in `COSIGN_REPOSITORY` if set). Every blob
//! is digest-checked before upload; blobs the registry already has are not sent again.
//!
//! Exit codes: 0 pushed; 1 errors (missing or corrupt layout, digest mismatch, registry
//! refusal).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use sigil_core::ImageRef;
use sigil_oci::layout::{self, TransferOptions};

use super::registry_opts::RegistryOpts;

#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// Directory of the OCI image layout to push.
    #[arg(long)]
    pub dir: PathBuf,
    /// Blobs uploaded at the same time.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
    #[command(flatten)]
    pub registry: RegistryOpts,
    /// Where to push the image (a tag, or the image's own digest).
    pub image: String,
}

pub async fn run(args: LoadArgs) -> anyhow::Result<ExitCode> {
    let image: ImageRef = args.image.parse().context("parsing the image reference")?;
    let client = args.registry.client()?;
    let signatures = super::signature_repository()?.unwrap_or_else(|| image.clone());
    let loaded = layout::load(
        &client,
        &args.dir,
        &image,
        &signatures,
        &TransferOptions {
            concurrency: usize::from(args.concurrency),
        },
    )
    .await
    .with_context(|| format!("loading `{}` into `{image}`", args.dir.display()))?;
    eprintln!(
        "pushed {}@{}: {} manifests, {} blobs ({} uploaded, {} bytes){}{}",
        image.name(),
        loaded.digest,
        loaded.manifests,
        loaded.blobs,
        loaded.blobs_copied,
        loaded.bytes_copied,
        if loaded.signatures {
            ", signatures"
        } else {
            ""
        },
        if loaded.attestations {
            ", attestations"
        } else {
            ""
        },
    );
    Ok(ExitCode::SUCCESS)
}
