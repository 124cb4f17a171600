use super::*;

fn key_file(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/testdata/keys/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn pub_b64(k: &PrivateKey) -> String {
    B64.encode(k.public_key().spki_der())
}

#[test]
fn loads_cosign_legacy_label_key() {
    let k = PrivateKey::from_encrypted_pem(&key_file("cosign-test_pemcosignkey.key"), b"hello")
        .unwrap();
    assert_eq!(k.algorithm(), KeyAlgorithm::EcdsaP256);
    assert_eq!(
        pub_b64(&k),
        "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAECYtspttZZ7e9PMd8wyU2CWDlpEXNbqTve0ZBuOXu9xTjtm7Z107cVLCCk96Ma4D0tesnKeCPwrcspLz7GNZJSw=="
    );
}

#[test]
fn loads_sigstore_label_key() {
    let k = PrivateKey::from_encrypted_pem(&key_file("cosign-test_pemsigstorekey.key"), b"hello")
        .unwrap();
    assert_eq!(
        pub_b64(&k),
        "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE7z9gA/tqa9iHt/f9F3ulyVi4lwqULfHWfhG2mK4eyJ8LDcLstb+VVhxj3pkMjc3fNo+sSfiIY2NLR7c+DG1V4w=="
    );
}

#[test]
fn rejects_sec1_plaintext_like_cosign() {
    let err =
        PrivateKey::from_encrypted_pem(&key_file("cosign-test_pemcosigneckey_SEC1.key"), b"hello")
            .unwrap_err();
    assert!(
        err.to_string().contains("failed to parse private key"),
        "{err}"
    );
}

#[test]
fn loads_empty_password_key() {
    let k = PrivateKey::from_encrypted_pem(
        &key_file("sigstore-rs_cosign_generated_encrypted_empty_private.key"),
        b"",
    )
    .unwrap();
    assert_eq!(
        pub_b64(&k),
        "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEGmsWpZNuu+SUX70n3lVK4JLsaoV7T+rhea2rQUu29EQiatoLB06QdsmSd+GsQGlQzfcDtsKPzb+B2zLggrWZjg=="
    );
}

#[test]
fn loads_ecdsa_rsa_and_ed25519_keys_and_signs() {
    for (file, alg) in [
        (
            "sigstore-rs_ecdsa_encrypted_private.key",
            KeyAlgorithm::EcdsaP256,
        ),
        ("sigstore-rs_rsa_encrypted_private.key", KeyAlgorithm::Rsa),
        (
            "sigstore-rs_ed25519_encrypted_private.key",
            KeyAlgorithm::Ed25519,
        ),
    ] {
        let k = PrivateKey::from_encrypted_pem(&key_file(file), b"123")
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(k.algorithm(), alg, "{file}");
        let sig = k.sign(b"payload").unwrap();
        k.public_key().verify(b"payload", &sig).unwrap();
        assert!(k.public_key().verify(b"payloaD", &sig).is_err(), "{file}");
        // The public key survives a PEM round trip.
        let back = PublicKey::from_pem(k.public_key().to_pem().as_bytes()).unwrap();
        assert_eq!(&back, k.public_key());
    }
}

#[test]
fn wrong_password_is_reported_as_such() {
    let err = PrivateKey::from_encrypted_pem(&key_file("cosign-test_pemsigstorekey.key"), b"nope")
        .unwrap_err();
    assert!(matches!(err, Error::WrongPassword), "{err}");
}

#[test]
fn generated_keys_round_trip_through_the_cosign_format() {
    let k = PrivateKey::generate_p256().unwrap();
    let pem = k.to_encrypted_pem(b"pw").unwrap();
    assert!(pem.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
    let block = pem::parse(pem.as_bytes()).unwrap();
    let body: serde_json::Value = serde_json::from_slice(block.contents()).unwrap();
    assert_eq!(body["kdf"]["params"]["N"], 65536);
    assert_eq!(body["cipher"]["name"], "nacl/secretbox");
    let back = PrivateKey::from_encrypted_pem(pem.as_bytes(), b"pw").unwrap();
    assert_eq!(back.public_key(), k.public_key());
}

fn tampered(edit: impl Fn(&mut serde_json::Value)) -> Vec<u8> {
    let block = pem::parse(key_file("cosign-test_pemsigstorekey.key")).unwrap();
    let mut body: serde_json::Value = serde_json::from_slice(block.contents()).unwrap();
    edit(&mut body);
    pem_encode(
        SIGSTORE_PRIVATE_KEY_PEM,
        &serde_json::to_vec(&body).unwrap(),
    )
    .into_bytes()
}

#[test]
fn scrypt_parameters_that_would_exhaust_memory_are_refused() {
    let f = tampered(|b| b["kdf"]["params"]["N"] = serde_json::json!(1u64 << 30));
    let err = PrivateKey::from_encrypted_pem(&f, b"hello")
        .unwrap_err()
        .to_string();
    assert!(err.contains("unexpected kdf parameters"), "{err}");
    let f = tampered(|b| b["kdf"]["params"]["r"] = serde_json::json!(64));
    assert!(PrivateKey::from_encrypted_pem(&f, b"hello").is_err());
}

#[test]
fn foreign_and_truncated_key_files_are_errors() {
    assert!(matches!(
        PrivateKey::from_encrypted_pem(
            b"-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
            b""
        ),
        Err(Error::UnsupportedPemType(_))
    ));
    let full = key_file("cosign-test_pemsigstorekey.key");
    assert!(PrivateKey::from_encrypted_pem(&full[..full.len() / 2], b"hello").is_err());
    assert!(PrivateKey::from_encrypted_pem(b"not a key", b"hello").is_err());
    let f = tampered(|b| b["cipher"]["name"] = serde_json::json!("aes"));
    assert!(PrivateKey::from_encrypted_pem(&f, b"hello")
        .unwrap_err()
        .to_string()
        .contains("unsupported cipher"));
    let f = tampered(|b| {
        let c = b["ciphertext"].as_str().unwrap().to_owned();
        b["ciphertext"] = serde_json::json!(format!("AAAA{}", &c[4..]));
    });
    assert!(matches!(
        PrivateKey::from_encrypted_pem(&f, b"hello"),
        Err(Error::WrongPassword)
    ));
}

#[test]
fn public_key_pem_labels() {
    let k = PrivateKey::generate_p256().unwrap();
    let pem = k.public_key().to_pem();
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
    assert!(matches!(
        PublicKey::from_pem(
            b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"
        ),
        Err(Error::UnsupportedPemType(_))
    ));
    assert!(
        PublicKey::from_pem(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
            .is_err()
    );
}
