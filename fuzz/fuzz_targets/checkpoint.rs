//! Signed-note checkpoints (C2SP) as logs serve them and bundles carry them.
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sigil_core::checkpoint::{verify_checkpoint, Checkpoint, NoteVerifier, SignedNote};
use sigil_core::keys::PrivateKey;

fn verifier() -> &'static NoteVerifier {
    static V: OnceLock<NoteVerifier> = OnceLock::new();
    V.get_or_init(|| {
        let key = PrivateKey::generate_p256().expect("key");
        NoteVerifier::rekor("fuzz.example/log", key.public_key().clone())
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(note) = SignedNote::parse(text) {
        let _ = note.verify(verifier());
        let _ = SignedNote::parse(&note.to_text());
    }
    if let Ok(cp) = Checkpoint::parse_body(text) {
        let again = Checkpoint::parse_body(&cp.to_body()).expect("own body re-parses");
        assert_eq!(again.size, cp.size);
    }
    let _ = verify_checkpoint(text, verifier());
});
