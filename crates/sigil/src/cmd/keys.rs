use std::process::ExitCode;
#[derive(Debug, clap::Args)]
pub struct GenerateKeyPairArgs {}
#[derive(Debug, clap::Args)]
pub struct PublicKeyArgs {}
pub async fn generate_key_pair(_: GenerateKeyPairArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("in progress")
}
pub async fn public_key(_: PublicKeyArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("in progress")
}
