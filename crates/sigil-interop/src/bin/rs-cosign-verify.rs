//! `rs-cosign-verify --key cosign.pub IMAGE`: verifies an image's key signature with
//! sigstore-rs 0.15, the way its `cosign verify` example does, over plain HTTP (loopback test
//! registries). Exit 0 when verified, 1 otherwise. Used by `bench/verify-key.sh` as the peer.

use std::process::ExitCode;

use sigstore::cosign::verification_constraint::{PublicKeyVerifier, VerificationConstraintVec};
use sigstore::cosign::{ClientBuilder, CosignCapabilities};
use sigstore::registry::{Auth, ClientConfig, ClientProtocol, OciReference};
use sigstore::trust::ManualTrustRoot;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (key, image) = match args.as_slice() {
        [_, flag, key, image] if flag == "--key" => (key.clone(), image.clone()),
        _ => {
            eprintln!("usage: rs-cosign-verify --key cosign.pub IMAGE");
            return ExitCode::from(2);
        }
    };
    match verify(&key, &image).await {
        Ok(()) => {
            println!("Image successfully verified");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("Image verification failed: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn verify(key: &str, image: &str) -> Result<(), String> {
    let pem = std::fs::read(key).map_err(|e| format!("reading {key}: {e}"))?;
    let config = ClientConfig {
        protocol: ClientProtocol::Http,
        ..ClientConfig::default()
    };
    let trust = ManualTrustRoot::default();
    let mut client = ClientBuilder::default()
        .with_oci_client_config(config)
        .with_trust_repository(&trust)
        .map_err(|e| e.to_string())?
        .build()
        .map_err(|e| e.to_string())?;
    let image: OciReference = image.parse().map_err(|e| format!("{e}"))?;
    let layers = client
        .trusted_signature_layers(&Auth::Anonymous, &image)
        .await
        .map_err(|e| e.to_string())?;
    let verifier = PublicKeyVerifier::try_from(pem.as_slice()).map_err(|e| e.to_string())?;
    let constraints: VerificationConstraintVec = vec![Box::new(verifier)];
    sigstore::cosign::verify_constraints(&layers, constraints.iter()).map_err(|e| format!("{e:?}"))
}
