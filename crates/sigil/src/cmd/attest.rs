//! `sigil attest`: cosign's `attest` — an in-toto statement about the image digest with the
//! predicate file, signed as a DSSE envelope (key or keyless), logged as a `dsse` entry, and
//! stored in the `sha256-<hex>.att` image (cosign v2) or, with `--new-bundle-format`, as a
//! Sigstore bundle referrer (cosign v3). Also the `--new-bundle-format` half of `sigil sign`.
//!
//! Exit codes: 0 attested; 1 anything failed (the message says which step); 11 the image
//! tag does not exist.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use sigil_core::intoto::{StatementPayload, MAX_PREDICATE_SIZE};
use sigil_core::ImageRef;
use sigil_oci::{Client, Descriptor};
use sigil_sign::{AttestOptions, Attested, Signer, StorageFormat, Stored, TlogUpload};

use super::registry_opts::RegistryOpts;
use super::trust::{ServiceOpts, TrustOpts};

#[derive(Debug, clap::Args)]
pub struct AttestArgs {
    /// The predicate file (an SPDX JSON SBOM, SLSA provenance, …). `-` reads stdin.
    #[arg(long)]
    pub predicate: PathBuf,
    /// The predicate type: spdxjson, spdx, cyclonedx, slsaprovenance (v0.2),
    /// slsaprovenance02, slsaprovenance1, link, vuln, openvex, custom, or a URI.
    #[arg(long = "type", default_value = "custom")]
    pub kind: String,
    #[command(flatten)]
    pub signing: SigningOpts,
    /// Store the attestation as a Sigstore bundle v0.3 referrer (cosign v3) instead of a
    /// layer of the `sha256-<hex>.att` image (cosign v2).
    #[arg(long)]
    pub new_bundle_format: bool,
    /// Also write the Sigstore bundle of the attestation to this file.
    #[arg(long)]
    pub bundle: Option<PathBuf>,
    #[command(flatten)]
    pub registry: RegistryOpts,
    /// The image to attest, best by digest (`repo@sha256:…`).
    pub image: String,
}

/// Key or keyless signing flags, as `sign` takes them.
#[derive(Debug, clap::Args)]
pub struct SigningOpts {
    /// The private key file (cosign.key). Without it, signing is keyless.
    #[arg(long)]
    pub key: Option<PathBuf>,
    #[command(flatten)]
    pub services: ServiceOpts,
    #[command(flatten)]
    pub trust: TrustOpts,
    /// Record the attestation in the transparency log.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    pub tlog_upload: bool,
    /// Skip confirmation prompts.
    #[arg(short = 'y', long)]
    pub yes: bool,
}

impl SigningOpts {
    /// The signer and the log to upload to.
    pub async fn signer(&self) -> anyhow::Result<(Signer, TlogUpload)> {
        let (signer, rekor_url) = self
            .services
            .signer(self.key.as_deref(), &self.trust)
            .await?;
        if !self.tlog_upload && self.key.is_none() {
            eprintln!(
                "WARNING: a keyless attestation without a transparency log entry cannot be verified later: \
                 nothing proves it was made while the 10-minute certificate was valid."
            );
        }
        let tlog = if self.tlog_upload {
            TlogUpload::Enabled { rekor_url }
        } else {
            TlogUpload::Disabled
        };
        Ok((signer, tlog))
    }
}

/// Reads the predicate, refusing more than [`MAX_PREDICATE_SIZE`] bytes before reading it all.
fn read_predicate(path: &Path) -> anyhow::Result<Vec<u8>> {
    let limit = MAX_PREDICATE_SIZE as u64;
    let mut buf = Vec::new();
    let read = if path == Path::new("-") {
        std::io::stdin().take(limit + 1).read_to_end(&mut buf)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(limit + 1).read_to_end(&mut buf))
    };
    read.with_context(|| format!("reading predicate `{}`", path.display()))?;
    if buf.len() as u64 > limit {
        anyhow::bail!(
            "predicate `{}` is larger than the {MAX_PREDICATE_SIZE}-byte limit",
            path.display()
        );
    }
    Ok(buf)
}

