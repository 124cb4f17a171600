//! Where trust comes from: `--trusted-root FILE` (a trusted_root.json, as cosign takes it),
//! else `--trust-config FILE` / `SIGIL_TRUST_CONFIG` (a ClientTrustConfig, as `sigil up`
//! writes and sigstore-python takes), else the embedded public-good Sigstore trusted root.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use sigil_core::trust_root::{trusted_root_from_any, TrustedRoot};

/// The public-good Sigstore trusted root, embedded (see `assets/SOURCE.md`).
const PUBLIC_GOOD: &[u8] = include_bytes!("../../assets/public-good-trusted-root.json");

#[derive(Debug, Clone, clap::Args)]
pub struct TrustOpts {
    /// A trusted_root.json (Fulcio CAs, Rekor and CT log keys) to verify against.
    #[arg(long)]
    pub trusted_root: Option<PathBuf>,
    /// A Sigstore ClientTrustConfig (trusted root + signing config), e.g. `sigil up`'s.
    #[arg(long, env = "SIGIL_TRUST_CONFIG")]
    pub trust_config: Option<PathBuf>,
}

impl TrustOpts {
    pub fn load(&self) -> anyhow::Result<Arc<TrustedRoot>> {
        let (bytes, from) = match (&self.trusted_root, &self.trust_config) {
            (Some(p), _) | (None, Some(p)) => (
                std::fs::read(p)
                    .with_context(|| format!("reading trust root `{}`", p.display()))?,
                p.display().to_string(),
            ),
            (None, None) => (
                PUBLIC_GOOD.to_vec(),
                "the embedded public-good Sigstore root".to_owned(),
            ),
        };
        let root = trusted_root_from_any(&bytes).with_context(|| format!("loading {from}"))?;
        Ok(Arc::new(root))
    }
}
