//! DSSE envelopes (`.att` layers) and the in-toto statements inside them.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sigil_core::bundle::{pae, DsseEnvelope};
use sigil_core::intoto::Statement;
use sigil_core::Digest;

fuzz_target!(|data: &[u8]| {
    if let Ok(env) = serde_json::from_slice::<DsseEnvelope>(data) {
        let _ = pae(&env.payload_type, &env.payload.0);
        let _ = Statement::header_from_slice(&env.payload.0);
    }
    if let Ok(s) = Statement::header_from_slice(data) {
        let _ = s.has_subject(&Digest::sha256(b""));
    }
    if let Ok(s) = Statement::from_slice(data) {
        let _ = Statement::from_slice(&s.to_bytes());
    }
});
