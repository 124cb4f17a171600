//! `sigil pipeline`: the lab's complete signing pipeline in one command, for any CI:
//! pack → push → sign → SBOM → attest (`spdxjson`) → verify the signature and the attestation.
//!
//! Packing runs in process; every later stage runs the sigil command a user would type (a
//! child process of this executable, with this environment), so the pipeline behaves exactly
//! as the separate commands do: keyless signing finds GitHub Actions' ambient token, a key's
//! password comes from `COSIGN_PASSWORD`, trust from `--trusted-root`/`--trust-config` or
//! `SIGIL_TRUST_CONFIG` (else the embedded public-good root), the CA and log from
//! `--fulcio-url`/`--rekor-url` (else the trust config's), registry credentials from the Docker
//! config. An `--identity-token` reaches the signing stages through `SIGSTORE_ID_TOKEN`, not
//! their command line, so it never shows in a process list.
//! The first stage that fails stops the pipeline; its exit code is the pipeline's.

use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::Instant;

use anyhow::Context;
use serde_json::{json, Value};
use sigil_oci::cosign::{attachment_tag, Attachment};

use super::pack::PackArgs;
use super::trust::{ServiceOpts, TrustOpts};
use super::up::GITHUB_ISSUER;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, clap::Args)]
pub struct PipelineArgs {
    #[command(flatten)]
    pub pack: PackArgs,
    /// Sign and attest with this key file (verified with its public key). Without it,
    /// keyless: GitHub Actions' token, or `SIGSTORE_ID_TOKEN`.
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// Keyless: the identity to verify with (default in GitHub Actions: any workflow of
    /// this repository, `^https://github.com/OWNER/REPO/`).
    #[arg(long)]
    pub certificate_identity: Option<String>,
    /// Keyless: the identity, as a regular expression.
    #[arg(long)]
    pub certificate_identity_regexp: Option<String>,
    /// Keyless: the OIDC issuer to verify with (default in GitHub Actions: its issuer).
    #[arg(long)]
    pub certificate_oidc_issuer: Option<String>,
    #[command(flatten)]
    pub services: ServiceOpts,
    #[command(flatten)]
    pub trust: TrustOpts,
    /// Where to write the SBOM (default: a temporary file, removed).
    #[arg(long, value_name = "FILE")]
    pub sbom_output: Option<PathBuf>,
    /// `text`: progress on stderr, the image digest on stdout; `json`: one JSON result.
    #[arg(long, value_enum, default_value = "text")]
    pub output: OutputFormat,
}

/// The identity flags `verify` and `verify-attestation` get.
fn verify_flags(a: &PipelineArgs, public_key: Option<&Path>) -> anyhow::Result<Vec<String>> {
    if let Some(k) = public_key {
        return Ok(vec!["--key".into(), k.display().to_string()]);
    }
    let mut flags = Vec::new();
    match (&a.certificate_identity, &a.certificate_identity_regexp) {
        (Some(i), _) => flags.extend(["--certificate-identity".to_owned(), i.clone()]),
        (None, Some(re)) => flags.extend(["--certificate-identity-regexp".to_owned(), re.clone()]),
        (None, None) => {
            // In GitHub Actions the signer is this repository's workflow.
            let server = std::env::var("GITHUB_SERVER_URL").ok();
            let repo = std::env::var("GITHUB_REPOSITORY").ok();
            match (server, repo) {
                (Some(s), Some(r)) if !s.is_empty() && !r.is_empty() => {
                    let re = format!(
                        "^{}/{}/",
                        regex_escape(s.trim_end_matches('/')),
                        regex_escape(&r)
                    );
                    flags.extend(["--certificate-identity-regexp".to_owned(), re]);
                }
                _ => anyhow::bail!(
                    "keyless pipeline: give --certificate-identity (or --certificate-identity-regexp) \
                     and --certificate-oidc-issuer to verify with, or --key"
                ),
            }
        }
    }
    let issuer = match &a.certificate_oidc_issuer {
        Some(i) => i.clone(),
        None if std::env::var_os("GITHUB_ACTIONS").is_some() => GITHUB_ISSUER.to_owned(),
        None => anyhow::bail!("keyless pipeline: give --certificate-oidc-issuer to verify with"),
    };
    flags.extend(["--certificate-oidc-issuer".to_owned(), issuer]);
    Ok(flags)
}

fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let special = "\\.+*?()|[]{}^$#&-~".contains(c);
            special
                .then_some('\\')
                .into_iter()
                .chain(std::iter::once(c))
        })
        .collect()
}

struct Stage {
    name: &'static str,
    ms: u128,
    ok: bool,
}

/// Runs `sigil ARGS…` (with `SIGSTORE_ID_TOKEN` set to `token` if given); stdout captured
/// (or written to `stdout_to`), stderr passed through.
async fn sigil(
    args: &[String],
    stdout_to: Option<&Path>,
    token: Option<&str>,
) -> anyhow::Result<(Option<i32>, String)> {
    let exe = std::env::current_exe().context("locating the sigil executable")?;
    let mut cmd = tokio::process::Command::new(exe);
    if let Some(t) = token {
        cmd.env("SIGSTORE_ID_TOKEN", t);
    }
    cmd.args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    match stdout_to {
        Some(p) => {
            let f =
                std::fs::File::create(p).with_context(|| format!("creating `{}`", p.display()))?;
            cmd.stdout(Stdio::from(f));
        }
        None => {
            cmd.stdout(Stdio::piped());
        }
    }
    // Not `output()`: it would pipe stdout even when it was set to a file.
    let out = cmd
        .spawn()
        .context("running sigil")?
        .wait_with_output()
        .await
        .context("running sigil")?;
    Ok((
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    ))
}

