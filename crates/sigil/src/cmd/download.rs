//! `sigil download signature|attestation IMAGE`: cosign's `download`, one JSON document per
//! line on stdout. Signatures: each `.sig` layer as cosign prints it (`Base64Signature`,
//! `Payload` (base64), `Cert`, `Chain`, `Bundle`), then each cosign v3 bundle referrer's
//! bundle JSON. Attestations: each `.att` layer's DSSE envelope, then each attestation bundle
//! referrer's envelope. Nothing is verified: use `verify` / `verify-attestation`.
//!
//! Exit codes: 0 printed (possibly nothing); 11 image tag not found; 1 errors.

use std::process::ExitCode;

use anyhow::Context;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use sigil_core::bundle::Bundle;
use sigil_core::intoto::{envelope_json, predicate_type, COSIGN_SIGN_PREDICATE};
use sigil_core::ImageRef;
use sigil_oci::cosign::{fetch_layers, Attachment};
use sigil_oci::referrers::{fetch_bundle_referrers, ANNOTATION_PREDICATE_TYPE};

use super::registry_opts::RegistryOpts;

#[derive(Debug, clap::Subcommand)]
pub enum DownloadCommand {
    /// Print the image's signatures.
    Signature(DownloadArgs),
    /// Print the image's attestations (DSSE envelopes).
    Attestation(DownloadAttestationArgs),
}

#[derive(Debug, clap::Args)]
pub struct DownloadArgs {
    #[command(flatten)]
    pub registry: RegistryOpts,
    /// The image.
    pub image: String,
}

#[derive(Debug, clap::Args)]
pub struct DownloadAttestationArgs {
    /// Only attestations of this predicate type (spdxjson, …, or a URI).
    #[arg(long)]
    pub predicate_type: Option<String>,
    #[command(flatten)]
    pub common: DownloadArgs,
}

pub async fn run(c: DownloadCommand) -> anyhow::Result<ExitCode> {
    let (args, signatures, wanted) = match c {
        DownloadCommand::Signature(a) => (a, true, None),
        DownloadCommand::Attestation(a) => {
            let wanted = a
                .predicate_type
                .as_deref()
                .map(predicate_type)
                .transpose()?;
            (a.common, false, wanted)
        }
    };
    let image: ImageRef = args.image.parse().context("parsing the image reference")?;
    let client = args.registry.client()?;
    let digest = super::resolve_digest(&client, &image).await?;
    let repo = super::signature_repository()?.unwrap_or_else(|| image.clone());
    let kind = if signatures {
        Attachment::Signature
    } else {
        Attachment::Attestation
    };
    let layers = fetch_layers(&client, &repo, &digest, kind)
        .await
        .with_context(|| format!("fetching the attachments of `{image}`"))?
        .unwrap_or_default();
    for l in layers {
        if signatures {
            let bundle = l
                .bundle()
                .and_then(|b| serde_json::from_str::<serde_json::Value>(b).ok());
            let doc = serde_json::json!({
                "Base64Signature": l.signature_b64().unwrap_or_default(),
                "Payload": B64.encode(&l.payload),
                "Cert": l.certificate(),
                "Chain": l.chain(),
                "Bundle": bundle,
            });
            println!("{doc}");
        } else {
            let t = l.annotation("predicateType");
            if wanted.is_some() && t != wanted.as_deref() {
                continue;
            }
            println!("{}", String::from_utf8_lossy(&l.payload));
        }
    }
    for r in fetch_bundle_referrers(&client, &repo, &digest)
        .await
        .with_context(|| format!("fetching the referrers of `{}@{digest}`", repo.name()))?
    {
        let t = r
            .descriptor
            .annotations
            .get(ANNOTATION_PREDICATE_TYPE)
            .map(String::as_str);
        let is_signature = t == Some(COSIGN_SIGN_PREDICATE);
        if signatures {
            if is_signature {
                println!("{}", String::from_utf8_lossy(&r.bundle));
            }
            continue;
        }
        if is_signature || (wanted.is_some() && t != wanted.as_deref()) {
            continue;
        }
        match Bundle::from_json(&r.bundle) {
            Ok(b) => {
                if let Some(e) = &b.dsse_envelope {
                    println!("{}", String::from_utf8_lossy(&envelope_json(e)));
                }
            }
            Err(e) => eprintln!("WARNING: skipping referrer {}: {e}", r.descriptor.digest),
        }
    }
    Ok(ExitCode::SUCCESS)
}
