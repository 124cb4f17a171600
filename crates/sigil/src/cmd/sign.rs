//! `sigil sign`: cosign's `sign --key`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use sigil_core::ImageRef;
use sigil_sign::{SignOptions, TlogUpload};

use super::registry_opts::RegistryOpts;

#[derive(Debug, clap::Args)]
pub struct SignArgs {
    /// The private key file (cosign.key). Password from COSIGN_PASSWORD, a prompt, or stdin.
    #[arg(long)]
    pub key: PathBuf,
    /// Extra `key=value` claims signed into the payload's `optional` section.
    #[arg(short = 'a', long = "annotations", value_name = "KEY=VALUE", value_parser = super::parse_key_value)]
    pub annotations: Vec<(String, String)>,
    /// Record the signature in the transparency log.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub tlog_upload: bool,
    /// Skip confirmation prompts.
    #[arg(short = 'y', long)]
    pub yes: bool,
    #[command(flatten)]
    pub registry: RegistryOpts,
    /// The image to sign, best by digest (`repo@sha256:…`).
    pub image: String,
}

pub async fn run(a: SignArgs) -> anyhow::Result<ExitCode> {
    let image: ImageRef = a.image.parse().context("parsing the image reference")?;
    let client = a.registry.client()?;
    let digest = super::resolve_digest(&client, &image).await?;
    if image.digest().is_none() {
        eprintln!(
            "WARNING: `{image}` names the image by tag; signing the digest it points to now, {digest}.\n    \
             A tag can be moved to another image: sign `{}@{digest}` to be sure of what you sign.",
            image.name()
        );
    }
    let key = super::keys::load_private_key(&a.key)?;
    let options = SignOptions {
        annotations: a.annotations.into_iter().collect::<BTreeMap<_, _>>(),
        tlog: if a.tlog_upload {
            TlogUpload::Enabled
        } else {
            TlogUpload::Disabled
        },
        signature_repository: super::signature_repository()?,
    };
    let signed = sigil_sign::sign_image(&client, &image, &digest, &key, &options).await?;
    if signed.attached.already_present {
        eprintln!("Signature already present in {}", signed.attached.reference);
    } else {
        eprintln!("Pushing signature to: {}", signed.attached.reference);
    }
    Ok(ExitCode::SUCCESS)
}
