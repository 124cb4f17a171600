//! cosign key files: the encrypted private key (PEM around JSON with scrypt parameters) and
//! public keys (PEM and DER SubjectPublicKeyInfo).
#![no_main]
use libfuzzer_sys::fuzz_target;
use sigil_core::keys::{PrivateKey, PublicKey};

fuzz_target!(|data: &[u8]| {
    // The empty password is the one `COSIGN_PASSWORD=` gives; a wrong one must fail cleanly.
    let _ = PrivateKey::from_encrypted_pem(data, b"");
    if let Ok(k) = PublicKey::from_pem(data) {
        let _ = k.verify(b"message", data);
        let _ = PublicKey::from_pem(k.to_pem().as_bytes()).expect("own PEM re-parses");
    }
    if let Ok(k) = PublicKey::from_spki_der(data) {
        let _ = k.verify_prehashed(&[0u8; 32], data);
    }
    let _ = PrivateKey::from_pkcs8_der(data);
});
