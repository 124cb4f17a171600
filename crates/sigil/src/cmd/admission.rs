//! `sigil admission serve` and `sigil admission manifests`: the Kyverno-compatible admission
//! webhook of `sigil-admission`, verifying through the same pipeline as `sigil verify`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sigil_admission::{
    load_policies, manifests, self_signed, AppState, Engine, EngineOptions, ImageVerifier,
    ManifestOptions, RegistryFetcher, ServeOptions, TlsSource, VerifierOptions,
};

use super::registry_opts::RegistryOpts;
use super::trust::TrustOpts;

#[derive(Debug, clap::Subcommand)]
pub enum AdmissionCommand {
    /// Serve AdmissionReview webhooks (HTTPS) enforcing Kyverno verifyImages policies.
    Serve(ServeArgs),
    /// Print the Kubernetes manifests that deploy the webhook.
    Manifests(ManifestsArgs),
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// A Kyverno policy file, or a directory of them (reloaded when they change).
    #[arg(long)]
    pub policy: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "0.0.0.0:8443")]
    pub addr: String,
    /// Serving certificate (PEM chain).
    #[arg(long, requires = "tls_key", conflicts_with = "tls_self_signed")]
    pub tls_cert: Option<PathBuf>,
    /// Serving key (PEM).
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Write (or reuse) a CA and a serving certificate for the Service's DNS name in DIR.
    #[arg(long, value_name = "DIR")]
    pub tls_self_signed: Option<PathBuf>,
    /// Service name, for the self-signed certificate's DNS names.
    #[arg(long, default_value = "sigil-admission")]
    pub service_name: String,
    /// Namespace of the Service, for the self-signed certificate's DNS names.
    #[arg(long, default_value = "sigil-admission")]
    pub namespace: String,
    /// How long a passing verdict is cached.
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    pub cache_ttl: Duration,
    /// How long a failing verdict is cached.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub negative_cache_ttl: Duration,
    /// How long a tag's digest is reused before the registry is asked again.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub tag_ttl: Duration,
    /// Time allowed for the verifications of one request (keep it below the webhook's
    /// timeoutSeconds, 10 s).
    #[arg(long, default_value = "8s", value_parser = parse_duration)]
    pub deadline: Duration,
    #[command(flatten)]
    pub trust: TrustOpts,
    #[command(flatten)]
    pub registry: RegistryOpts,
}

#[derive(Debug, clap::Args)]
pub struct ManifestsArgs {
    /// Namespace to deploy into.
    #[arg(long, default_value = "sigil-admission")]
    pub namespace: String,
    /// Name of the Deployment, Service and webhooks.
    #[arg(long, default_value = "sigil-admission")]
    pub name: String,
    /// Policy file or directory to put into the ConfigMap.
    #[arg(long)]
    pub policy: PathBuf,
    /// The sigil container image.
    #[arg(long, default_value = "ghcr.io/sigil-dev/sigil:latest")]
    pub image: String,
    /// Directory for the CA and serving certificate (created, or reused when present).
    #[arg(long, value_name = "DIR", default_value = "sigil-admission-tls")]
    pub tls_self_signed: PathBuf,
}

/// `30s`, `10m`, `1h`, `500ms`, or plain seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map(|i| s.split_at(i))
        .unwrap_or((s, "s"));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration like 30s, 10m, 1h"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        "h" => Ok(Duration::from_secs(n * 3600)),
        _ => Err(format!("`{s}`: unknown unit `{unit}` (ms, s, m, h)")),
    }
}

fn dns_names(service: &str, ns: &str) -> Vec<String> {
    vec![
        format!("{service}.{ns}.svc"),
        format!("{service}.{ns}.svc.cluster.local"),
        format!("{service}.{ns}"),
        service.to_owned(),
    ]
}

pub async fn run(c: AdmissionCommand) -> anyhow::Result<ExitCode> {
    match c {
        AdmissionCommand::Serve(a) => serve(a).await,
        AdmissionCommand::Manifests(a) => print_manifests(a),
    }
}

async fn serve(a: ServeArgs) -> anyhow::Result<ExitCode> {
    let set = load_policies(&a.policy)
        .with_context(|| format!("loading policies from `{}`", a.policy.display()))?;
    for w in &set.warnings {
        eprintln!("WARNING: {w}");
    }
    let tls = match (&a.tls_cert, &a.tls_key, &a.tls_self_signed) {
        (Some(cert), Some(key), _) => TlsSource {
            cert: cert.clone(),
            key: key.clone(),
        },
        (_, _, Some(dir)) => {
            let s = self_signed(dir, &dns_names(&a.service_name, &a.namespace))
                .with_context(|| format!("writing the self-signed CA in `{}`", dir.display()))?;
            eprintln!("CA certificate (caBundle): {}", s.ca_cert.display());
            TlsSource {
                cert: s.cert,
                key: s.key,
            }
        }
        _ => anyhow::bail!("the webhook serves HTTPS only: pass --tls-cert and --tls-key, or --tls-self-signed DIR"),
    };
    let root = a.trust.load()?;
    let client = Arc::new(a.registry.client()?);
    let verifier = ImageVerifier::new(
        Arc::new(RegistryFetcher { client }),
        VerifierOptions {
            ttl: a.cache_ttl,
            negative_ttl: a.negative_cache_ttl,
            tag_ttl: a.tag_ttl,
            trusted_root: Some(root),
            ..VerifierOptions::default()
        },
    );
    let n = set.policies.len();
    let engine = Arc::new(Engine::new(
        set.policies,
        verifier,
        EngineOptions {
            deadline: a.deadline,
        },
    ));
    let state = AppState::new(engine);
    let server = sigil_admission::serve(
        state,
        ServeOptions {
            addr: a.addr.clone(),
            tls,
            policy_path: Some(a.policy.clone()),
            reload_interval: Duration::from_secs(2),
        },
    )
    .await
    .context("starting the webhook server")?;
    eprintln!(
        "sigil admission: serving https://{} with {n} polic{} from `{}`",
        server.addr,
        if n == 1 { "y" } else { "ies" },
        a.policy.display()
    );
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    server.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

fn print_manifests(a: ManifestsArgs) -> anyhow::Result<ExitCode> {
    let set = load_policies(&a.policy)
        .with_context(|| format!("loading policies from `{}`", a.policy.display()))?;
    let mut files = BTreeMap::new();
    for f in sigil_admission::policy::policy_files(&a.policy)? {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "policy.yaml".into());
        let text =
            std::fs::read_to_string(&f).with_context(|| format!("reading `{}`", f.display()))?;
        files.insert(name, text);
    }
    let mut kinds: Vec<String> = set
        .policies
        .iter()
        .flat_map(|p| p.spec.rules.iter())
        .filter(|r| !r.verify_images.is_empty())
        .flat_map(|r| r.match_.filters().into_iter().flat_map(|f| f.kinds.clone()))
        .collect();
    kinds.sort();
    kinds.dedup();
    let tls =
        self_signed(&a.tls_self_signed, &dns_names(&a.name, &a.namespace)).with_context(|| {
            format!(
                "writing the self-signed CA in `{}`",
                a.tls_self_signed.display()
            )
        })?;
    let read = |p: &PathBuf| {
        std::fs::read_to_string(p).with_context(|| format!("reading `{}`", p.display()))
    };
    let out = manifests(&ManifestOptions {
        namespace: a.namespace,
        name: a.name,
        image: a.image,
        ca_pem: read(&tls.ca_cert)?,
        cert_pem: read(&tls.cert)?,
        key_pem: read(&tls.key)?,
        policies: files,
        kinds,
    });
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}
