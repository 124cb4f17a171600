use std::process::ExitCode;
#[derive(Debug, clap::Args)]
pub struct SignArgs {}
pub async fn run(_: SignArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("in progress")
}
