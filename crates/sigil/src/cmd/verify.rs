//! `sigil verify`: cosign's `verify --key`, through the one pipeline in `sigil-verify`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use sigil_core::keys::PublicKey;
use sigil_core::{Digest, ImageRef};
use sigil_oci::cosign::{fetch_layers, Attachment};
use sigil_oci::Client;
use sigil_verify::{
    GithubExpectations, IdentityPolicy, ImagePolicy, Matcher, Outcome, SctPolicy,
    SignatureCandidate, SignatureSource, TlogPolicy, Trust,
};

use super::registry_opts::RegistryOpts;
use super::trust::TrustOpts;
use super::Exit;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Json,
    Text,
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The public key (cosign.pub) signatures must verify against. Without it, verification
    /// is keyless: by certificate identity and issuer.
    #[arg(long)]
    pub key: Option<PathBuf>,
    #[command(flatten)]
    pub identity: IdentityOpts,
    /// Accept certificates without an embedded SCT from a trusted CT log (insecure).
    #[arg(long)]
    pub insecure_ignore_sct: bool,
    /// Accepted for cosign compatibility: sigil never queries the log during verification;
    /// it checks the proofs carried with each signature.
    #[arg(long)]
    pub offline: bool,
    #[command(flatten)]
    pub trust: TrustOpts,
    /// Require `key=value` in each signature's claims.
    #[arg(short = 'a', long = "annotations", value_name = "KEY=VALUE", value_parser = super::parse_key_value)]
    pub annotations: Vec<(String, String)>,
    /// Accept signatures without a transparency-log entry (insecure: nothing proves when, or
    /// that, the signature was made public).
    #[arg(long)]
    pub insecure_ignore_tlog: bool,
    /// Output of the verified payloads on stdout.
    #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Json)]
    pub output: OutputFormat,
    #[command(flatten)]
    pub registry: RegistryOpts,
    /// The image to verify.
    pub image: String,
}

/// Signatures from the registry's `.sig` tag.
pub struct RegistrySource<'a> {
    pub client: &'a Client,
    /// `COSIGN_REPOSITORY`, when set.
    pub repository: Option<ImageRef>,
}

impl SignatureSource for RegistrySource<'_> {
    type Error = sigil_oci::Error;

    async fn signatures(
        &self,
        image: &ImageRef,
        digest: &Digest,
    ) -> Result<Option<Vec<SignatureCandidate>>, Self::Error> {
        let repo = self.repository.as_ref().unwrap_or(image);
        let layers = fetch_layers(self.client, repo, digest, Attachment::Signature).await?;
        Ok(layers.map(|layers| {
            layers
                .into_iter()
                .map(|l| SignatureCandidate {
                    signature_b64: l.signature_b64().map(str::to_owned),
                    certificate_pem: l.certificate().map(str::to_owned),
                    chain_pem: l.chain().map(str::to_owned),
                    rekor_bundle: l.bundle().map(str::to_owned),
                    payload: l.payload.to_vec(),
                })
                .collect()
        }))
    }
}

/// Certificate identity flags, as cosign names them.
#[derive(Debug, Clone, clap::Args)]
pub struct IdentityOpts {
    /// The identity (SAN) the signing certificate must carry, exactly.
    #[arg(long)]
    pub certificate_identity: Option<String>,
    /// A regular expression the identity must match. Unanchored, as in cosign (a pattern
    /// matches anywhere in the SAN): write `^…$` to anchor; sigil warns when you do not.
    #[arg(long)]
    pub certificate_identity_regexp: Option<String>,
    /// The OIDC issuer the certificate must name, exactly.
    #[arg(long)]
    pub certificate_oidc_issuer: Option<String>,
    /// A regular expression the issuer must match (unanchored, as in cosign).
    #[arg(long)]
    pub certificate_oidc_issuer_regexp: Option<String>,
    /// The GitHub workflow trigger the certificate must name (extension 1.3.6.1.4.1.57264.1.2).
    #[arg(long)]
    pub certificate_github_workflow_trigger: Option<String>,
    /// The commit SHA the certificate must name (…1.3).
    #[arg(long)]
    pub certificate_github_workflow_sha: Option<String>,
    /// The workflow name the certificate must name (…1.4).
    #[arg(long)]
    pub certificate_github_workflow_name: Option<String>,
    /// The repository the certificate must name (…1.5).
    #[arg(long)]
    pub certificate_github_workflow_repository: Option<String>,
    /// The git ref the certificate must name (…1.6).
    #[arg(long)]
    pub certificate_github_workflow_ref: Option<String>,
}

impl IdentityOpts {
    /// What a signature must be made with: the public key in `key` (a file), else a
    /// certificate for these identity flags (with an SCT unless `insecure_ignore_sct`).
    pub fn trust(
        &self,
        key: Option<&std::path::Path>,
        insecure_ignore_sct: bool,
    ) -> anyhow::Result<Trust> {
        Ok(match key {
            Some(path) => {
                let pem = std::fs::read(path)
                    .with_context(|| format!("reading public key `{}`", path.display()))?;
                Trust::Key(
                    PublicKey::from_pem(&pem)
                        .with_context(|| format!("loading public key `{}`", path.display()))?,
                )
            }
            None => Trust::Keyless {
                identity: self.policy()?,
                sct: if insecure_ignore_sct {
                    SctPolicy::Ignore
                } else {
                    SctPolicy::Required
                },
            },
        })
    }

