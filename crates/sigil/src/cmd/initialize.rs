//! `sigil initialize [--mirror URL] [--root FILE]`: cosign's command. Runs the TUF client
//! workflow (`sigil_core::tuf`) against the mirror, starting from the cached TUF root or the
//! bootstrap root (`--root`, else the embedded public-good TUF root), and caches the verified
//! `trusted_root.json` (and `signing_config.v0.2.json` when the repository has one) under
//! `$SIGIL_HOME/tuf` or `~/.sigil/tuf`, one directory per mirror. Commands given neither
//! `--trusted-root` nor a trust config then verify against that root (see `trust.rs`).
//!
//! cosign keeps the mirror in `remote.json` of its TUF home; sigil records it the same way
//! so a later `sigil verify` reads the cache of the mirror last initialized.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use sigil_sign::tuf::{record_mirror, refresh, TufCache, PUBLIC_GOOD_MIRROR, TRUSTED_ROOT};
use time::OffsetDateTime;

/// The public-good Sigstore TUF root, embedded (see `assets/SOURCE.md`).
const PUBLIC_GOOD_TUF_ROOT: &[u8] = include_bytes!("../../assets/public-good-tuf-root.json");

/// Refresh the trusted root from a TUF repository and cache it for later commands.
#[derive(Debug, Clone, clap::Args)]
pub struct InitializeArgs {
    /// The TUF repository's base URL.
    #[arg(long, default_value = PUBLIC_GOOD_MIRROR)]
    pub mirror: String,
    /// A TUF root.json to trust initially (default: the embedded public-good root; needed
    /// for another mirror the first time).
    #[arg(long)]
    pub root: Option<PathBuf>,
}

pub async fn run(a: InitializeArgs) -> anyhow::Result<ExitCode> {
    let home =
        crate::cmd::trust::tuf_home().context("no TUF cache directory: set SIGIL_HOME or HOME")?;
    let path = initialize(&a, &home, OffsetDateTime::now_utc()).await?;
    println!("trusted root cached at {}", path.display());
    Ok(ExitCode::SUCCESS)
}

/// The command with its cache home and clock given: returns the cached trusted root's path.
async fn initialize(
    a: &InitializeArgs,
    home: &Path,
    now: OffsetDateTime,
) -> anyhow::Result<PathBuf> {
    let mirror = a.mirror.trim_end_matches('/');
    let cache = TufCache::new(home, mirror);
    let bootstrap = match &a.root {
        Some(path) => {
            std::fs::read(path).with_context(|| format!("reading TUF root `{}`", path.display()))?
        }
        None if mirror == PUBLIC_GOOD_MIRROR => PUBLIC_GOOD_TUF_ROOT.to_vec(),
        // Another mirror: its cached root, from an earlier `--root`.
        None => cache.cached().root.with_context(|| {
            format!("no TUF root for mirror `{mirror}`: pass --root FILE (the TUF root.json to trust for it)")
        })?,
    };
    let client = reqwest::Client::builder()
        .user_agent(concat!("sigil/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("building the HTTP client")?;
    let updated = refresh(&client, mirror, &bootstrap, &cache, now)
        .await
        .with_context(|| format!("updating from TUF mirror `{mirror}`"))?;
    record_mirror(home, mirror).context("recording the mirror")?;
    eprintln!(
        "TUF root version {}; {} target(s) verified from {mirror}",
        updated.root_version,
        updated.files.len()
    );
    Ok(cache.target_path(TRUSTED_ROOT))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    /// Serves sigil-core's python-tuf test repository on loopback (HTTP/1.1, one file per
    /// connection).
    async fn serve_repo() -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sigil-core/testdata/tuf/repo");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let base = base.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let text = String::from_utf8_lossy(&head).into_owned();
                    let path = text
                        .split(' ')
                        .nth(1)
                        .unwrap_or("/")
                        .trim_start_matches('/');
                    let (status, body) = match std::fs::read(base.join(path)) {
                        Ok(b) if !path.contains("..") => ("200 OK", b),
                        _ => ("404 Not Found", Vec::new()),
                    };
                    let head = format!(
                        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = sock.write_all(head.as_bytes()).await;
                    let _ = sock.write_all(&body).await;
                });
            }
        });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn initialize_caches_a_root_the_trust_options_can_load() {
        let mirror = serve_repo().await;
        let home = tempfile::tempdir().unwrap();
        let root =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../sigil-core/testdata/tuf/root.v1.json");
        let mut args = InitializeArgs {
            mirror: format!("{mirror}/"),
            root: None,
        };
        // Another mirror, no --root, nothing cached: a clear error.
        let err = initialize(&args, home.path(), OffsetDateTime::now_utc())
            .await
            .unwrap_err();
        assert!(format!("{err:#}").contains("pass --root FILE"), "{err:#}");

        args.root = Some(root);
        let path = initialize(&args, home.path(), OffsetDateTime::now_utc())
            .await
            .unwrap();
        let bytes = std::fs::read(&path).unwrap();
        // python-tuf published sigil's embedded public-good trusted root as the target.
        assert_eq!(
            bytes,
            include_bytes!("../../assets/public-good-trusted-root.json")
        );
        sigil_core::trust_root::trusted_root_from_any(&bytes).unwrap();
        assert_eq!(
            sigil_sign::tuf::recorded_mirror(home.path()).as_deref(),
            Some(mirror.as_str())
        );
        // The second time the cached TUF root is the starting point: no --root needed.
        args.root = None;
        initialize(&args, home.path(), OffsetDateTime::now_utc())
            .await
            .unwrap();
    }
}
