use std::process::ExitCode;
#[derive(Debug, clap::Args)]
pub struct VerifyArgs {}
pub async fn run(_: VerifyArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("in progress")
}
