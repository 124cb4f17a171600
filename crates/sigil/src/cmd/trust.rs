//! Where trust comes from: `--trusted-root FILE` (a trusted_root.json, as cosign takes it),
//! else `--trust-config FILE` / `SIGIL_TRUST_CONFIG` (a ClientTrustConfig, as `sigil up`
//! writes and sigstore-python takes), else the trusted root `sigil initialize` last verified
//! through TUF and cached, else the embedded public-good Sigstore trusted root (the offline
//! fallback).

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
        self.load_from(tuf_home().as_deref())
    }

    /// [`TrustOpts::load`] with the TUF home given (tests).
    fn load_from(&self, tuf_home: Option<&std::path::Path>) -> anyhow::Result<Arc<TrustedRoot>> {
        let (bytes, from) = match (&self.trusted_root, &self.trust_config) {
            (Some(p), _) | (None, Some(p)) => (
                std::fs::read(p)
                    .with_context(|| format!("reading trust root `{}`", p.display()))?,
                p.display().to_string(),
            ),
            (None, None) => tuf_home.and_then(cached_tuf_root).unwrap_or_else(|| {
                (
                    PUBLIC_GOOD.to_vec(),
                    "the embedded public-good Sigstore root".to_owned(),
                )
            }),
        };
        let root = trusted_root_from_any(&bytes).with_context(|| format!("loading {from}"))?;
        Ok(Arc::new(root))
    }
}

/// Where `sigil initialize` keeps TUF state: `$SIGIL_HOME/tuf`, else `~/.sigil/tuf`.
pub fn tuf_home() -> Option<PathBuf> {
    let nonempty = |v: std::ffi::OsString| (!v.is_empty()).then_some(v);
    if let Some(home) = std::env::var_os("SIGIL_HOME").and_then(nonempty) {
        return Some(PathBuf::from(home).join("tuf"));
    }
    let home = std::env::var_os("HOME").and_then(nonempty)?;
    Some(PathBuf::from(home).join(".sigil").join("tuf"))
}

/// The trusted root `sigil initialize` verified and cached for the mirror it last refreshed
/// from (public-good's unless `--mirror` said otherwise), with a description for errors.
/// `None` when there is none: the embedded root is the fallback.
fn cached_tuf_root(home: &std::path::Path) -> Option<(Vec<u8>, String)> {
    use sigil_sign::tuf::{recorded_mirror, TufCache, PUBLIC_GOOD_MIRROR, TRUSTED_ROOT};
    let mirror = recorded_mirror(home).unwrap_or_else(|| PUBLIC_GOOD_MIRROR.to_owned());
    let path = TufCache::new(home, &mirror).target_path(TRUSTED_ROOT);
    let bytes = std::fs::read(&path).ok()?;
    Some((
        bytes,
        format!(
            "the trusted root `sigil initialize` cached from {mirror} (`{}`; rerun `sigil initialize` to replace it)",
            path.display()
        ),
    ))
}

/// Public-good Sigstore's services, used when no trust config names others.
pub const PUBLIC_FULCIO: &str = "https://fulcio.sigstore.dev";
pub const PUBLIC_REKOR: &str = "https://rekor.sigstore.dev";

/// Where to sign: the CA and the log.
#[derive(Debug, Clone)]
pub struct SigningServices {
    pub fulcio_url: String,
    pub rekor_url: String,
}

impl TrustOpts {
    /// The CA and Rekor v1 log of the trust config's signing config, else public-good's.
    pub fn signing_services(&self) -> anyhow::Result<SigningServices> {
        let mut services = SigningServices {
            fulcio_url: PUBLIC_FULCIO.to_owned(),
            rekor_url: PUBLIC_REKOR.to_owned(),
        };
        let Some(path) = &self.trust_config else {
            return Ok(services);
        };
        let bytes = std::fs::read(path)
            .with_context(|| format!("reading trust config `{}`", path.display()))?;
        let v: serde_json::Value = serde_json::from_slice(&bytes)
            .with_context(|| format!("parsing trust config `{}`", path.display()))?;
        let sc = v
            .get("signingConfig")
            .or_else(|| v.get("signing_config"))
            .cloned()
            .unwrap_or_default();
        let pick = |key: &str, version: Option<u64>| -> Option<String> {
            sc[key].as_array()?.iter().find_map(|e| {
                let ok = version.is_none_or(|want| e["majorApiVersion"].as_u64() == Some(want));
                if ok {
                    e["url"].as_str().map(str::to_owned)
                } else {
                    None
                }
            })
        };
        if let Some(u) = pick("caUrls", None) {
            services.fulcio_url = u;
        }
        if let Some(u) = pick("rekorTlogUrls", Some(1)) {
            services.rekor_url = u;
        }
        Ok(services)
    }
}

