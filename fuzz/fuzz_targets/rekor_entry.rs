//! Rekor entry bodies as the log server accepts them (`POST /api/v1/log/entries`:
//! hashedrekord, dsse, intoto), and log entries as clients read them (SET, inclusion proof).
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sigil_core::checkpoint::NoteVerifier;
use sigil_core::keys::PrivateKey;
use sigil_core::rekor::{self, canonicalize_proposed, LogEntry};

fn key() -> &'static PrivateKey {
    static KEY: OnceLock<PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| PrivateKey::generate_p256().expect("key"))
}

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        if let Ok(accepted) = canonicalize_proposed(&v) {
            // The canonical body is RFC 8785 JSON: parsing and re-canonicalizing it is the
            // identity. (It is not a proposal: intoto v0.0.2 bodies drop the payload.)
            let again: serde_json::Value =
                serde_json::from_slice(&accepted.body).expect("canonical body is JSON");
            let twice = rekor::canonical_json(&again).expect("canonical body re-canonicalizes");
            assert_eq!(twice, accepted.body, "canonical form is stable");
        }
        let _ = rekor::canonical_verifier_pem(data);
    }
    if let Ok(entry) = serde_json::from_slice::<LogEntry>(data) {
        let public = key().public_key().clone();
        let _ = rekor::verify_set(&entry, &public);
        let _ = rekor::verify_inclusion(&entry, &NoteVerifier::rekor("fuzz", public));
        let _ = rekor::set_payload(&entry);
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = rekor::uuid_leaf_hash(s);
        let _ = rekor::decode_hash(s);
    }
});
