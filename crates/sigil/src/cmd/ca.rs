//! `sigil ca …` and `sigil oidc …`: the certificate authority (Fulcio's API) with its embedded
//! CT log, and the dev OIDC issuer (GitHub Actions' token protocol and claims), from
//! `sigil-ca`.
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context};
use sigil_ca::{CaConfig, DevIssuer, IssuerSettings, WorkflowProfile};

#[derive(Debug, clap::Subcommand)]
pub enum CaCommand {
    /// Serve a certificate authority with Fulcio's v2 API and an embedded RFC 6962 CT log.
    ///
    /// Prints `listening on ADDR` as the first line of stdout once it accepts connections.
    /// Keys and certificates are created in the data directory on first start; the trust-root
    /// entries for clients are written to `DATA_DIR/trust.json`.
    Serve(CaServeArgs),
}

#[derive(Debug, clap::Args)]
pub struct CaServeArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:5555")]
    addr: SocketAddr,
    /// Directory for the CA's keys, certificates and CT log (created if missing).
    #[arg(long)]
    data_dir: PathBuf,
    /// Issuer configuration (Fulcio's `oidc-issuers` format, YAML or JSON).
    #[arg(long)]
    config: PathBuf,
}

#[derive(Debug, clap::Subcommand)]
pub enum OidcCommand {
    /// Serve an OIDC issuer: discovery, JWKS, and GitHub Actions' runner token endpoint.
    ///
    /// Prints `listening on ADDR` as the first line of stdout once it accepts connections.
    Serve(OidcServeArgs),
    /// Print an email-identity token (`email`, `email_verified`) signed by the issuer's key.
    Token(TokenArgs),
    /// Print `export …` lines that make any client in this shell behave as inside a GitHub
    /// Actions workflow run (`ACTIONS_ID_TOKEN_REQUEST_URL`/`_TOKEN` and `GITHUB_*`).
    GithubEnv(GithubEnvArgs),
}

#[derive(Debug, clap::Args)]
pub struct OidcServeArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:5556")]
    addr: SocketAddr,
    /// Directory for the issuer's keys and settings (created if missing).
    #[arg(long, env = "SIGIL_OIDC_DATA_DIR")]
    data_dir: PathBuf,
    /// The `iss` of minted tokens (default: the server's own URL). Set it to
    /// `https://token.actions.githubusercontent.com` to stand in for GitHub Actions.
    #[arg(long)]
    issuer: Option<String>,
    /// Allow listening on a non-loopback address.
    #[arg(long)]
    insecure_public: bool,
}

#[derive(Debug, clap::Args)]
pub struct TokenArgs {
    /// The email address to certify.
    #[arg(long)]
    email: String,
    /// The issuer's data directory.
    #[arg(long, env = "SIGIL_OIDC_DATA_DIR")]
    data_dir: PathBuf,
    /// The `iss` claim (default: the one recorded by `sigil oidc serve` in the data directory).
    #[arg(long)]
    issuer: Option<String>,
    /// The `aud` claim.
    #[arg(long, default_value = "sigstore")]
    audience: String,
}

#[derive(Debug, clap::Args)]
pub struct GithubEnvArgs {
    /// `OWNER/REPO`.
    #[arg(long)]
    repository: String,
    /// The workflow file, `.github/workflows/FILE.yml`.
    #[arg(long)]
    workflow: String,
    /// The full ref, e.g. `refs/heads/main` or `refs/tags/v1.0.0`.
    #[arg(long = "ref")]
    git_ref: String,
    /// The commit (40 hex digits; default: derived from repository and ref).
    #[arg(long)]
    sha: Option<String>,
    /// The triggering event.
    #[arg(long, default_value = "push")]
    event: String,
    /// A deployment environment (changes `sub` to `repo:OWNER/REPO:environment:ENV`).
    #[arg(long)]
    environment: Option<String>,
    /// The issuer's data directory (must be the one a running `sigil oidc serve` uses).
    #[arg(long, env = "SIGIL_OIDC_DATA_DIR")]
    data_dir: PathBuf,
}

pub async fn run_ca(c: CaCommand) -> anyhow::Result<ExitCode> {
    match c {
        CaCommand::Serve(a) => ca_serve(a).await,
    }
}

pub async fn run_oidc(c: OidcCommand) -> anyhow::Result<ExitCode> {
    match c {
        OidcCommand::Serve(a) => oidc_serve(a).await,
        OidcCommand::Token(a) => oidc_token(a),
        OidcCommand::GithubEnv(a) => github_env(a),
    }
}

fn announce(addr: SocketAddr) -> anyhow::Result<()> {
    // First line of stdout, flushed: tests and `sigil up` read the port from it.
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on {addr}")?;
    out.flush()?;
    Ok(())
}

