//! `sigil verify-blob --bundle B [--key K | identity flags] FILE|sha256:<hex>`: a Sigstore
//! bundle (v0.1–v0.3, message signature or DSSE) against a file or a digest, through the
//! same pipeline as `sigil verify`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use sigil_core::bundle::Bundle;
use sigil_core::keys::PublicKey;
use sigil_verify::{verify_bundle, Artifact, BundleSigner, SctPolicy, TlogPolicy};

use super::trust::TrustOpts;
use super::verify::IdentityOpts;

#[derive(Debug, clap::Args)]
pub struct VerifyBlobArgs {
    /// The Sigstore bundle (`.sigstore.json`).
    #[arg(long)]
    pub bundle: PathBuf,
    /// Verify with this public key instead of a certificate identity.
    #[arg(long)]
    pub key: Option<PathBuf>,
    #[command(flatten)]
    pub identity: IdentityOpts,
    #[command(flatten)]
    pub trust: TrustOpts,
    /// Accept certificates without an embedded SCT from a trusted CT log (insecure).
    #[arg(long)]
    pub insecure_ignore_sct: bool,
    /// Accepted for cosign compatibility: bundles are always verified offline.
    #[arg(long)]
    pub offline: bool,
    /// The artifact: a file, or `sha256:<hex>` of it.
    pub artifact: String,
}

/// `sha256:<64 hex>` that is not an existing path is a digest (sigstore-conformance's rule).
fn parse_artifact(s: &str) -> anyhow::Result<Result<Vec<u8>, [u8; 32]>> {
    if let Some(h) = s.strip_prefix("sha256:") {
        if !std::path::Path::new(s).exists() && h.len() == 64 {
            let raw = hex::decode(h).context("artifact digest is not hex")?;
            let mut d = [0u8; 32];
            d.copy_from_slice(&raw);
            return Ok(Err(d));
        }
    }
    Ok(Ok(
        std::fs::read(s).with_context(|| format!("reading artifact `{s}`"))?
    ))
}

pub async fn run(a: VerifyBlobArgs) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(&a.bundle)
        .with_context(|| format!("reading bundle `{}`", a.bundle.display()))?;
    let bundle = Bundle::from_json(&bytes)
        .with_context(|| format!("loading bundle `{}`", a.bundle.display()))?;
    let signer = match &a.key {
        Some(p) => {
            let pem = std::fs::read(p)
                .with_context(|| format!("reading public key `{}`", p.display()))?;
            BundleSigner::Key(
                PublicKey::from_pem(&pem)
                    .with_context(|| format!("loading public key `{}`", p.display()))?,
            )
        }
        None => BundleSigner::Identity(a.identity.policy()?),
    };
    let root = a.trust.load()?;
    let artifact = parse_artifact(&a.artifact)?;
    let art = match &artifact {
        Ok(b) => Artifact::Bytes(b),
        Err(d) => Artifact::Sha256(d),
    };
    let sct = if a.insecure_ignore_sct {
        SctPolicy::Ignore
    } else {
        SctPolicy::Required
    };
    verify_bundle(&bundle, art, &signer, &root, TlogPolicy::Required, sct)
        .map_err(|f| anyhow::anyhow!("{f}"))
        .with_context(|| {
            format!(
                "verifying `{}` with bundle `{}`",
                a.artifact,
                a.bundle.display()
            )
        })?;
    eprintln!("Verified OK");
    Ok(ExitCode::SUCCESS)
}
