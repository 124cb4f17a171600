//! `sigil sbom` (owned by the SBOM crate's developer).
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct SbomArgs {
    /// What to scan.
    pub source: String,
}

pub async fn run(a: SbomArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`sigil sbom {}`: SBOM generation is being built (issue 7)", a.source)
}