async fn until_stopped(handle: sigil_ca::ServerHandle) -> anyhow::Result<ExitCode> {
    tokio::select! {
        r = tokio::signal::ctrl_c() => { r.context("waiting for ctrl-c")?; }
        r = terminated() => { r?; }
    }
    handle.shutdown().await.context("shutting down")?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(unix)]
async fn terminated() -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    term.recv().await;
    Ok(())
}

#[cfg(not(unix))]
async fn terminated() -> anyhow::Result<()> {
    std::future::pending().await
}

async fn ca_serve(a: CaServeArgs) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&a.config)
        .with_context(|| format!("reading the CA configuration `{}`", a.config.display()))?;
    let config = CaConfig::from_yaml(&text)
        .with_context(|| format!("in the CA configuration `{}`", a.config.display()))?;
    if config.oidc_issuers.is_empty() {
        bail!(
            "the CA configuration `{}` lists no oidc-issuers: no token could be accepted",
            a.config.display()
        );
    }
    let state = sigil_ca::open_ca(&a.data_dir, &config)
        .with_context(|| format!("opening the CA in `{}`", a.data_dir.display()))?;
    let listener = tokio::net::TcpListener::bind(a.addr)
        .await
        .with_context(|| format!("listening on {}", a.addr))?;
    let handle = sigil_ca::spawn(listener, sigil_ca::router(state.clone()))
        .context("starting the server")?;
    let trust = state.trust_root_fragment(&handle.url());
    let trust_path = a.data_dir.join("trust.json");
    std::fs::write(&trust_path, serde_json::to_vec_pretty(&trust)?)
        .with_context(|| format!("writing `{}`", trust_path.display()))?;
    announce(handle.local_addr)?;
    until_stopped(handle).await
}

fn open_issuer(dir: &Path) -> anyhow::Result<DevIssuer> {
    DevIssuer::open(dir).with_context(|| format!("opening the OIDC issuer in `{}`", dir.display()))
}

async fn oidc_serve(a: OidcServeArgs) -> anyhow::Result<ExitCode> {
    if !a.addr.ip().is_loopback() && !a.insecure_public {
        bail!(
            "refusing to serve the dev OIDC issuer on non-loopback address {}: anyone reaching it could \
             fetch tokens with a leaked request token; pass --insecure-public to do it anyway",
            a.addr
        );
    }
    std::fs::create_dir_all(&a.data_dir)
        .with_context(|| format!("creating `{}`", a.data_dir.display()))?;
    let issuer = Arc::new(open_issuer(&a.data_dir)?);
    let listener = tokio::net::TcpListener::bind(a.addr)
        .await
        .with_context(|| format!("listening on {}", a.addr))?;
    let addr = listener.local_addr()?;
    let url = format!("http://{addr}");
    let iss = a.issuer.unwrap_or_else(|| url.clone());
    issuer
        .set_settings(IssuerSettings { issuer: iss, url })
        .context("recording the issuer settings")?;
    let handle = sigil_ca::spawn(listener, sigil_ca::issuer_router(issuer))
        .context("starting the server")?;
    announce(handle.local_addr)?;
    until_stopped(handle).await
}

fn oidc_token(a: TokenArgs) -> anyhow::Result<ExitCode> {
    let issuer = open_issuer(&a.data_dir)?;
    let iss = match a.issuer.or_else(|| issuer.settings().map(|s| s.issuer)) {
        Some(i) => i,
        None => bail!(
            "no issuer URL: pass --issuer, or run `sigil oidc serve --data-dir {}` first",
            a.data_dir.display()
        ),
    };
    let jwt = issuer
        .mint_email(&iss, &a.email, &a.audience)
        .context("minting the token")?;
    println!("{jwt}");
    Ok(ExitCode::SUCCESS)
}

/// POSIX shell single-quoting.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn github_env(a: GithubEnvArgs) -> anyhow::Result<ExitCode> {
    let issuer = open_issuer(&a.data_dir)?;
    let Some(settings) = issuer.settings() else {
        bail!(
            "no server has run on `{}`: start `sigil oidc serve --data-dir {}` first",
            a.data_dir.display(),
            a.data_dir.display()
        );
    };
    let mut profile = WorkflowProfile::new(
        &a.repository,
        &a.workflow,
        &a.git_ref,
        a.sha.as_deref(),
        &a.event,
    )
    .context("invalid workflow profile")?;
    profile.environment = a.environment;
    let token = issuer
        .request_token(&profile)
        .context("making the request token")?;
    let mut out = String::new();
    let url = format!("{}/token?api-version=2.0", settings.url);
    for (name, value) in [
        ("ACTIONS_ID_TOKEN_REQUEST_URL", url),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", token),
    ]
    .into_iter()
    .chain(profile.env())
    {
        out.push_str(&format!("export {name}={}\n", shell_quote(&value)));
    }
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}
