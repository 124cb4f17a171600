//! hashedrekord entries signed with the key types Rekor accepts for a bare digest: ECDSA
//! (P-256, P-384) and RSA PKCS#1 v1.5; Ed25519 keys are refused with a clear 400.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256, Sha384, Sha512};
use sigil_core::keys::PrivateKey;
use sigil_tlog::{LogConfig, TlogServer};

fn entry(alg: &str, digest: &[u8], sig: &[u8], pem: &[u8]) -> Value {
    json!({
        "apiVersion": "0.0.1", "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": alg, "value": hex::encode(digest)}},
            "signature": {"content": B64.encode(sig), "publicKey": {"content": B64.encode(pem)}},
        },
    })
}

/// Signs `artifact` the way cosign / sigstore-python sign a blob with an OpenSSL key.
fn openssl_sign(key: &PKey<Private>, md: MessageDigest, artifact: &[u8]) -> Vec<u8> {
    let mut s = openssl::sign::Signer::new(md, key).unwrap();
    s.update(artifact).unwrap();
    s.sign_to_vec().unwrap()
}

async fn post(http: &reqwest::Client, url: &str, body: &Value) -> (u16, Value) {
    let r = http
        .post(format!("{url}/api/v1/log/entries"))
        .json(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn rsa_and_ecdsa_keys_are_accepted_ed25519_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = TlogServer::start(
        "127.0.0.1:0".parse().unwrap(),
        dir.path(),
        LogConfig::default(),
    )
    .await
    .unwrap();
    let url = server.url();
    let http = reqwest::Client::new();

    // RSA 2048, PKCS#1 v1.5 over SHA-256 and SHA-512.
    let rsa = PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
    let rsa_pem = rsa.public_key_to_pem().unwrap();
    let art = b"rsa artifact";
    let sig = openssl_sign(&rsa, MessageDigest::sha256(), art);
    let (status, body) = post(
        &http,
        &url,
        &entry("sha256", &Sha256::digest(art), &sig, &rsa_pem),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let sig512 = openssl_sign(&rsa, MessageDigest::sha512(), art);
    let (status, body) = post(
        &http,
        &url,
        &entry("sha512", &Sha512::digest(art), &sig512, &rsa_pem),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    // The SHA-256 signature does not verify for another artifact, nor under the SHA-512 hash.
    let (status, body) = post(
        &http,
        &url,
        &entry("sha256", &Sha256::digest(b"other"), &sig, &rsa_pem),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("signature"),
        "{body}"
    );
    let (status, _) = post(
        &http,
        &url,
        &entry("sha512", &Sha512::digest(art), &sig, &rsa_pem),
    )
    .await;
    assert_eq!(status, 400);

    // ECDSA P-384 over SHA-384, as an OpenSSL P-384 key signs.
    let ec = openssl::ec::EcKey::generate(
        &openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::SECP384R1).unwrap(),
    )
    .unwrap();
    let p384 = PKey::from_ec_key(ec).unwrap();
    let sig = openssl_sign(&p384, MessageDigest::sha384(), art);
    let pem = p384.public_key_to_pem().unwrap();
    let (status, body) = post(
        &http,
        &url,
        &entry("sha384", &Sha384::digest(art), &sig, &pem),
    )
    .await;
    assert_eq!(status, 201, "{body}");

    // P-256 through sigil's own key type.
    let p256 = PrivateKey::generate_p256().unwrap();
    let sig = p256.sign(art).unwrap();
    let pem = p256.public_key().to_pem();
    let (status, body) = post(
        &http,
        &url,
        &entry("sha256", &Sha256::digest(art), &sig, pem.as_bytes()),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    // A signature cut short is a 400, not a 500.
    let (status, _) = post(
        &http,
        &url,
        &entry(
            "sha256",
            &Sha256::digest(art),
            &sig[..sig.len() - 3],
            pem.as_bytes(),
        ),
    )
    .await;
    assert_eq!(status, 400);

    // Ed25519: refused, naming the key type.
    let pk8 =
        ring::signature::Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new()).unwrap();
    let ed = PrivateKey::from_pkcs8_der(pk8.as_ref()).unwrap();
    let sig = ed.sign(art).unwrap();
    let pem = ed.public_key().to_pem();
    let (status, body) = post(
        &http,
        &url,
        &entry("sha512", &Sha512::digest(art), &sig, pem.as_bytes()),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("ED25519"),
        "{body}"
    );

    let info: Value = http
        .get(format!("{url}/api/v1/log"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        info["treeSize"], 4,
        "only the four good entries are in the log"
    );
    server.shutdown().await.unwrap();
}
