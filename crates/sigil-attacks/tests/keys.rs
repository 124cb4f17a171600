//! Hostile cosign key files: scrypt parameters chosen to exhaust CPU or memory when the key
//! is opened (`sigil sign --key`, `sigil public-key`). cosign's key file carries its own KDF
//! parameters (`kdf.params.N/r/p`), so whoever hands over a key file chooses the work the
//! reader does; sigil accepts only the values cosign and sigstore-rs write.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;
use sigil_core::keys::PrivateKey;

fn pem_body(pem_text: &str) -> Value {
    let block = pem::parse(pem_text).unwrap();
    serde_json::from_slice(block.contents()).unwrap()
}

fn with_params(n: u64, r: u64, p: u64) -> Vec<u8> {
    let key = PrivateKey::generate_p256().unwrap();
    let pem_text = key.to_encrypted_pem(b"").unwrap();
    let tag = pem::parse(&pem_text).unwrap().tag().to_owned();
    let mut body = pem_body(&pem_text);
    body["kdf"]["params"] = serde_json::json!({"N": n, "r": r, "p": p});
    pem::encode(&pem::Pem::new(tag, serde_json::to_vec(&body).unwrap())).into_bytes()
}

/// Control: the key file as written (N = 65536, r = 8, p = 1) opens; rewriting its
/// parameters to another accepted value gets as far as decryption (wrong key, so the MAC
/// fails) — it is not refused for its parameters.
#[test]
fn control_accepted_parameters_open() {
    let key = PrivateKey::generate_p256().unwrap();
    let pem_text = key.to_encrypted_pem(b"").unwrap();
    assert_eq!(pem_body(&pem_text)["kdf"]["params"]["N"], 65536);
    PrivateKey::from_encrypted_pem(pem_text.as_bytes(), b"").unwrap();
    let err = PrivateKey::from_encrypted_pem(&with_params(32768, 8, 1), b"").unwrap_err();
    assert!(!err.to_string().contains("kdf parameters"), "{err}");
}

/// N = 2^30 with r = 8 would need 1 TiB of memory; N = 2^20, r = 1024 or p = 2^20 would burn
/// minutes of CPU. Each is refused before any key derivation, with the accepted values named.
#[test]
fn scrypt_parameters_chosen_to_exhaust_memory_or_cpu() {
    for (n, r, p) in [
        (1u64 << 30, 8, 1),
        (1 << 62, 8, 1),
        (u64::MAX, 8, 1),
        (1 << 20, 8, 1),
        (32768, 1024, 1),
        (32768, 8, 1 << 20),
        (32768, u32::MAX as u64, u32::MAX as u64),
        (3, 8, 1),
        (0, 0, 0),
    ] {
        let start = std::time::Instant::now();
        let err = PrivateKey::from_encrypted_pem(&with_params(n, r, p), b"").unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("unexpected kdf parameters"),
            "N={n} r={r} p={p}: {msg}"
        );
        assert!(msg.contains("accepted"), "{msg}");
        // Not a timing assertion on sigil's speed: a refusal that derived a key at these
        // parameters would take minutes; this only guards against that.
        assert!(
            start.elapsed().as_secs() < 30,
            "N={n} r={r} p={p} was derived"
        );
    }
}

/// Parameters of the wrong JSON type or out of u32 range are a parse error, not a wrap.
#[test]
fn scrypt_parameters_out_of_range_do_not_wrap() {
    let key = PrivateKey::generate_p256().unwrap();
    let pem_text = key.to_encrypted_pem(b"").unwrap();
    let tag = pem::parse(&pem_text).unwrap().tag().to_owned();
    for params in [
        serde_json::json!({"N": 32768, "r": 4294967304u64, "p": 1}),
        serde_json::json!({"N": -32768, "r": 8, "p": 1}),
        serde_json::json!({"N": "32768", "r": 8, "p": 1}),
        serde_json::json!({"N": 32768.5, "r": 8, "p": 1}),
    ] {
        let mut body = pem_body(&pem_text);
        body["kdf"]["params"] = params.clone();
        let file = pem::encode(&pem::Pem::new(
            tag.clone(),
            serde_json::to_vec(&body).unwrap(),
        ));
        assert!(
            PrivateKey::from_encrypted_pem(file.as_bytes(), b"").is_err(),
            "{params}"
        );
    }
}