/// Where keyless signing gets its identity token and certificate, and where signatures are
/// logged: the flags `sign`, `sign-blob`, `attest` and `pipeline` share.
#[derive(Debug, Clone, clap::Args)]
pub struct ServiceOpts {
    /// The OIDC identity token for keyless signing (else SIGSTORE_ID_TOKEN, else GitHub
    /// Actions' ambient token).
    #[arg(long)]
    pub identity_token: Option<String>,
    /// The certificate authority (Fulcio API). Default: the trust config's, else public-good's.
    #[arg(long)]
    pub fulcio_url: Option<String>,
    /// The transparency log (Rekor v1 API). Default: the trust config's, else public-good's.
    #[arg(long)]
    pub rekor_url: Option<String>,
}

impl ServiceOpts {
    /// The signer (the key file `key`, else keyless) and the log's URL, with the services of
    /// `trust`'s signing config where no flag names them.
    pub async fn signer(
        &self,
        key: Option<&std::path::Path>,
        trust: &TrustOpts,
    ) -> anyhow::Result<(sigil_sign::Signer, String)> {
        let services = trust.signing_services()?;
        let rekor_url = self
            .rekor_url
            .clone()
            .unwrap_or_else(|| services.rekor_url.clone());
        let signer = signer(
            key,
            self.identity_token.as_deref(),
            self.fulcio_url.as_deref(),
            &services,
        )
        .await?;
        Ok((signer, rekor_url))
    }
}

/// What signs: the key file's key, or (no `--key`) keyless, with an identity token from
/// `--identity-token`, `SIGSTORE_ID_TOKEN` or GitHub Actions, for the CA at `fulcio_url`
/// (else the signing services').
async fn signer(
    key: Option<&std::path::Path>,
    identity_token: Option<&str>,
    fulcio_url: Option<&str>,
    services: &SigningServices,
) -> anyhow::Result<sigil_sign::Signer> {
    Ok(match key {
        Some(path) => sigil_sign::Signer::Key(Box::new(super::keys::load_private_key(path).await?)),
        None => {
            let token =
                sigil_sign::token::identity_token(&sigil_sign::http_client()?, identity_token)
                    .await?;
            eprintln!("Generating ephemeral keys...");
            eprintln!("Retrieving signed certificate...");
            sigil_sign::Signer::Keyless {
                fulcio_url: fulcio_url
                    .map(str::to_owned)
                    .unwrap_or_else(|| services.fulcio_url.clone()),
                token,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn opts() -> TrustOpts {
        TrustOpts {
            trusted_root: None,
            trust_config: None,
        }
    }

    /// Caches a trusted root as `sigil initialize` would, for public-good's mirror.
    fn cache(home: &std::path::Path, bytes: &[u8]) -> PathBuf {
        let cache = sigil_sign::tuf::TufCache::new(home, sigil_sign::tuf::PUBLIC_GOOD_MIRROR);
        let path = cache.target_path(sigil_sign::tuf::TRUSTED_ROOT);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn cached_tuf_root_is_preferred_over_the_embedded_one() {
        let home = tempfile::tempdir().unwrap();
        let embedded = opts().load_from(Some(home.path())).unwrap();
        assert!(!embedded.ctlogs.is_empty());

        // A cached root that differs from the embedded one (no CT logs) wins.
        let mut v: serde_json::Value = serde_json::from_slice(PUBLIC_GOOD).unwrap();
        v["ctlogs"] = serde_json::json!([]);
        let path = cache(home.path(), &serde_json::to_vec(&v).unwrap());
        assert!(opts()
            .load_from(Some(home.path()))
            .unwrap()
            .ctlogs
            .is_empty());

        // --trusted-root still beats it.
        let explicit = TrustOpts {
            trusted_root: Some(path.with_file_name("explicit.json")),
            trust_config: None,
        };
        std::fs::write(explicit.trusted_root.as_ref().unwrap(), PUBLIC_GOOD).unwrap();
        assert!(!explicit
            .load_from(Some(home.path()))
            .unwrap()
            .ctlogs
            .is_empty());
    }

    #[test]
    fn unreadable_cached_root_says_how_to_fix_it() {
        let home = tempfile::tempdir().unwrap();
        cache(home.path(), b"{not json");
        let err = opts().load_from(Some(home.path())).unwrap_err();
        assert!(
            format!("{err:#}").contains("rerun `sigil initialize`"),
            "{err:#}"
        );
    }
}
