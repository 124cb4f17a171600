//! Attacks on the certificate authority's OIDC token check (`POST /api/v2/signingCert`), on
//! a loopback CA and dev issuer (sigil-ca's own test stack, included from its tests): forged
//! `alg`, the wrong audience, expired tokens and oversized ones. Every refusal must leave the
//! CT log empty: nothing was issued.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../sigil-ca/tests/common/mod.rs"]
mod common;

use common::{claims_of, forge, key_request, profile, stack, Key, GITHUB};
use serde_json::json;

/// Control: the genuine token gets a certificate.
#[tokio::test]
async fn control_genuine_token_is_issued() {
    let s = stack().await;
    let key = Key::new();
    let token = s.github_token(&profile());
    let sub = claims_of(&token)["sub"].as_str().unwrap().to_owned();
    let (status, body) = s.post(&key_request(&token, &key, &sub)).await;
    assert_eq!(status, 201, "{body}");
}

/// `alg: none` (auth0, "Critical vulnerabilities in JSON Web Token libraries", 2015): an
/// unsigned token with the genuine claims, in the spellings libraries have accepted.
#[tokio::test]
async fn jwt_alg_none() {
    let s = stack().await;
    let key = Key::new();
    let claims = claims_of(&s.github_token(&profile()));
    let sub = claims["sub"].as_str().unwrap().to_owned();
    for header in [
        json!({"alg": "none", "typ": "JWT"}),
        json!({"alg": "None", "typ": "JWT"}),
        json!({"alg": "NONE"}),
    ] {
        let token = forge(header, &claims, |_| Vec::new());
        s.refused(&key_request(&token, &key, &sub), 401, "").await;
    }
}

/// Algorithm confusion (CVE-2015-9235, CVE-2016-10555): HS256 "signed" with the issuer's
/// RSA public key material as the HMAC secret, under the issuer's `kid`.
#[tokio::test]
async fn jwt_hs256_with_the_public_key() {
    let s = stack().await;
    let key = Key::new();
    let claims = claims_of(&s.github_token(&profile()));
    let sub = claims["sub"].as_str().unwrap().to_owned();
    let jwks = s.gh.jwks();
    let kid = jwks["keys"][0]["kid"].as_str().unwrap().to_owned();
    for secret in [
        jwks.to_string(),
        jwks["keys"][0].to_string(),
        jwks["keys"][0]["n"].as_str().unwrap().to_owned(),
    ] {
        let token = forge(
            json!({"alg": "HS256", "typ": "JWT", "kid": kid}),
            &claims,
            |m| {
                ring::hmac::sign(
                    &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes()),
                    m,
                )
                .as_ref()
                .to_vec()
            },
        );
        s.refused(&key_request(&token, &key, &sub), 401, "algorithm")
            .await;
    }
}

/// A genuine token minted for another relying party (`aud` ≠ `sigstore`) replayed to the CA
/// (Fulcio checks `aud` against the issuer's client ID).
#[tokio::test]
async fn jwt_wrong_audience() {
    let s = stack().await;
    let key = Key::new();
    let token =
        s.gh.mint_github(GITHUB, &profile(), "https://attacker.example")
            .unwrap();
    let sub = claims_of(&token)["sub"].as_str().unwrap().to_owned();
    s.refused(&key_request(&token, &key, &sub), 401, "audience")
        .await;
}

/// A leaked token used after it expired (beyond the 60 s clock-skew leeway).
#[tokio::test]
async fn jwt_expired() {
    let s = stack().await;
    let key = Key::new();
    let mut claims = claims_of(&s.github_token(&profile()));
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    claims["exp"] = json!(now - 120);
    claims["iat"] = json!(now - 900);
    claims["nbf"] = json!(now - 900);
    let token = s.gh.mint(claims.as_object().unwrap()).unwrap();
    let sub = claims["sub"].as_str().unwrap().to_owned();
    s.refused(&key_request(&token, &key, &sub), 401, "expired")
        .await;
}

/// A token far larger than any issuer's (GitHub's are ~1.5 KB), to make the CA parse and
/// hash megabytes: refused by size, before any parsing.
#[tokio::test]
async fn oversized_token() {
    let s = stack().await;
    let key = Key::new();
    let token = format!("{}.{}.{}", "a".repeat(20_000), "b".repeat(20_000), "c");
    s.refused(&key_request(&token, &key, "x"), 401, "too large")
        .await;
}
