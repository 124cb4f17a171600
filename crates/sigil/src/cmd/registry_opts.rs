//! Registry flags shared by every command that talks to a registry.

use sigil_oci::{Client, ClientOptions};

#[derive(Debug, Clone, clap::Args)]
pub struct RegistryOpts {
    /// Allow plain HTTP and unverified TLS for registries that are not on this machine
    /// (loopback registries always allow plain HTTP).
    #[arg(long)]
    pub allow_insecure_registry: bool,
}

impl RegistryOpts {
    pub fn client(&self) -> anyhow::Result<Client> {
        Ok(Client::new(ClientOptions {
            allow_insecure: self.allow_insecure_registry,
            ..ClientOptions::default()
        })?)
    }
}
