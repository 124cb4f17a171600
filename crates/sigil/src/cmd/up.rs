//! `sigil up`: the whole trust chain on loopback in one process — the OCI registry, the
//! transparency log (Rekor v1 API), the certificate authority (Fulcio API, with its CT log)
//! and two dev OIDC issuers: one standing in for GitHub Actions
//! (`https://token.actions.githubusercontent.com`, with its own keys, trusted by this stack's
//! CA only) so the lab's verify commands run verbatim, one for email identities.
//!
//! State (keys, log, blobs) lives in `--state-dir` and survives restarts. The stack writes
//! `trust_config.json` (a Sigstore ClientTrustConfig, what `--trust-config` and
//! sigstore-python take), `trusted_root.json`, and `stack.env`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::json;

/// GitHub Actions' OIDC issuer, which the stack's dev issuer stands in for.
pub const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// The largest entry the stack's log takes (and twice that for a request body). Public
/// Rekor's 128 KiB cap would refuse the `dsse` entry of any SBOM attestation above ~90 KiB,
/// since the proposed entry carries the whole envelope (the stored body only its hashes); the
/// stack takes what `sigil attest` takes (a 32 MiB predicate is a ~45 MiB request).
/// `sigil tlog serve` keeps Rekor's 128 KiB default (`--max-entry-size`).
pub const STACK_MAX_ENTRY_SIZE: usize = 24 << 20;

#[derive(Debug, Clone, clap::Args)]
pub struct UpArgs {
    /// Where keys, the log and registry blobs are kept.
    #[arg(long, default_value = ".sigil")]
    pub state_dir: PathBuf,
    /// The OCI registry.
    #[arg(long, default_value = "127.0.0.1:5050")]
    pub registry_addr: SocketAddr,
    /// The transparency log.
    #[arg(long, default_value = "127.0.0.1:5051")]
    pub tlog_addr: SocketAddr,
    /// The certificate authority (and its CT log).
    #[arg(long, default_value = "127.0.0.1:5052")]
    pub ca_addr: SocketAddr,
    /// The OIDC issuer standing in for GitHub Actions.
    #[arg(long, default_value = "127.0.0.1:5053")]
    pub oidc_addr: SocketAddr,
    /// The OIDC issuer for email identities (`sigil oidc token --email …`).
    #[arg(long, default_value = "127.0.0.1:5054")]
    pub oidc_email_addr: SocketAddr,
    /// The `iss` of the workflow issuer's tokens.
    #[arg(long, default_value = GITHUB_ISSUER)]
    pub github_issuer: String,
}

/// The running stack.
pub struct Stack {
    registry: sigil_registry::Server,
    tlog: sigil_tlog::TlogServer,
    ca: sigil_ca::ServerHandle,
    oidc: sigil_ca::ServerHandle,
    oidc_email: sigil_ca::ServerHandle,
    /// `NAME=value` pairs of `stack.env`.
    pub env: Vec<(String, String)>,
}

impl std::fmt::Debug for Stack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stack").field("env", &self.env).finish()
    }
}

async fn start_issuer(
    dir: &Path,
    addr: SocketAddr,
    iss: Option<&str>,
) -> anyhow::Result<(sigil_ca::ServerHandle, String)> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating `{}`", dir.display()))?;
    let issuer = Arc::new(
        sigil_ca::DevIssuer::open(dir)
            .with_context(|| format!("opening the OIDC issuer in `{}`", dir.display()))?,
    );
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))?;
    let url = format!("http://{}", listener.local_addr()?);
    let iss = iss.map(str::to_owned).unwrap_or_else(|| url.clone());
    issuer
        .set_settings(sigil_ca::IssuerSettings {
            issuer: iss.clone(),
            url: url.clone(),
        })
        .context("recording the issuer settings")?;
    let handle = sigil_ca::spawn(listener, sigil_ca::issuer_router(issuer))
        .context("starting the OIDC issuer")?;
    Ok((handle, iss))
}

