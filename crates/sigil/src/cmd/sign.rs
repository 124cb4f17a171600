//! `sigil sign`: cosign's `sign --key`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use sigil_core::ImageRef;
use sigil_sign::{SignOptions, TlogUpload};

use super::registry_opts::RegistryOpts;
use super::trust::{ServiceOpts, TrustOpts};

#[derive(Debug, clap::Args)]
pub struct SignArgs {
    /// The private key file (cosign.key). Password from COSIGN_PASSWORD, a prompt, or stdin.
    /// Without it, signing is keyless: an OIDC identity token buys a short-lived certificate.
    #[arg(long)]
    pub key: Option<PathBuf>,
    #[command(flatten)]
    pub services: ServiceOpts,
    #[command(flatten)]
    pub trust: TrustOpts,
    /// Extra `key=value` claims signed into the payload's `optional` section.
    #[arg(short = 'a', long = "annotations", value_name = "KEY=VALUE", value_parser = super::parse_key_value)]
    pub annotations: Vec<(String, String)>,
    /// Record the signature in the transparency log.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub tlog_upload: bool,
    /// Skip confirmation prompts.
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Sign as cosign v3 does: a DSSE statement in a Sigstore bundle referrer.
    #[arg(long)]
    pub new_bundle_format: bool,
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
    let (signer, rekor_url) = a.services.signer(a.key.as_deref(), &a.trust).await?;
    if !a.tlog_upload && a.key.is_none() {
        eprintln!(
            "WARNING: a keyless signature without a transparency log entry cannot be verified later: \
             nothing proves it was made while the 10-minute certificate was valid."
        );
    }
    let options = SignOptions {
        annotations: a.annotations.into_iter().collect::<BTreeMap<_, _>>(),
        tlog: if a.tlog_upload {
            TlogUpload::Enabled { rekor_url }
        } else {
            TlogUpload::Disabled
        },
        signature_repository: super::signature_repository()?,
    };
    if a.new_bundle_format {
        let pinned = image.with_digest(digest.clone());
        return super::attest::sign_bundle(&client, &pinned, &signer, &options).await;
    }
    let signed = sigil_sign::sign_image(&client, &image, &digest, &signer, &options).await?;
    if let Some(i) = signed.log_index {
        eprintln!("tlog entry created with index: {i}");
    }
    if signed.attached.already_present {
        eprintln!("Signature already present in {}", signed.attached.reference);
    } else {
        eprintln!("Pushing signature to: {}", signed.attached.reference);
    }
    Ok(ExitCode::SUCCESS)
}
