//! The CA and the dev OIDC issuer over real loopback sockets, given bad input: forged,
//! expired or garbled tokens, weak keys, wrong proofs, malformed requests, bad configuration
//! and unreachable issuers are refused with a clear 4xx (or error), and nothing is issued.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use base64::Engine as _;
use common::*;
use ring::signature::KeyPair as _;
use serde_json::{json, Value};
use sigil_ca::{CaConfig, DevIssuer};

#[tokio::test]
async fn bad_tokens_are_refused_and_nothing_is_issued() {
    let s = stack().await;
    let key = Key::new();
    let p = profile();
    let good = s.github_token(&p);
    let claims = claims_of(&good);
    let sub = claims["sub"].as_str().unwrap().to_owned();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let with = |f: &dyn Fn(&mut serde_json::Map<String, Value>)| {
        let mut c = claims.as_object().unwrap().clone();
        f(&mut c);
        s.gh.mint(&c).unwrap()
    };

    let expired = with(&|c| {
        c.insert("exp".into(), json!(now - 3600));
        c.insert("iat".into(), json!(now - 4000));
        c.insert("nbf".into(), json!(now - 4000));
    });
    s.refused(&key_request(&expired, &key, &sub), 401, "token has expired")
        .await;

    let not_yet = with(&|c| {
        c.insert("nbf".into(), json!(now + 3600));
    });
    s.refused(&key_request(&not_yet, &key, &sub), 401, "not valid yet")
        .await;

    let wrong_aud =
        s.gh.mint_github(GITHUB, &p, "https://github.com/octo")
            .unwrap();
    s.refused(&key_request(&wrong_aud, &key, &sub), 401, "audience")
        .await;

    let unknown =
        s.gh.mint_github("https://evil.example.com", &p, "sigstore")
            .unwrap();
    s.refused(
        &key_request(&unknown, &key, &sub),
        401,
        "issuer `https://evil.example.com` is not configured",
    )
    .await;

    // Same claims, signed by a different RSA key (another issuer's) with our kid.
    let other = DevIssuer::open(&s._dir.path().join("other")).unwrap();
    let mut parts: Vec<String> = other
        .mint(claims.as_object().unwrap())
        .unwrap()
        .split('.')
        .map(str::to_owned)
        .collect();
    parts[0] = good.split('.').next().unwrap().to_owned();
    let bad_sig = parts.join(".");
    s.refused(
        &key_request(&bad_sig, &key, &sub),
        401,
        "signature does not verify",
    )
    .await;

    // Tampered payload with the original signature.
    let mut tampered: Vec<&str> = good.split('.').collect();
    let mut c2 = claims.clone();
    c2["repository"] = json!("octo/evil");
    let enc = B64URL.encode(serde_json::to_vec(&c2).unwrap());
    tampered[1] = &enc;
    s.refused(
        &key_request(&tampered.join("."), &key, &sub),
        401,
        "signature does not verify",
    )
    .await;

    // alg: none, with and without a signature part.
    let none = forge(json!({"alg": "none", "typ": "JWT"}), &claims, |_| {
        Vec::new()
    });
    s.refused(
        &key_request(&none, &key, &sub),
        401,
        "`none` is never accepted",
    )
    .await;

    // HS256 "signed" with the issuer's public key material (the classic key-confusion attack).
    let jwks = s.gh.jwks();
    let kid = jwks["keys"][0]["kid"].as_str().unwrap().to_owned();
    for secret in [
        jwks.to_string(),
        jwks["keys"][0]["n"].as_str().unwrap().to_owned(),
    ] {
        let hs = forge(
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
        s.refused(&key_request(&hs, &key, &sub), 401, "algorithm")
            .await;
    }

    // Missing required GitHub claims.
    for claim in ["job_workflow_ref", "repository_id", "run_attempt", "sub"] {
        let missing = with(&|c| {
            c.remove(claim);
        });
        let status = if claim == "sub" { 401 } else { 400 };
        s.refused(&key_request(&missing, &key, &sub), status, claim)
            .await;
    }

    // Email tokens need a verified address.
    let unverified = {
        let mut c = claims_of(
            &s.email
                .mint_email(&s.email_iss, "bob@example.com", "sigstore")
                .unwrap(),
        );
        c["email_verified"] = json!(false);
        s.email.mint(c.as_object().unwrap()).unwrap()
    };
    s.refused(
        &key_request(&unverified, &key, "bob@example.com"),
        400,
        "email_verified",
    )
    .await;

    // A non-ASCII address cannot go into an IA5String SAN.
    let accented = s
        .email
        .mint_email(&s.email_iss, "andré@example.com", "sigstore")
        .unwrap();
    s.refused(
        &key_request(&accented, &key, "andré@example.com"),
        400,
        "not ASCII",
    )
    .await;

    // Not a JWT at all.
    s.refused(
        &key_request("garbage", &key, &sub),
        401,
        "three base64url parts",
    )
    .await;
    s.refused(&json!({"publicKeyRequest": {"publicKey": {"content": key.pem()}, "proofOfPossession": key.sign(&sub)}}), 401, "bearer").await;
}

#[tokio::test]
async fn bad_keys_proofs_and_requests_are_refused() {
    let s = stack().await;
    let key = Key::new();
    let token = s.github_token(&profile());
    let sub = claims_of(&token)["sub"].as_str().unwrap().to_owned();

    // Proof over the wrong value, and by another key.
    s.refused(
        &key_request(&token, &key, "someone-else"),
        400,
        "proof of possession",
    )
    .await;
    let other = Key::new();
    let mut body = key_request(&token, &key, &sub);
    body["publicKeyRequest"]["proofOfPossession"] = json!(other.sign(&sub));
    s.refused(&body, 400, "proof of possession").await;

    // CSR with a bad signature.
    let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut csr = rcgen::CertificateParams::new(Vec::<String>::new())
        .unwrap()
        .serialize_request(&kp)
        .unwrap()
        .der()
        .to_vec();
    let n = csr.len();
    csr[n - 5] ^= 0x01;
    let csr_pem = pem::encode(&pem::Pem::new("CERTIFICATE REQUEST", csr));
    s.refused(&json!({"credentials": {"oidcIdentityToken": token}, "certificateSigningRequest": B64.encode(csr_pem)}), 400, "signature").await;

    // Truncated CSRs: always a 400, never a panic or a certificate.
    let good = rcgen::CertificateParams::new(Vec::<String>::new())
        .unwrap()
        .serialize_request(&kp)
        .unwrap()
        .der()
        .to_vec();
    for cut in (1..good.len()).step_by(17) {
        let body = json!({"credentials": {"oidcIdentityToken": token}, "certificateSigningRequest": B64.encode(&good[..cut])});
        s.refused(&body, 400, "").await;
    }

    // Unsupported key types and sizes: secp256k1, RSA-1024, garbage.
    let mut k1 = hex::decode("3056301006072a8648ce3d020106052b8104000a034200").unwrap();
    k1.extend_from_slice(key.pair.public_key().as_ref());
    let rsa1024 = {
        use rsa::pkcs8::EncodePublicKey as _;
        let k = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 1024).unwrap();
        k.to_public_key()
            .to_public_key_der()
            .unwrap()
            .as_bytes()
            .to_vec()
    };
    for (spki, needle) in [
        (k1, "elliptic curve 1.3.132.0.10"),
        (rsa1024, "1024 bits"),
        (vec![1, 2, 3], "malformed"),
    ] {
        let mut body = key_request(&token, &key, &sub);
        body["publicKeyRequest"]["publicKey"]["content"] =
            json!(pem::encode(&pem::Pem::new("PUBLIC KEY", spki)));
        s.refused(&body, 400, needle).await;
    }

    // Malformed and oversized requests.
    s.refused(
        &json!({"credentials": {"oidcIdentityToken": token}}),
        400,
        "missing publicKeyRequest",
    )
    .await;
    let resp = s
        .http
        .post(format!("{}/api/v2/signingCert", s.ca.url()))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let big = json!({"credentials": {"oidcIdentityToken": "x".repeat(100_000)}});
    s.refused(&big, 413, "request body over").await;
}

