//! Shared by the attestation tests on `sigil up` (`attest_stack.rs`, `attest_keyless.rs`):
//! the stack, a runtime, the lab's identity and a small SPDX predicate, and the statements of
//! `verify-attestation`'s output.
#![allow(dead_code)]

use std::path::Path;
use std::process::Output;

use base64::Engine as _;
use sigil_testkit::stack::Stack;

pub const ISSUER: &str = "https://token.actions.githubusercontent.com";
pub const IDENTITY: &str =
    "https://github.com/owner/cosign-lab/.github/workflows/sign.yml@refs/tags/v1.0.0";

pub const SPDX: &str = r#"{"spdxVersion":"SPDX-2.3","dataLicense":"CC0-1.0","SPDXID":"SPDXRef-DOCUMENT","name":"lab","packages":[]}"#;

pub fn up(state: &Path) -> Stack {
    Stack::up(Path::new(env!("CARGO_BIN_EXE_sigil")), state)
}

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The statements of `verify-attestation`'s JSON lines.
pub fn statements(o: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let env: serde_json::Value = serde_json::from_str(l).unwrap();
            assert_eq!(env["payloadType"], "application/vnd.in-toto+json");
            let p = base64::engine::general_purpose::STANDARD
                .decode(env["payload"].as_str().unwrap())
                .unwrap();
            serde_json::from_slice(&p).unwrap()
        })
        .collect()
}
