//! `sigil`: the command-line shim. Commands parse flags and call the libraries; no logic of
//! its own beyond wiring and printing.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;

/// mimalloc keeps freed pages for reuse: glibc returns multi-MiB buffers (an attestation's
/// envelope, a layer being hashed) to the kernel and pays page faults and zeroing for the
/// next; the log's and the registry's request paths allocate less time too.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "sigil",
    version,
    about = "Sign, verify, attest and serve container images: cosign, Fulcio, Rekor, Kyverno and Syft in one binary"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate a cosign key pair (cosign.key, cosign.pub).
    GenerateKeyPair(cmd::keys::GenerateKeyPairArgs),
    /// Print the public key of a private key file.
    PublicKey(cmd::keys::PublicKeyArgs),
    /// Sign an image (stored as cosign does, in the `sha256-<hex>.sig` tag).
    Sign(cmd::sign::SignArgs),
    /// Verify an image's signatures.
    Verify(cmd::verify::VerifyArgs),
    /// Sign a file into a Sigstore bundle.
    SignBlob(cmd::sign_blob::SignBlobArgs),
    /// Verify a Sigstore bundle for a file or a digest.
    VerifyBlob(cmd::verify_blob::VerifyBlobArgs),
    /// Attest an image: a signed in-toto statement with a predicate (SBOM, provenance, …).
    Attest(cmd::attest::AttestArgs),
    /// Verify an image's attestations (`.att` layers and bundle referrers).
    VerifyAttestation(cmd::verify_attestation::VerifyAttestationArgs),
    /// List what is attached to an image: signatures, attestations, SBOMs, referrers.
    Tree(cmd::tree::TreeArgs),
    /// Print an image's signatures or attestations as stored.
    #[command(subcommand)]
    Download(cmd::download::DownloadCommand),
    /// Save an image and its signatures and attestations to an OCI layout (cosign's `save`).
    Save(cmd::save::SaveArgs),
    /// Push an image saved with `save` from an OCI layout to a registry (cosign's `load`).
    Load(cmd::load::LoadArgs),
    /// The embedded OCI registry.
    #[command(subcommand)]
    Registry(cmd::registry::RegistryCommand),
    /// The transparency log (Rekor's v1 API).
    #[command(subcommand)]
    Tlog(cmd::tlog::TlogCommand),
    /// The certificate authority (Fulcio's API).
    #[command(subcommand)]
    Ca(cmd::ca::CaCommand),
    /// The OIDC issuer (GitHub Actions' token protocol and claims).
    #[command(subcommand)]
    Oidc(cmd::ca::OidcCommand),
    /// Run the registry, log, CA and OIDC issuers in one process on loopback.
    Up(cmd::up::UpArgs),
    /// Generate an SBOM for an image or a directory (like Syft).
    Sbom(cmd::sbom::SbomArgs),
    /// The admission webhook enforcing Kyverno verifyImages policies.
    #[command(subcommand)]
    Admission(cmd::admission::AdmissionCommand),
    /// Run the signed-containers lab, every exercise, offline on the embedded stack.
    Lab(cmd::lab::LabArgs),
    /// Pack, push, sign, SBOM, attest and verify an image in one step (for CI).
    Pipeline(cmd::pipeline::PipelineArgs),
    /// Build an OCI image from files (reproducibly, no container engine) and push it.
    Pack(cmd::pack::PackArgs),
    /// Refresh the public-good trusted root through TUF (cosign's `initialize`).
    Initialize(cmd::initialize::InitializeArgs),
    /// Evaluate Kyverno policies against resource files (like `kyverno apply`).
    #[command(subcommand)]
    Policy(cmd::policy::PolicyCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    cmd::init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::GenerateKeyPair(a) => cmd::keys::generate_key_pair(a).await,
            Command::PublicKey(a) => cmd::keys::public_key(a).await,
            Command::Sign(a) => cmd::sign::run(a).await,
            Command::Verify(a) => cmd::verify::run(a).await,
            Command::VerifyBlob(a) => cmd::verify_blob::run(a).await,
            Command::SignBlob(a) => cmd::sign_blob::run(a).await,
            Command::Attest(a) => cmd::attest::run(a).await,
            Command::VerifyAttestation(a) => cmd::verify_attestation::run(a).await,
            Command::Tree(a) => cmd::tree::run(a).await,
            Command::Download(c) => cmd::download::run(c).await,
            Command::Save(a) => cmd::save::run(a).await,
            Command::Load(a) => cmd::load::run(a).await,
            Command::Registry(c) => cmd::registry::run(c).await,
            Command::Tlog(c) => cmd::tlog::run(c).await,
            Command::Ca(c) => cmd::ca::run_ca(c).await,
            Command::Oidc(c) => cmd::ca::run_oidc(c).await,
            Command::Sbom(a) => cmd::sbom::run(a).await,
            Command::Up(a) => cmd::up::run(a).await,
            Command::Admission(c) => cmd::admission::run(c).await,
            Command::Policy(c) => cmd::policy::run(c).await,
            Command::Pack(a) => cmd::pack::run(a).await,
            Command::Initialize(a) => cmd::initialize::run(a).await,
            Command::Lab(a) => cmd::lab::run(a).await,
            Command::Pipeline(a) => cmd::pipeline::run(a).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(err) => cmd::report(&err),
    }
}
