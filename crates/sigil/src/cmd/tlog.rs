//! `sigil tlog …` (owned by the transparency log crate's developer).
use std::process::ExitCode;

#[derive(Debug, clap::Subcommand)]
pub enum TlogCommand {}

pub async fn run(c: TlogCommand) -> anyhow::Result<ExitCode> {
    match c {}
}
