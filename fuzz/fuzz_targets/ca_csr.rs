//! Certificate requests as the CA receives them (`POST /api/v2/signingCert`): the JSON body,
//! PKCS#10 CSRs (base64 of PEM or DER) with their self-signature, and PEM public keys with a
//! proof of possession. The token is never valid, so nothing is issued.
#![no_main]
use std::sync::OnceLock;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use sigil_ca::{CaConfig, SubjectKey};

fn app() -> &'static axum::Router {
    static APP: OnceLock<axum::Router> = OnceLock::new();
    APP.get_or_init(|| {
        sigil_fuzz::runtime().block_on(async {
            let config = CaConfig::from_yaml(
                "oidc-issuers:\n  http://127.0.0.1:1/none:\n    issuer-url: http://127.0.0.1:1/none\n    client-id: sigstore\n    type: email\n",
            )
            .expect("config");
            let state = sigil_ca::open_ca(&sigil_fuzz::scratch_dir().join("ca"), &config)
                .expect("ca");
            sigil_ca::router(state)
        })
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let body = match selector % 3 {
        // The whole request body.
        0 => rest.to_vec(),
        // A CSR, as sigstore-go sends it (base64 of the PEM or of the DER).
        1 => serde_json::to_vec(&serde_json::json!({
            "credentials": {"oidcIdentityToken": "e30.e30.e30"},
            "certificateSigningRequest": B64.encode(rest),
        }))
        .unwrap_or_default(),
        // A public key and its proof of possession.
        _ => {
            let _ = std::str::from_utf8(rest).map(SubjectKey::from_pem);
            serde_json::to_vec(&serde_json::json!({
                "credentials": {"oidcIdentityToken": "e30.e30.e30"},
                "publicKeyRequest": {
                    "publicKey": {"content": String::from_utf8_lossy(rest)},
                    "proofOfPossession": "AAAA",
                },
            }))
            .unwrap_or_default()
        }
    };
    let (status, _) = sigil_fuzz::call(
        app(),
        "POST",
        "/api/v2/signingCert",
        &[("content-type", "application/json")],
        body,
    );
    assert!(status != 500 && status != 201, "status {status}");
});