impl Stack {
    pub async fn start(a: &UpArgs) -> anyhow::Result<Stack> {
        let dir = &a.state_dir;
        std::fs::create_dir_all(dir).with_context(|| format!("creating `{}`", dir.display()))?;
        // Loopback only by default (`Exposure::AuthRequired` refuses other binds without auth).
        let reg_config = sigil_registry::Config::new(a.registry_addr, dir.join("registry"));
        let registry = sigil_registry::Server::start(reg_config)
            .await
            .context("starting the registry")?;
        let tlog = sigil_tlog::TlogServer::start(
            a.tlog_addr,
            &dir.join("tlog"),
            sigil_tlog::LogConfig {
                max_entry_size: STACK_MAX_ENTRY_SIZE,
                // A new log signs its checkpoints under its host, as public Rekor signs under
                // `rekor.sigstore.dev`: sigstore-js accepts a checkpoint only if the signer's
                // name is found in the log's `baseUrl`. A log created before keeps its origin.
                origin: (!dir.join("tlog").exists()).then(|| a.tlog_addr.ip().to_string()),
                ..sigil_tlog::LogConfig::default()
            },
        )
        .await
        .context("starting the transparency log")?;
        let (oidc, _) =
            start_issuer(&dir.join("oidc"), a.oidc_addr, Some(&a.github_issuer)).await?;
        let (oidc_email, email_iss) =
            start_issuer(&dir.join("oidc-email"), a.oidc_email_addr, None).await?;
        let ca_yaml = format!(
            "oidc-issuers:\n  {gh}:\n    issuer-url: {gh}\n    type: github-workflow\n    discovery-url: {oidc}/.well-known/openid-configuration\n  \
             {em}:\n    issuer-url: {em}\n    type: email\n",
            gh = a.github_issuer,
            oidc = oidc.url(),
            em = email_iss,
        );
        std::fs::write(dir.join("ca.yaml"), &ca_yaml).context("writing ca.yaml")?;
        let config =
            sigil_ca::CaConfig::from_yaml(&ca_yaml).context("the stack's CA configuration")?;
        let ca_state = sigil_ca::open_ca(&dir.join("ca"), &config).context("opening the CA")?;
        let ca_listener = tokio::net::TcpListener::bind(a.ca_addr)
            .await
            .with_context(|| format!("listening on {}", a.ca_addr))?;
        let ca = sigil_ca::spawn(ca_listener, sigil_ca::router(ca_state.clone()))
            .context("starting the CA")?;

        let fragment = ca_state.trust_root_fragment(&ca.url());
        let log = tlog.log();
        let key = log.public_key();
        let valid_start = "2020-01-01T00:00:00Z";
        let trusted_root = json!({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [{
                "baseUrl": tlog.url(),
                "hashAlgorithm": "SHA2_256",
                "publicKey": {
                    "rawBytes": B64.encode(key.spki_der()),
                    "keyDetails": key.algorithm().key_details(),
                    "validFor": {"start": valid_start},
                },
                "logId": {"keyId": B64.encode(log.log_id())},
            }],
            "certificateAuthorities": fragment["certificateAuthorities"],
            "ctlogs": fragment["ctlogs"],
            "timestampAuthorities": [],
        });
        let svc = |url: String| json!({"url": url, "majorApiVersion": 1, "validFor": {"start": valid_start}, "operator": "sigil up"});
        let trust_config = json!({
            "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
            "trustedRoot": trusted_root,
            "signingConfig": {
                "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
                "caUrls": [svc(ca.url())],
                "oidcUrls": [svc(oidc_email.url())],
                "rekorTlogUrls": [svc(tlog.url())],
                "tsaUrls": [],
                "rekorTlogConfig": {"selector": "ANY"},
                "tsaConfig": {"selector": "ANY"},
            },
        });
        let trust_config_path = dir.join("trust_config.json");
        std::fs::write(
            &trust_config_path,
            serde_json::to_vec_pretty(&trust_config)?,
        )
        .context("writing trust_config.json")?;
        std::fs::write(
            dir.join("trusted_root.json"),
            serde_json::to_vec_pretty(&trust_config["trustedRoot"])?,
        )
        .context("writing trusted_root.json")?;
        let abs = |p: PathBuf| std::fs::canonicalize(&p).unwrap_or(p);
        let env = vec![
            (
                "SIGIL_REGISTRY".to_owned(),
                registry.local_addr().to_string(),
            ),
            ("SIGIL_FULCIO_URL".to_owned(), ca.url()),
            ("SIGIL_REKOR_URL".to_owned(), tlog.url()),
            ("SIGIL_OIDC_URL".to_owned(), oidc.url()),
            ("SIGIL_OIDC_EMAIL_URL".to_owned(), oidc_email.url()),
            (
                "SIGIL_OIDC_DATA_DIR".to_owned(),
                abs(dir.join("oidc")).display().to_string(),
            ),
            (
                "SIGIL_TRUST_CONFIG".to_owned(),
                abs(trust_config_path.clone()).display().to_string(),
            ),
        ];
        let text: String = env
            .iter()
            .map(|(k, v)| format!("export {k}={v}\n"))
            .collect();
        std::fs::write(dir.join("stack.env"), text).context("writing stack.env")?;
        Ok(Stack {
            registry,
            tlog,
            ca,
            oidc,
            oidc_email,
            env,
        })
    }

    /// Stops every service, letting in-flight requests finish.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        self.registry.shutdown().await;
        self.ca.shutdown().await.context("stopping the CA")?;
        self.oidc
            .shutdown()
            .await
            .context("stopping the OIDC issuer")?;
        self.oidc_email
            .shutdown()
            .await
            .context("stopping the email OIDC issuer")?;
        self.tlog.shutdown().await.context("stopping the log")?;
        Ok(())
    }
}

pub async fn run(a: UpArgs) -> anyhow::Result<ExitCode> {
    let stack = Stack::start(&a).await?;
    for (k, v) in &stack.env {
        println!("export {k}={v}");
    }
    println!(
        "# ready: `source {}` in another shell; ctrl-c stops the stack",
        a.state_dir.join("stack.env").display()
    );
    use std::io::Write as _;
    std::io::stdout().flush()?;
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("installing the SIGTERM handler")?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.context("waiting for ctrl-c")?,
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    tokio::signal::ctrl_c()
        .await
        .context("waiting for ctrl-c")?;
    stack.shutdown().await?;
    Ok(ExitCode::SUCCESS)
}
