//! `sigil verify-attestation`: cosign's `verify-attestation`, through the one pipeline in
//! `sigil-verify`. Attestations come from both generations: layers of the
//! `sha256-<hex>.att` image and Sigstore bundle referrers (referrers API or the
//! `sha256-<hex>` fallback index). Also the bundle half of `sigil verify`
//! ([`verify_bundle_referrers`]).
//!
//! Exit codes (as `verify`): 0 verified; 10 no attestations at all; 11 image tag not found;
//! 12 attestations exist but none passed (each one's reason is printed); 1 other errors.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use sigil_core::intoto::COSIGN_SIGN_PREDICATE;
use sigil_core::{Digest, ImageRef};
use sigil_oci::cosign::{fetch_layers, Attachment};
use sigil_oci::referrers::{fetch_bundle_referrers, ANNOTATION_PREDICATE_TYPE};
use sigil_oci::Client;
use sigil_verify::{
    AttestationCandidate, ImagePolicy, Outcome, PredicateFilter, TlogPolicy, Verdict,
};

use super::registry_opts::RegistryOpts;
use super::trust::TrustOpts;
use super::verify::{IdentityOpts, OutputFormat};
use super::Exit;

#[derive(Debug, clap::Args)]
pub struct VerifyAttestationArgs {
    /// The public key (cosign.pub) attestations must verify against. Without it,
    /// verification is keyless: by certificate identity and issuer.
    #[arg(long)]
    pub key: Option<PathBuf>,
    #[command(flatten)]
    pub identity: IdentityOpts,
    /// The predicate type required: spdxjson, spdx, cyclonedx, slsaprovenance,
    /// slsaprovenance1, link, vuln, openvex, custom, or a URI. Default: any.
    #[arg(long = "type")]
    pub kind: Option<String>,
    /// Accept certificates without an embedded SCT from a trusted CT log (insecure).
    #[arg(long)]
    pub insecure_ignore_sct: bool,
    /// Accept attestations without a transparency-log entry (insecure).
    #[arg(long)]
    pub insecure_ignore_tlog: bool,
    /// Accepted for cosign compatibility: sigil checks the proofs carried with each
    /// attestation and never queries the log.
    #[arg(long)]
    pub offline: bool,
    #[command(flatten)]
    pub trust: TrustOpts,
    /// Output of the verified attestations on stdout: `json` prints each DSSE envelope on a
    /// line, as cosign does; `text` prints each statement's predicate type and subjects.
    #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Json)]
    pub output: OutputFormat,
    #[command(flatten)]
    pub registry: RegistryOpts,
    /// The image whose attestations to verify.
    pub image: String,
}

/// The `.att` layers and the attestation bundle referrers of `digest`. Bundles whose
/// annotation says they are v3 signatures are left out unless `include_signatures`.
pub async fn fetch_attestations(
    client: &Client,
    repo: &ImageRef,
    digest: &Digest,
    include_signatures: bool,
) -> anyhow::Result<Vec<AttestationCandidate>> {
    let mut out = Vec::new();
    let layers = fetch_layers(client, repo, digest, Attachment::Attestation)
        .await
        .with_context(|| format!("fetching the attestations of `{repo}`"))?;
    for l in layers.unwrap_or_default() {
        out.push(AttestationCandidate::Legacy {
            certificate_pem: l.certificate().map(str::to_owned),
            chain_pem: l.chain().map(str::to_owned),
            rekor_bundle: l.bundle().map(str::to_owned),
            envelope: l.payload.to_vec(),
        });
    }
    for r in fetch_bundle_referrers(client, repo, digest)
        .await
        .with_context(|| format!("fetching the referrers of `{}@{digest}`", repo.name()))?
    {
        let is_signature = r
            .descriptor
            .annotations
            .get(ANNOTATION_PREDICATE_TYPE)
            .is_some_and(|t| t == COSIGN_SIGN_PREDICATE);
        if is_signature && !include_signatures {
            continue;
        }
        out.push(AttestationCandidate::Bundle {
            bundle: r.bundle.to_vec(),
        });
    }
    Ok(out)
}

/// The cosign v3 signatures (bundle referrers) of `digest`, verified against `policy`.
pub async fn verify_bundle_referrers(
    client: &Client,
    repo: &ImageRef,
    image: &ImageRef,
    digest: &Digest,
    policy: &ImagePolicy,
) -> anyhow::Result<Verdict> {
    let bundles = fetch_bundle_referrers(client, repo, digest)
        .await
        .with_context(|| format!("fetching the referrers of `{}@{digest}`", repo.name()))?
        .into_iter()
        .filter(|r| {
            r.descriptor
                .annotations
                .get(ANNOTATION_PREDICATE_TYPE)
                .is_none_or(|t| t == COSIGN_SIGN_PREDICATE)
        })
        .map(|r| r.bundle.to_vec())
        .collect();
    Ok(sigil_verify::verify_bundle_signatures(
        image, digest, bundles, policy,
    ))
}

