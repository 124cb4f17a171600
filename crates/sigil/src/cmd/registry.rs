//! `sigil registry …` (owned by the registry crate's developer): runs the embedded OCI
//! registry from `sigil-registry`.
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use sigil_registry::{Config, Exposure, Server, TlsFiles};

#[derive(Debug, clap::Subcommand)]
pub enum RegistryCommand {
    /// Serve an OCI registry (distribution-spec v1.1) from a directory.
    ///
    /// Prints `listening on ADDR` on stdout once it accepts connections.
    Serve(ServeArgs),
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:5000")]
    addr: SocketAddr,
    /// Storage directory (created if missing).
    #[arg(long)]
    root: PathBuf,
    /// htpasswd file with bcrypt hashes (`htpasswd -B`): require HTTP basic auth.
    #[arg(long)]
    htpasswd: Option<PathBuf>,
    /// TLS certificate chain (PEM).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Allow a non-loopback address without authentication and TLS.
    #[arg(long)]
    insecure_public: bool,
    /// Largest manifest accepted, in bytes.
    #[arg(long, default_value_t = 4 << 20)]
    max_manifest_size: usize,
    /// Largest blob accepted, in bytes.
    #[arg(long, default_value_t = 16 << 30)]
    max_blob_size: u64,
    /// Most upload sessions open at once.
    #[arg(long, default_value_t = 1024)]
    max_uploads: usize,
    /// Seconds after which an idle upload session is removed.
    #[arg(long, default_value_t = 3600)]
    upload_ttl: u64,
}

pub async fn run(c: RegistryCommand) -> anyhow::Result<ExitCode> {
    match c {
        RegistryCommand::Serve(a) => serve(a).await,
    }
}

async fn serve(a: ServeArgs) -> anyhow::Result<ExitCode> {
    let mut config = Config::new(a.addr, a.root);
    config.htpasswd = a.htpasswd;
    config.tls = match (a.tls_cert, a.tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
        _ => None,
    };
    if a.insecure_public {
        config.exposure = Exposure::InsecurePublic;
    }
    config.api_limits.max_manifest_size = a.max_manifest_size;
    config.storage_limits.max_blob_size = a.max_blob_size;
    config.storage_limits.max_uploads = a.max_uploads;
    config.upload_ttl = Duration::from_secs(a.upload_ttl.max(1));
    let server = Server::start(config)
        .await
        .context("starting the registry")?;
    {
        // First line of stdout, flushed: tests and `sigil up` read the port from it.
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {}", server.local_addr())?;
        out.flush()?;
    }
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate() => {}
    }
    server.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

#[cfg(unix)]
async fn terminate() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut s) => {
            s.recv().await;
        }
        Err(_) => std::future::pending().await,
    }
}

#[cfg(not(unix))]
async fn terminate() {
    std::future::pending().await
}
