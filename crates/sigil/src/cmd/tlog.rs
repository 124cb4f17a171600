//! `sigil tlog …`: the transparency log from `sigil-tlog` (Rekor v1 API, tlog-tiles reads).
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use sigil_tlog::{LogConfig, LogKeyAlgorithm, TlogServer};

#[derive(Debug, clap::Subcommand)]
pub enum TlogCommand {
    /// Serve a transparency log with Rekor's v1 API from a directory.
    ///
    /// Prints `listening on ADDR` on the first line of stdout once it accepts connections.
    /// The log key is generated on first start and kept in the directory.
    Serve(ServeArgs),
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum KeyType {
    Ecdsa,
    Ed25519,
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:3000")]
    addr: SocketAddr,
    /// Data directory (created if missing).
    #[arg(long)]
    data_dir: PathBuf,
    /// Origin: the checkpoint key name (origin line `<NAME> - <treeID>`). Fixed when the log
    /// is created; defaults to the stored one, or `sigil-tlog` for a new log.
    #[arg(long)]
    origin: Option<String>,
    /// Algorithm of the log key when it is created (ignored for an existing log).
    #[arg(long, value_enum, default_value = "ecdsa")]
    key_type: KeyType,
    /// Largest canonical entry body accepted, in bytes.
    #[arg(long, default_value_t = 128 * 1024)]
    max_entry_size: usize,
}

pub async fn run(c: TlogCommand) -> anyhow::Result<ExitCode> {
    match c {
        TlogCommand::Serve(a) => serve(a).await,
    }
}

async fn serve(a: ServeArgs) -> anyhow::Result<ExitCode> {
    if a.max_entry_size == 0 {
        anyhow::bail!("--max-entry-size must be at least 1");
    }
    let config = LogConfig {
        origin: a.origin.clone(),
        max_entry_size: a.max_entry_size,
        key_algorithm: match a.key_type {
            KeyType::Ecdsa => LogKeyAlgorithm::EcdsaP256,
            KeyType::Ed25519 => LogKeyAlgorithm::Ed25519,
        },
    };
    let server = TlogServer::start(a.addr, &a.data_dir, config)
        .await
        .with_context(|| format!("starting the log in `{}`", a.data_dir.display()))?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {}", server.addr())?;
        out.flush()?;
    }
    let wait = server.wait();
    tokio::select! {
        r = wait => r.context("serving the log")?,
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(ExitCode::SUCCESS)
}