#[tokio::test]
async fn state_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let config = CaConfig::default();
    let first = sigil_ca::open_ca(dir.path(), &config).unwrap();
    let root = first.authority.root_der().to_vec();
    let log_id = first.ct_log.as_ref().unwrap().log_id();
    drop(first);
    let second = sigil_ca::open_ca(dir.path(), &config).unwrap();
    assert_eq!(second.authority.root_der(), root.as_slice());
    assert_eq!(second.ct_log.as_ref().unwrap().log_id(), log_id);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.path().join("ca/intermediate.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn config_errors_are_clear() {
    let err = CaConfig::from_yaml(
        "oidc-issuers:\n  https://a:\n    issuer-url: https://b\n    type: email\n",
    )
    .unwrap_err();
    assert!(err.to_string().contains("differs"), "{err}");
    let err = CaConfig::from_yaml(
        "oidc-issuers:\n  https://a:\n    issuer-url: https://a\n    type: uri\n",
    )
    .unwrap_err();
    assert!(err.to_string().contains("subject-domain"), "{err}");
    let err = CaConfig::from_yaml(
        "oidc-issuers:\n  https://a:\n    issuer-url: https://a\n    type: kerberos\n",
    )
    .unwrap_err();
    assert!(err.to_string().contains("unknown variant"), "{err}");
    // Fulcio's JSON spelling.
    let c = CaConfig::from_yaml(r#"{"OIDCIssuers": {"https://a": {"IssuerURL": "https://a", "ClientID": "sigstore", "Type": "email"}}}"#).unwrap();
    assert_eq!(c.oidc_issuers.len(), 1);
}

#[tokio::test]
async fn unreachable_issuer_and_garbled_tokens() {
    let s = stack().await;
    let dir = tempfile::tempdir().unwrap();
    let config = CaConfig::from_yaml(&format!(
        "oidc-issuers:\n  {GITHUB}:\n    issuer-url: {GITHUB}\n    type: github-workflow\n    discovery-url: http://127.0.0.1:9/.well-known/openid-configuration\n"
    ))
    .unwrap();
    let ca = sigil_ca::open_ca(dir.path(), &config).unwrap();
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let srv = sigil_ca::spawn(l, sigil_ca::router(ca)).unwrap();
    let p = profile();
    let token = s.github_token(&p);
    let sub = format!("repo:{}:ref:{}", p.repository, p.git_ref);
    let r = s
        .http
        .post(format!("{}/api/v2/signingCert", srv.url()))
        .json(&key_request(&token, &Key::new(), &sub))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 502);
    let msg: Value = r.json().await.unwrap();
    assert!(
        msg["message"]
            .as_str()
            .unwrap()
            .contains("fetching the signing keys of issuer"),
        "{msg}"
    );

    // Every single-byte corruption of a good token is refused with a 4xx, never a 5xx or a
    // certificate.
    let key = Key::new();
    let bytes = token.as_bytes();
    for i in (0..bytes.len()).step_by(13) {
        let mut t = bytes.to_vec();
        t[i] = if t[i] == b'A' { b'B' } else { b'A' };
        let t = String::from_utf8(t).unwrap();
        if t == token {
            continue;
        }
        let (status, resp) = s.post(&key_request(&t, &key, &sub)).await;
        assert!((400..500).contains(&status), "byte {i}: {status} {resp}");
    }
}
