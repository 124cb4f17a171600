//! sigil and sigstore-rs (the `sigstore` crate, 0.15) read each other's key files and verify
//! each other's image signatures, on Debian's docker-registry.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use sigil_core::keys::{PrivateKey, PublicKey};
use sigil_core::{Digest, ImageRef};
use sigil_oci::cosign::{fetch_layers, Attachment};
use sigil_sign::{sign_image, SignOptions, Signer, TlogUpload};
use sigil_testkit::image::{client, push_image};
use sigil_testkit::start_distribution;
use sigil_verify::{verify_candidates, ImagePolicy, SignatureCandidate, TlogPolicy, Trust};
use sigstore::cosign::constraint::PrivateKeySigner;
use sigstore::cosign::verification_constraint::{PublicKeyVerifier, VerificationConstraintVec};
use sigstore::cosign::{ClientBuilder, Constraint, CosignCapabilities, SignatureLayer};
use sigstore::crypto::SigningScheme;
use sigstore::registry::{Auth, ClientConfig, ClientProtocol, OciReference};
use sigstore::trust::ManualTrustRoot;
use zeroize::Zeroizing;

const PASSWORD: &[u8] = b"interop-pass";

fn rs_client() -> sigstore::cosign::Client {
    let config = ClientConfig {
        protocol: ClientProtocol::Http,
        ..ClientConfig::default()
    };
    ClientBuilder::default()
        .with_oci_client_config(config)
        .with_trust_repository(&ManualTrustRoot::default())
        .unwrap()
        .build()
        .unwrap()
}

/// Signs with sigstore-rs the way its `cosign sign` example does.
async fn rs_sign(image: &str, key_pem: &[u8]) {
    let mut c = rs_client();
    let image: OciReference = image.parse().unwrap();
    let (sig_image, digest) = c.triangulate(&image, &Auth::Anonymous).await.unwrap();
    let mut layer = SignatureLayer::new_unsigned(&image, &digest).unwrap();
    let signer = PrivateKeySigner::new_with_raw(
        Zeroizing::new(key_pem.to_vec()),
        Zeroizing::new(PASSWORD.to_vec()),
        &SigningScheme::ECDSA_P256_SHA256_ASN1,
    )
    .unwrap();
    signer.add_constraint(&mut layer).unwrap();
    c.push_signature(None, &Auth::Anonymous, &sig_image, vec![layer])
        .await
        .unwrap();
}

/// Verifies with sigstore-rs: true when every constraint holds for some layer.
async fn rs_verify(image: &str, pub_pem: &[u8]) -> bool {
    let mut c = rs_client();
    let image: OciReference = image.parse().unwrap();
    let layers = match c.trusted_signature_layers(&Auth::Anonymous, &image).await {
        Ok(l) => l,
        Err(_) => return false,
    };
    let constraints: VerificationConstraintVec =
        vec![Box::new(PublicKeyVerifier::try_from(pub_pem).unwrap())];
    sigstore::cosign::verify_constraints(&layers, constraints.iter()).is_ok()
}

async fn sigil_verify(image: &ImageRef, digest: &Digest, key: &PublicKey) -> bool {
    let c = client();
    let layers = fetch_layers(&c, image, digest, Attachment::Signature)
        .await
        .unwrap()
        .unwrap_or_default();
    let candidates = layers
        .into_iter()
        .map(|l| SignatureCandidate {
            signature_b64: l.signature_b64().map(str::to_owned),
            payload: l.payload.to_vec(),
            ..Default::default()
        })
        .collect();
    let policy = ImagePolicy {
        trust: Trust::Key(key.clone()),
        tlog: TlogPolicy::Ignore,
        trusted_root: None,
        annotations: BTreeMap::new(),
    };
    verify_candidates(image, digest, candidates, &policy).is_verified()
}

/// Signs with sigil from an encrypted key file's text.
async fn sigil_sign(image: &ImageRef, digest: &Digest, key_pem: &str) {
    let options = SignOptions {
        annotations: BTreeMap::new(),
        tlog: TlogUpload::Disabled,
        signature_repository: None,
    };
    let key = PrivateKey::from_encrypted_pem(key_pem.as_bytes(), PASSWORD).unwrap();
    sign_image(
        &client(),
        image,
        digest,
        &Signer::Key(Box::new(key)),
        &options,
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_and_signatures_cross_between_sigil_and_sigstore_rs() {
    let reg = tokio::task::spawn_blocking(start_distribution)
        .await
        .unwrap();
    let c = client();

    // Keys made by sigil load in sigstore-rs; keys made by sigstore-rs load in sigil.
    let sigil_key = PrivateKey::generate_p256().unwrap();
    let sigil_key_pem = sigil_key.to_encrypted_pem(PASSWORD).unwrap();
    let sigil_pub_pem = sigil_key.public_key().to_pem();
    let rs_pair = SigningScheme::ECDSA_P256_SHA256_ASN1
        .create_signer()
        .unwrap()
        .to_sigstore_keypair()
        .unwrap();
    let rs_key_pem = rs_pair.private_key_to_encrypted_pem(PASSWORD).unwrap();
    let rs_pub_pem = rs_pair.public_key_to_pem().unwrap();
    let rs_key_in_sigil = PrivateKey::from_encrypted_pem(rs_key_pem.as_bytes(), PASSWORD).unwrap();
    assert_eq!(
        rs_key_in_sigil.public_key(),
        &PublicKey::from_pem(rs_pub_pem.as_bytes()).unwrap()
    );

    // 1. sigil signs (its own key) -> sigstore-rs verifies.
    let a = format!("{}/interop/a:v1", reg.addr);
    let a_digest = push_image(&c, &a, b"a").await;
    let a_ref: ImageRef = a.parse().unwrap();
    sigil_sign(&a_ref, &a_digest, &sigil_key_pem).await;
    assert!(
        rs_verify(&a, sigil_pub_pem.as_bytes()).await,
        "sigstore-rs rejects sigil's signature"
    );
    assert!(
        !rs_verify(&a, rs_pub_pem.as_bytes()).await,
        "sigstore-rs accepts a wrong key"
    );

    // 2. sigstore-rs signs with sigil's key file -> sigil verifies.
    let b = format!("{}/interop/b:v1", reg.addr);
    let b_digest = push_image(&c, &b, b"b").await;
    let b_ref: ImageRef = b.parse().unwrap();
    rs_sign(&b, sigil_key_pem.as_bytes()).await;
    assert!(
        sigil_verify(&b_ref, &b_digest, sigil_key.public_key()).await,
        "sigil rejects sigstore-rs's signature"
    );
    assert!(!sigil_verify(&b_ref, &b_digest, rs_key_in_sigil.public_key()).await);

    // 3. sigil signs with sigstore-rs's key file -> sigstore-rs verifies with its public key.
    let c3 = format!("{}/interop/c:v1", reg.addr);
    let c_digest = push_image(&c, &c3, b"c").await;
    sigil_sign(&c3.parse().unwrap(), &c_digest, rs_key_pem.as_str()).await;
    assert!(rs_verify(&c3, rs_pub_pem.as_bytes()).await);

    // 4. sigstore-rs signs with its own key -> sigil verifies with sigstore-rs's public key.
    let d = format!("{}/interop/d:v1", reg.addr);
    let d_digest = push_image(&c, &d, b"d").await;
    rs_sign(&d, rs_key_pem.as_bytes()).await;
    assert!(
        sigil_verify(
            &d.parse().unwrap(),
            &d_digest,
            &PublicKey::from_pem(rs_pub_pem.as_bytes()).unwrap()
        )
        .await
    );
}
