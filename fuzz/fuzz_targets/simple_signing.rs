//! cosign's simple-signing payload (the `.sig` layer content).
#![no_main]
use libfuzzer_sys::fuzz_target;
use sigil_core::SimpleSigningPayload;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = SimpleSigningPayload::from_slice(data) {
        let _ = p.digest();
        let _ = p.annotation("key");
        let _ = SimpleSigningPayload::from_slice(&p.to_bytes());
    }
});
