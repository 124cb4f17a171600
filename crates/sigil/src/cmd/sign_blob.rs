//! `sigil sign-blob [--key K] [--bundle OUT] FILE`: a Sigstore bundle v0.3 for a file, as
//! `cosign sign-blob --bundle` and sigstore-python `sign` write it.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::trust::{ServiceOpts, TrustOpts};

#[derive(Debug, clap::Args)]
pub struct SignBlobArgs {
    /// The private key file; without it, keyless (an OIDC identity token buys a certificate).
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// Where to write the bundle (default: stdout).
    #[arg(long)]
    pub bundle: Option<PathBuf>,
    #[command(flatten)]
    pub services: ServiceOpts,
    #[command(flatten)]
    pub trust: TrustOpts,
    /// Skip confirmation prompts.
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// The file to sign.
    pub file: PathBuf,
}

pub async fn run(a: SignBlobArgs) -> anyhow::Result<ExitCode> {
    let artifact =
        std::fs::read(&a.file).with_context(|| format!("reading `{}`", a.file.display()))?;
    let http = sigil_sign::http_client()?;
    let (signer, rekor_url) = a.services.signer(a.key.as_deref(), &a.trust).await?;
    let bundle = sigil_sign::sign_blob(&http, &artifact, &signer, &rekor_url)
        .await
        .with_context(|| format!("signing `{}`", a.file.display()))?;
    let json = serde_json::to_vec_pretty(&bundle)?;
    match &a.bundle {
        Some(p) => {
            std::fs::write(p, &json).with_context(|| format!("writing `{}`", p.display()))?;
            eprintln!("Wrote bundle to file {}", p.display());
        }
        None => println!("{}", String::from_utf8_lossy(&json)),
    }
    if let Some(e) = bundle.verification_material.tlog_entries.first() {
        eprintln!("tlog entry created with index: {}", e.log_index.0);
    }
    Ok(ExitCode::SUCCESS)
}
