//! One module per command family. Each returns `anyhow::Result<ExitCode>`; errors carrying a
//! [`Exit`] code end the process with that code (cosign's exit codes where we mirror cosign).

use std::process::ExitCode;

pub mod admission;
pub mod attest;
pub mod ca;
pub mod download;
pub mod initialize;
pub mod keys;
pub mod lab;
pub mod load;
pub mod pack;
pub mod pipeline;
pub mod policy;
pub mod registry;
pub mod registry_opts;
pub mod save;
pub mod sbom;
pub mod sign;
pub mod sign_blob;
pub mod tlog;
pub mod tree;
pub mod trust;
pub mod up;
pub mod verify;
pub mod verify_attestation;
pub mod verify_blob;

/// An error that ends the process with a specific exit code.
#[derive(Debug)]
pub struct Exit {
    pub code: u8,
    pub message: String,
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Exit {}

/// Prints `error: …` and each `caused by: …`, and picks the exit code.
pub fn report(err: &anyhow::Error) -> ExitCode {
    eprintln!("error: {err}");
    for cause in err.chain().skip(1) {
        eprintln!("caused by: {cause}");
    }
    let code = err
        .chain()
        .find_map(|e| e.downcast_ref::<Exit>())
        .map(|e| e.code)
        .unwrap_or(1);
    ExitCode::from(code)
}

pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SIGIL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Parses `key=value` (`-a` flags).
pub fn parse_key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("`{s}` is not KEY=VALUE")),
    }
}

/// The digest `image` names: its pinned digest, else what its tag points to now. A missing
/// tag ends the process with cosign's exit code 11.
pub async fn resolve_digest(
    client: &sigil_oci::Client,
    image: &sigil_core::ImageRef,
) -> anyhow::Result<sigil_core::Digest> {
    if let Some(d) = image.digest() {
        return Ok(d.clone());
    }
    match client.head_manifest(image).await {
        Ok(Some(d)) => Ok(d.digest),
        Ok(None) => Err(Exit {
            code: 11,
            message: format!("image tag not found: `{image}`"),
        }
        .into()),
        Err(e) => Err(anyhow::Error::new(e).context(format!("resolving `{image}`"))),
    }
}

/// `COSIGN_REPOSITORY`: store and look up signatures in another repository, as cosign does.
pub fn signature_repository() -> anyhow::Result<Option<sigil_core::ImageRef>> {
    match std::env::var("COSIGN_REPOSITORY") {
        Ok(r) if !r.is_empty() => {
            let image: sigil_core::ImageRef = r
                .parse()
                .map_err(|e| anyhow::anyhow!("COSIGN_REPOSITORY: {e}"))?;
            Ok(Some(image))
        }
        _ => Ok(None),
    }
}
