//! `sigil verify`: cosign's `verify --key`, through the one pipeline in `sigil-verify`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use sigil_core::keys::PublicKey;
use sigil_core::{Digest, ImageRef};
use sigil_oci::cosign::{fetch_layers, Attachment};
use sigil_oci::Client;
use sigil_verify::{ImagePolicy, Outcome, SignatureCandidate, SignatureSource, TlogPolicy, Trust};

use super::registry_opts::RegistryOpts;
use super::Exit;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Json,
    Text,
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The public key (cosign.pub) signatures must verify against.
    #[arg(long)]
    pub key: PathBuf,
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

pub async fn run(a: VerifyArgs) -> anyhow::Result<ExitCode> {
    let image: ImageRef = a.image.parse().context("parsing the image reference")?;
    let pem = std::fs::read(&a.key)
        .with_context(|| format!("reading public key `{}`", a.key.display()))?;
    let key = PublicKey::from_pem(&pem)
        .with_context(|| format!("loading public key `{}`", a.key.display()))?;
    let client = a.registry.client()?;
    let digest = super::resolve_digest(&client, &image).await?;
    if a.insecure_ignore_tlog {
        eprintln!("WARNING: skipping the transparency log check: nothing shows that this signature was ever made public.");
    }
    let policy = ImagePolicy {
        trust: Trust::Key(key),
        tlog: if a.insecure_ignore_tlog {
            TlogPolicy::Ignore
        } else {
            TlogPolicy::Required
        },
        annotations: a.annotations.into_iter().collect::<BTreeMap<_, _>>(),
    };
    let source = RegistrySource {
        client: &client,
        repository: super::signature_repository()?,
    };
    let verdict = sigil_verify::verify_image(&source, &image, &digest, &policy)
        .await
        .with_context(|| format!("fetching signatures of `{image}`"))?;
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
