//! `sigil registry …` (owned by the registry crate's developer).
use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum RegistryCommand {}

pub async fn run(c: RegistryCommand) -> anyhow::Result<ExitCode> {
    match c {}
}
