//! A client for Fulcio's v2 API (`POST /api/v2/signingCert`, fulcio `fulcio.proto`): an OIDC
//! token and a proof of possession of a fresh key buy a short-lived certificate chain.
//!
//! The proof of possession is a signature over the token's challenge claim: `email` when the
//! token has one (sigstore's `oauthflow.SubjectFromUnverifiedToken`), else `sub`.

use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use base64::Engine as _;
use serde_json::{json, Value};
use sigil_core::keys::PrivateKey;

use crate::Error;

/// A certificate chain as Fulcio returns it: leaf PEM first, then intermediates and root.
#[derive(Clone, Debug)]
pub struct CertificateChain {
    pub pems: Vec<String>,
    /// The CA returned the SCT detached (no CT log embedded it).
    pub detached_sct: Option<String>,
}

impl CertificateChain {
    pub fn leaf_pem(&self) -> &str {
        self.pems.first().map(String::as_str).unwrap_or("")
    }

    /// Intermediates and root, concatenated (the `dev.sigstore.cosign/chain` annotation).
    pub fn chain_pem(&self) -> String {
        self.pems
            .iter()
            .skip(1)
            .map(|p| ensure_newline(p))
            .collect()
    }
}

fn ensure_newline(p: &str) -> String {
    if p.ends_with('\n') {
        p.to_owned()
    } else {
        format!("{p}\n")
    }
}

/// The claim the proof of possession signs: `email`, else `sub` (no signature check here:
/// the CA verifies the token).
pub fn challenge_subject(token: &str) -> Result<String, Error> {
    let payload = token.split('.').nth(1).ok_or_else(|| {
        Error::Token("identity token is not a JWT (header.payload.signature)".into())
    })?;
    let bytes = B64URL
        .decode(payload.trim_end_matches('='))
        .map_err(|_| Error::Token("identity token payload is not base64url".into()))?;
    let claims: Value = serde_json::from_slice(&bytes)
        .map_err(|e| Error::Token(format!("identity token claims: {e}")))?;
    if let Some(email) = claims["email"].as_str() {
        return Ok(email.to_owned());
    }
    claims["sub"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| Error::Token("identity token has neither `email` nor `sub`".into()))
}

/// Requests a certificate for `key` from the Fulcio at `base_url`.
pub async fn request_certificate(
    http: &reqwest::Client,
    base_url: &str,
    token: &str,
    key: &PrivateKey,
) -> Result<CertificateChain, Error> {
    let subject = challenge_subject(token)?;
    let pop = key.sign(subject.as_bytes()).map_err(Error::Sign)?;
    let body = json!({
        "credentials": {"oidcIdentityToken": token},
        "publicKeyRequest": {
            "publicKey": {"algorithm": "ECDSA", "content": key.public_key().to_pem()},
            "proofOfPossession": B64.encode(pop),
        }
    });
    let url = format!("{}/api/v2/signingCert", base_url.trim_end_matches('/'));
    let resp = http
        .post(&url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .map_err(|e| Error::Ca(format!("request to {url} failed: {e}")))?;
    let status = resp.status();
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| Error::Ca(format!("reading the answer of {url}: {e}")))?;
    if !status.is_success() {
        let text = String::from_utf8_lossy(&bytes);
        let msg = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_owned))
            .unwrap_or_else(|| text.chars().take(300).collect());
        return Err(Error::Ca(format!("{url} answered {status}: {msg}")));
    }
    let v: Value = serde_json::from_slice(&bytes)
        .map_err(|e| Error::Ca(format!("malformed answer from {url}: {e}")))?;
    let (chain, sct) = if let Some(e) = v.get("signedCertificateEmbeddedSct") {
        (&e["chain"]["certificates"], None)
    } else if let Some(d) = v.get("signedCertificateDetachedSct") {
        (
            &d["chain"]["certificates"],
            d["signedCertificateTimestamp"].as_str().map(str::to_owned),
        )
    } else {
        return Err(Error::Ca(format!(
            "answer from {url} has no certificate chain"
        )));
    };
    let pems: Vec<String> = chain
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if pems.is_empty() {
        return Err(Error::Ca(format!(
            "answer from {url} has an empty certificate chain"
        )));
    }
    Ok(CertificateChain {
        pems,
        detached_sct: sct,
    })
}
