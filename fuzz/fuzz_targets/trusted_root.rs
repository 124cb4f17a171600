//! `trusted_root.json` and ClientTrustConfig (`--trusted-root`, `--trust-config`).
#![no_main]
use libfuzzer_sys::fuzz_target;
use sigil_core::trust_root::{trusted_root_from_any, TrustedRoot};

fuzz_target!(|data: &[u8]| {
    let _ = TrustedRoot::from_json(data);
    if let Ok(root) = trusted_root_from_any(data) {
        for log in &root.tlogs {
            let _ = log.key();
            let _ = root.tlog(&log.log_id.key_id.0);
        }
        for ca in &root.certificate_authorities {
            let _ = ca.certificates();
        }
    }
});