pub async fn run(a: PipelineArgs) -> anyhow::Result<ExitCode> {
    let temp = tempfile::Builder::new()
        .prefix("sigil-pipeline-")
        .tempdir()
        .context("creating a temporary directory")?;
    let public_key = match &a.key {
        Some(k) => {
            let p = temp.path().join("key.pub");
            let args = vec![
                "public-key".to_owned(),
                "--key".into(),
                k.display().to_string(),
                "--outfile".into(),
                p.display().to_string(),
            ];
            let (code, _) = sigil(&args, None, None).await?;
            if code != Some(0) {
                anyhow::bail!("reading the public key of `{}` failed", k.display());
            }
            Some(p)
        }
        None => None,
    };
    // Checked before anything is pushed: a pipeline that cannot verify should not sign.
    let verify = verify_flags(&a, public_key.as_deref())?;
    let mut stages = Vec::new();
    let t = Instant::now();
    let packed = super::pack::pack(&a.pack).await?;
    stages.push(Stage {
        name: "pack",
        ms: t.elapsed().as_millis(),
        ok: true,
    });
    let reference = format!("{}@{}", packed.image.name(), packed.digest);
    if a.output == OutputFormat::Text {
        eprintln!("Pushed {reference}");
    }
    let sbom_path = a
        .sbom_output
        .clone()
        .unwrap_or_else(|| temp.path().join("sbom.spdx.json"));
    let key_flags: Vec<String> = match &a.key {
        Some(k) => vec!["--key".into(), k.display().to_string()],
        None => Vec::new(),
    };
    let insecure: Vec<String> = if a.pack.registry.allow_insecure_registry {
        vec!["--allow-insecure-registry".into()]
    } else {
        Vec::new()
    };
    // Trust material for every stage; the CA and log for the signing ones.
    let mut trust: Vec<String> = Vec::new();
    if let Some(p) = &a.trust.trusted_root {
        trust.extend(["--trusted-root".into(), p.display().to_string()]);
    }
    if let Some(p) = &a.trust.trust_config {
        trust.extend(["--trust-config".into(), p.display().to_string()]);
    }
    let mut signing = trust.clone();
    if let Some(u) = &a.services.fulcio_url {
        signing.extend(["--fulcio-url".into(), u.clone()]);
    }
    if let Some(u) = &a.services.rekor_url {
        signing.extend(["--rekor-url".into(), u.clone()]);
    }
    let sbom = sbom_path.display().to_string();
    let plan: Vec<(&'static str, Vec<String>, Option<&Path>)> = vec![
        (
            "sign",
            [
                vec!["sign".into()],
                key_flags.clone(),
                signing.clone(),
                insecure.clone(),
                vec!["--yes".into(), reference.clone()],
            ]
            .concat(),
            None,
        ),
        (
            "sbom",
            [
                vec![
                    "sbom".into(),
                    reference.clone(),
                    "-o".into(),
                    "spdx-json".into(),
                ],
                insecure.clone(),
            ]
            .concat(),
            Some(sbom_path.as_path()),
        ),
        (
            "attest",
            [
                vec!["attest".into()],
                key_flags.clone(),
                signing.clone(),
                insecure.clone(),
                vec![
                    "--predicate".into(),
                    sbom.clone(),
                    "--type".into(),
                    "spdxjson".into(),
                    "--yes".into(),
                    reference.clone(),
                ],
            ]
            .concat(),
            None,
        ),
        (
            "verify",
            [
                vec!["verify".into()],
                verify.clone(),
                trust.clone(),
                insecure.clone(),
                vec![reference.clone()],
            ]
            .concat(),
            None,
        ),
        (
            "verify-attestation",
            [
                vec![
                    "verify-attestation".into(),
                    "--type".into(),
                    "spdxjson".into(),
                ],
                verify.clone(),
                trust.clone(),
                insecure.clone(),
                vec![reference.clone()],
            ]
            .concat(),
            None,
        ),
    ];
    let mut failed = None;
    for (name, args, to) in plan {
        if a.output == OutputFormat::Text {
            eprintln!("== {name}");
        }
        let t = Instant::now();
        let (code, _stdout) = sigil(&args, to, a.services.identity_token.as_deref()).await?;
        let ok = code == Some(0);
        stages.push(Stage {
            name,
            ms: t.elapsed().as_millis(),
            ok,
        });
        if !ok {
            failed = Some((name, code.unwrap_or(1)));
            break;
        }
    }
    let sig_tag = attachment_tag(&packed.digest, Attachment::Signature);
    let att_tag = attachment_tag(&packed.digest, Attachment::Attestation);
    let name = packed.image.name();
    let sbom_bytes = std::fs::metadata(&sbom_path).map(|m| m.len()).unwrap_or(0);
    let result = json!({
        "ok": failed.is_none(),
        "image": name,
        "digest": packed.digest.to_string(),
        "reference": reference,
        "signature": format!("{name}:{sig_tag}"),
        "attestation": format!("{name}:{att_tag}"),
        "sbom": {"format": "spdx-json", "bytes": sbom_bytes, "path": a.sbom_output.as_ref().map(|p| p.display().to_string())},
        "signer": if a.key.is_some() { "key" } else { "keyless" },
        "failedStage": failed.map(|(n, _)| n),
        "stages": stages.iter().map(|s| json!({"name": s.name, "ok": s.ok, "ms": s.ms})).collect::<Vec<Value>>(),
        "totalMs": stages.iter().map(|s| s.ms).sum::<u128>(),
    });
    match a.output {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&result)?),
        OutputFormat::Text => {
            for s in &stages {
                eprintln!(
                    "{} {:<20} {:>6} ms",
                    if s.ok { "✓" } else { "✗" },
                    s.name,
                    s.ms
                );
            }
            println!("{}", packed.digest);
        }
    }
    match failed {
        None => Ok(ExitCode::SUCCESS),
        Some((name, code)) => {
            eprintln!("error: the pipeline stopped at `{name}`");
            Ok(ExitCode::from(u8::try_from(code).unwrap_or(1).max(1)))
        }
    }
}