    /// The identity policy, with cosign's errors for missing flags.
    pub fn policy(&self) -> anyhow::Result<IdentityPolicy> {
        let identity = match (&self.certificate_identity, &self.certificate_identity_regexp) {
            (Some(s), _) => Matcher::Exact(s.clone()),
            (None, Some(r)) => Matcher::regex(r).map_err(anyhow::Error::msg)?,
            (None, None) => anyhow::bail!(
                "--certificate-identity or --certificate-identity-regexp is required for verification in keyless mode"
            ),
        };
        let issuer = match (&self.certificate_oidc_issuer, &self.certificate_oidc_issuer_regexp) {
            (Some(s), _) => Matcher::Exact(s.clone()),
            (None, Some(r)) => Matcher::regex(r).map_err(anyhow::Error::msg)?,
            (None, None) => anyhow::bail!(
                "--certificate-oidc-issuer or --certificate-oidc-issuer-regexp is required for verification in keyless mode"
            ),
        };
        for (flag, m) in [
            ("--certificate-identity-regexp", &identity),
            ("--certificate-oidc-issuer-regexp", &issuer),
        ] {
            if m.is_unanchored() {
                eprintln!(
                    "WARNING: {flag} is unanchored and matches anywhere in the value (as in cosign); \
                     anchor it with ^…$ to match the whole value."
                );
            }
        }
        Ok(IdentityPolicy {
            identity,
            issuer,
            github: GithubExpectations {
                trigger: self.certificate_github_workflow_trigger.clone(),
                sha: self.certificate_github_workflow_sha.clone(),
                name: self.certificate_github_workflow_name.clone(),
                repository: self.certificate_github_workflow_repository.clone(),
                git_ref: self.certificate_github_workflow_ref.clone(),
            },
        })
    }
}

pub async fn run(a: VerifyArgs) -> anyhow::Result<ExitCode> {
    let image: ImageRef = a.image.parse().context("parsing the image reference")?;
    let trust = a.identity.trust(a.key.as_deref(), a.insecure_ignore_sct)?;
    // A key-signed image verified without the log needs no trust root.
    let trusted_root = if a.insecure_ignore_tlog && a.key.is_some() {
        None
    } else {
        Some(a.trust.load()?)
    };
    let client = a.registry.client()?;
    let digest = super::resolve_digest(&client, &image).await?;
    if a.insecure_ignore_tlog {
        eprintln!("WARNING: skipping the transparency log check: nothing shows that this signature was ever made public.");
    }
    let policy = ImagePolicy {
        trust,
        tlog: if a.insecure_ignore_tlog {
            TlogPolicy::Ignore
        } else {
            TlogPolicy::Required
        },
        trusted_root,
        annotations: a.annotations.into_iter().collect::<BTreeMap<_, _>>(),
    };
    let source = RegistrySource {
        client: &client,
        repository: super::signature_repository()?,
    };
    let verdict = sigil_verify::verify_image(&source, &image, &digest, &policy)
        .await
        .with_context(|| format!("fetching signatures of `{image}`"))?;
    let verdict = super::verify_attestation::with_bundle_signatures(
        &client, &image, &digest, &policy, verdict,
    )
    .await?;
    match verdict.outcome {
        Outcome::Verified => {}
        Outcome::NoSignatures => {
            return Err(Exit {
                code: 10,
                message: verdict.error_message().unwrap_or_default(),
            }
            .into());
        }
        Outcome::NoMatchingSignatures => {
            return Err(Exit {
                code: 12,
                message: verdict.error_message().unwrap_or_default(),
            }
            .into());
        }
    }
    eprintln!("\nVerification for {} --", a.image);
    eprintln!("The following checks were performed on each of these signatures:");
    for check in &verdict.checks {
        eprintln!("  - {}", check.cosign_text());
    }
    match a.output {
        OutputFormat::Json => {
            let payloads: Vec<&serde_json::Value> =
                verdict.verified.iter().map(|v| &v.payload_json).collect();
            println!("\n{}", serde_json::to_string(&payloads)?);
        }
        OutputFormat::Text => {
            for v in &verdict.verified {
                let p = &v.payload_json;
                println!("\nSignature {}:", v.index + 1);
                println!(
                    "  docker-reference: {}",
                    p["critical"]["identity"]["docker-reference"]
                        .as_str()
                        .unwrap_or("")
                );
                println!(
                    "  digest:           {}",
                    p["critical"]["image"]["docker-manifest-digest"]
                        .as_str()
                        .unwrap_or("")
                );
                if let Some(o) = p["optional"].as_object() {
                    for (k, val) in o {
                        println!("  {k}: {val}");
                    }
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
