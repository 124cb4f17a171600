//! `sigil lab`: the signed-containers lab, every exercise, offline, in one command.
//!
//! The embedded stack (`sigil up`'s registry, log, CA and OIDC issuers) runs in this process
//! on ephemeral loopback ports. Every step then runs the exact sigil command it prints, as a
//! child process of this executable with the stack's environment (`stack.env`), so what the
//! lab shows is what a user would type. Each step prints the lab's command (cosign, kubectl,
//! syft, docker), the sigil command that replaces it, ✓ or ✗ and its time; expected failures
//! (the attacker's identity, the unsigned image) are steps that pass when the command fails
//! the way the lab says it does. The exit status is 0 only if every expectation held.
//!
//! The steps follow `scripts/lab.sh`, which ran the same lab against `sigil up` in bash.

mod exercises;
mod runner;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use super::up::{Stack, UpArgs, GITHUB_ISSUER};
use runner::Lab;

#[derive(Debug, Clone, clap::Args)]
pub struct LabArgs {
    /// Keep the stack running after the lab (until ctrl-c), and its state directory.
    #[arg(long)]
    pub keep: bool,
    /// Where the stack's state (`DIR/stack`) and the lab's files (`DIR/work`: keys, policy,
    /// SBOM) go. Default: a temporary directory, removed at the end unless `--keep`.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// The application binary to pack as the lab's image. Default: `hello` next to this
    /// executable (`cargo build --release` builds both).
    #[arg(long, value_name = "PATH")]
    pub app: Option<PathBuf>,
    /// Break one link of the chain on purpose, to see the lab catch it.
    #[arg(long = "break", value_enum, hide = true)]
    pub break_link: Option<BreakLink>,
}

/// A link of the chain `--break` can break.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BreakLink {
    /// Exercise 2 signs as another workflow (`.github/workflows/release.yml`) than the one
    /// the verifications and the policy expect.
    KeylessIdentity,
}

/// The application binary: `--app`, else `hello` next to `exe`.
fn find_app(app: Option<&Path>, exe: &Path) -> anyhow::Result<PathBuf> {
    if let Some(p) = app {
        if !p.is_file() {
            anyhow::bail!("--app `{}` is not a file", p.display());
        }
        return Ok(p.to_owned());
    }
    let dir = exe.parent().unwrap_or(Path::new("."));
    let p = dir.join(format!("hello{}", std::env::consts::EXE_SUFFIX));
    if p.is_file() {
        return Ok(p);
    }
    anyhow::bail!(
        "the lab's application `{}` is missing: build it with `cargo build --release` (it builds \
         sigil and examples/hello together), or pass --app PATH",
        p.display()
    )
}

pub async fn run(a: LabArgs) -> anyhow::Result<ExitCode> {
    let exe = std::env::current_exe().context("locating the sigil executable")?;
    let app = find_app(a.app.as_deref(), &exe)?;
    let app = std::fs::canonicalize(&app).unwrap_or(app);
    let mut temp = None;
    let root = match &a.state_dir {
        Some(d) => d.clone(),
        None => {
            let t = tempfile::Builder::new()
                .prefix("sigil-lab-")
                .tempdir()
                .context("creating a temporary directory")?;
            let p = t.path().to_owned();
            temp = Some(t);
            p
        }
    };
    std::fs::create_dir_all(&root).with_context(|| format!("creating `{}`", root.display()))?;
    let root = std::fs::canonicalize(&root).unwrap_or(root);
    // The lab's files start fresh every run (generate-key-pair never overwrites a key); the
    // stack's state may persist across runs.
    let work = root.join("work");
    if work.exists() {
        std::fs::remove_dir_all(&work).with_context(|| format!("clearing `{}`", work.display()))?;
    }
    std::fs::create_dir_all(&work).with_context(|| format!("creating `{}`", work.display()))?;

    let mut lab = Lab::new(exe, work, app, a.break_link);
    let up = UpArgs {
        state_dir: root.join("stack"),
        registry_addr: loopback(),
        tlog_addr: loopback(),
        ca_addr: loopback(),
        oidc_addr: loopback(),
        oidc_email_addr: loopback(),
        github_issuer: GITHUB_ISSUER.to_owned(),
    };
    lab.exercise("Setup");
    lab.header(
        "Start the embedded stack",
        "GHCR + Fulcio + Rekor + GitHub Actions OIDC",
        &format!("sigil up --state-dir {}", up.state_dir.display()),
    );
    let started = std::time::Instant::now();
    let stack = Stack::start(&up).await.context("starting the stack")?;
    lab.env = stack.env.clone();
    lab.record(
        "stack",
        true,
        started.elapsed(),
        &format!(
            "registry {}, log {}, CA {}",
            lab.var("SIGIL_REGISTRY"),
            lab.var("SIGIL_REKOR_URL"),
            lab.var("SIGIL_FULCIO_URL")
        ),
    );

    exercises::run_all(&mut lab).await;
    let ok = lab.summary();

    if a.keep {
        if let Some(t) = temp.take() {
            let _ = t.keep();
        }
        println!();
        for (k, v) in &stack.env {
            println!("export {k}={v}");
        }
        println!(
            "# the stack keeps running: `source {}` in another shell; ctrl-c stops it (state in `{}`)",
            root.join("stack").join("stack.env").display(),
            root.display()
        );
        tokio::signal::ctrl_c()
            .await
            .context("waiting for ctrl-c")?;
    }
    stack.shutdown().await?;
    drop(temp);
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn loopback() -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], 0))
}