/// `sigil verify`'s verdict extended with v3 bundle signatures: cosign v3 reads bundles
/// first and falls back to `.sig`; sigil checks both and accepts either.
pub async fn with_bundle_signatures(
    client: &Client,
    image: &ImageRef,
    digest: &Digest,
    policy: &ImagePolicy,
    legacy: Verdict,
) -> anyhow::Result<Verdict> {
    if legacy.is_verified() {
        return Ok(legacy);
    }
    let repo = super::signature_repository()?.unwrap_or_else(|| image.clone());
    let bundles = verify_bundle_referrers(client, &repo, image, digest, policy).await?;
    Ok(merge(legacy, bundles))
}

/// One verdict from two: verified if either is; rejections of both, renumbered.
fn merge(mut a: Verdict, b: Verdict) -> Verdict {
    let offset = a.verified.len() + a.rejected.len();
    a.verified.extend(b.verified.into_iter().map(|mut v| {
        v.index += offset;
        v
    }));
    a.rejected
        .extend(b.rejected.into_iter().map(|(i, f)| (i + offset, f)));
    a.outcome = if !a.verified.is_empty() {
        Outcome::Verified
    } else if a.rejected.is_empty() {
        Outcome::NoSignatures
    } else {
        Outcome::NoMatchingSignatures
    };
    a
}

pub async fn run(a: VerifyAttestationArgs) -> anyhow::Result<ExitCode> {
    let image: ImageRef = a.image.parse().context("parsing the image reference")?;
    let predicate_type = a
        .kind
        .as_deref()
        .map(sigil_core::intoto::predicate_type)
        .transpose()?;
    let trust = a.identity.trust(a.key.as_deref(), a.insecure_ignore_sct)?;
    let trusted_root = Some(a.trust.load()?);
    let client = a.registry.client()?;
    let digest = super::resolve_digest(&client, &image).await?;
    if a.insecure_ignore_tlog {
        eprintln!("WARNING: skipping the transparency log check: nothing shows that this attestation was ever made public.");
    }
    let policy = ImagePolicy {
        trust,
        tlog: if a.insecure_ignore_tlog {
            TlogPolicy::Ignore
        } else {
            TlogPolicy::Required
        },
        trusted_root,
        annotations: Default::default(),
    };
    let repo = super::signature_repository()?.unwrap_or_else(|| image.clone());
    let wants_signatures = predicate_type.as_deref() == Some(COSIGN_SIGN_PREDICATE);
    let candidates = fetch_attestations(&client, &repo, &digest, wants_signatures).await?;
    let filter = match &predicate_type {
        Some(t) => PredicateFilter::Exactly(t),
        None => PredicateFilter::Any,
    };
    let verdict = sigil_verify::verify_attestations(&image, &digest, candidates, &policy, filter);
    match verdict.outcome {
        Outcome::Verified => {}
        Outcome::NoSignatures => {
            return Err(Exit {
                code: 10,
                message: format!("no attestations found for `{image}`"),
            }
            .into())
        }
        Outcome::NoMatchingSignatures => {
            let reasons: Vec<String> = verdict
                .rejected
                .iter()
                .map(|(_, f)| f.to_string())
                .collect();
            return Err(Exit {
                code: 12,
                message: format!("no matching attestations: {}", reasons.join("\n ")),
            }
            .into());
        }
    }
    eprintln!("\nVerification for {} --", a.image);
    eprintln!("The following checks were performed on each of these signatures:");
    for check in &verdict.checks {
        eprintln!("  - {}", check.cosign_text());
    }
    for v in &verdict.verified {
        match a.output {
            // The envelope as stored, as cosign prints it (a multi-MiB envelope is not
            // escaped into a new string).
            OutputFormat::Json => {
                let mut out = std::io::stdout().lock();
                out.write_all(&v.payload)?;
                out.write_all(b"\n")?;
            }
            OutputFormat::Text => {
                let statement = v.payload_json["payload"]
                    .as_str()
                    .and_then(|p| {
                        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, p).ok()
                    })
                    .and_then(|p| sigil_core::intoto::Statement::from_slice(&p).ok());
                if let Some(s) = statement {
                    println!("Attestation {}: {}", v.index + 1, s.predicate_type);
                    for subject in &s.subject {
                        for (alg, hex) in &subject.digest {
                            println!("  subject: {} {alg}:{hex}", subject.name);
                        }
                    }
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
