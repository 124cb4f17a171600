//! `sigil ca …` and `sigil oidc …` (owned by the CA crate's developer).
use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum CaCommand {}

#[derive(Debug, clap::Subcommand)]
pub enum OidcCommand {}

pub async fn run_ca(c: CaCommand) -> anyhow::Result<ExitCode> {
    match c {}
}

pub async fn run_oidc(c: OidcCommand) -> anyhow::Result<ExitCode> {
    match c {}
}