/// The image's digest and manifest descriptor (the referrer's `subject`).
pub async fn subject(client: &Client, image: &ImageRef) -> anyhow::Result<Descriptor> {
    let digest = super::resolve_digest(client, image).await?;
    if image.digest().is_none() {
        eprintln!(
            "WARNING: `{image}` names the image by tag; using the digest it points to now, {digest}.\n    \
             A tag can be moved to another image: use `{}@{digest}` to be sure of what you sign.",
            image.name()
        );
    }
    let mut d = client
        .resolve(&image.with_digest(digest.clone()))
        .await
        .with_context(|| format!("resolving `{}@{digest}`", image.name()))?;
    d.digest = digest;
    Ok(d)
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

fn report(done: &Attested, bundle_path: Option<&Path>) -> anyhow::Result<()> {
    if let Some(i) = done.log_index {
        eprintln!("tlog entry created with index: {i}");
    }
    match &done.stored {
        Stored::Legacy {
            reference,
            already_present: true,
        } => eprintln!("Attestation already present in {reference}"),
        Stored::Legacy { reference, .. } => eprintln!("Pushing attestation to: {reference}"),
        Stored::Referrer(r) => eprintln!(
            "Pushed bundle referrer {}{}",
            r.reference,
            if r.registry_indexed {
                ""
            } else {
                " (listed in the referrers fallback tag)"
            }
        ),
    }
    if let Some(path) = bundle_path {
        let bundle = done
            .bundle
            .as_ref()
            .context("no bundle can be written: the log answered no inclusion proof")?;
        std::fs::write(path, bundle.to_json())
            .with_context(|| format!("writing bundle `{}`", path.display()))?;
        eprintln!("Wrote bundle to {}", path.display());
    }
    Ok(())
}

pub async fn run(a: AttestArgs) -> anyhow::Result<ExitCode> {
    let image: ImageRef = a.image.parse().context("parsing the image reference")?;
    // Check the cheap local inputs before any network or signing.
    sigil_core::intoto::predicate_type(&a.kind)?;
    let predicate_path = a.predicate.clone();
    let predicate = tokio::task::spawn_blocking(move || read_predicate(&predicate_path));
    // The signer is made ready (a key file's scrypt KDF, or a fresh key and its certificate
    // from the CA, which cosign also gets before it reads the predicate) while the predicate
    // is read and the image resolved: either is about as long as all the rest.
    let signing = a.signing;
    let signer = tokio::spawn(async move {
        let (signer, tlog) = signing.signer().await?;
        let prepared = signer
            .prepare()
            .await
            .context("getting a signing certificate")?;
        anyhow::Ok((prepared, tlog))
    });
    let client = a.registry.client()?;
    let (predicate, subject) = tokio::join!(predicate, subject(&client, &image));
    let predicate = predicate.context("reading the predicate")??;
    let subject = subject?;
    // Bundle consumers (sigstore-go, sigstore-python) take in-toto Statement v1, whose
    // subject shape (`name`, `digest`) is v0.1's; the `.att` layout keeps cosign v2's v0.1.
    let statement_type = if a.new_bundle_format {
        sigil_core::intoto::STATEMENT_V1
    } else {
        sigil_core::intoto::STATEMENT_V01
    };
    let (kind, digest, timestamp) = (a.kind.clone(), subject.digest.clone(), now_rfc3339());
    let image_name = image.clone();
    // Validating and compacting a multi-MiB predicate is CPU work: off the async workers.
    let statement = tokio::task::spawn_blocking(move || {
        StatementPayload::for_image(
            &image_name,
            &digest,
            &kind,
            &predicate,
            &timestamp,
            statement_type,
        )
    })
    .await
    .context("building the statement")?
    .with_context(|| format!("building the statement from `{}`", a.predicate.display()))?;
    let (signer, tlog) = signer.await.context("preparing the signer")??;
    let options = AttestOptions {
        tlog,
        format: if a.new_bundle_format {
            StorageFormat::Bundle
        } else {
            StorageFormat::Legacy
        },
        signature_repository: super::signature_repository()?,
        want_bundle: a.bundle.is_some(),
    };
    let done =
        sigil_sign::attest_image(&client, &image, &subject, statement, &signer, &options).await?;
    report(&done, a.bundle.as_deref())?;
    Ok(ExitCode::SUCCESS)
}

/// `sigil sign --new-bundle-format`: the cosign v3 signature of `image`.
pub async fn sign_bundle(
    client: &Client,
    image: &ImageRef,
    signer: &Signer,
    options: &sigil_sign::SignOptions,
) -> anyhow::Result<ExitCode> {
    let subject = subject(client, image).await?;
    let done = sigil_sign::sign_image_bundle(client, image, &subject, signer, options).await?;
    report(&done, None)?;
    Ok(ExitCode::SUCCESS)
}
