//! OIDC identity tokens (JWS compact) as the CA verifies them: header and claims parsing,
//! issuer lookup, key selection from the issuer's JWKS (a dev issuer on loopback), algorithm,
//! audience and expiry checks. The input is either a raw token or `header 0xFF claims 0xFF
//! signature`, base64url-encoded here so that mutations reach the JSON.
#![no_main]
use std::sync::{Arc, OnceLock};

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use sigil_ca::{CaConfig, DevIssuer, IssuerSettings, TokenVerifier};

/// The dev issuer's URL is fixed so that seeds can name it in `iss`.
const ISSUER: &str = "http://127.0.0.1:1/fuzz-issuer";

struct Setup {
    verifier: TokenVerifier,
    _issuer: Arc<DevIssuer>,
    _server: sigil_ca::ServerHandle,
}

fn setup() -> &'static Setup {
    static S: OnceLock<Setup> = OnceLock::new();
    S.get_or_init(|| {
        sigil_fuzz::runtime().block_on(async {
            let issuer = Arc::new(
                DevIssuer::open(&sigil_fuzz::scratch_dir().join("oidc")).expect("dev issuer"),
            );
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let server = sigil_ca::spawn(listener, sigil_ca::issuer_router(issuer.clone()))
                .expect("serve");
            issuer
                .set_settings(IssuerSettings {
                    issuer: ISSUER.into(),
                    url: server.url(),
                })
                .expect("settings");
            let config = CaConfig::from_yaml(&format!(
                "oidc-issuers:\n  {ISSUER}:\n    issuer-url: {ISSUER}\n    client-id: sigstore\n    type: email\n    discovery-url: {}/.well-known/openid-configuration\n",
                server.url()
            ))
            .expect("config");
            Setup {
                verifier: TokenVerifier::new(&config).expect("verifier"),
                _issuer: issuer,
                _server: server,
            }
        })
    })
}

fuzz_target!(|data: &[u8]| {
    let s = setup();
    let parts: Vec<&[u8]> = data.split(|&b| b == 0xFF).collect();
    let token = match parts.as_slice() {
        [header, claims, sig] => format!(
            "{}.{}.{}",
            B64URL.encode(header),
            B64URL.encode(claims),
            B64URL.encode(sig)
        ),
        _ => String::from_utf8_lossy(data).into_owned(),
    };
    let _ = sigil_fuzz::runtime().block_on(s.verifier.verify(&token));
});
