//! One module per command family. Each returns `anyhow::Result<ExitCode>`; errors carrying a
//! [`Exit`] code end the process with that code (cosign's exit codes where we mirror cosign).

use std::process::ExitCode;

pub mod ca;
pub mod keys;
pub mod registry;
pub mod sbom;
pub mod sign;
pub mod tlog;
pub mod verify;

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
