//! OIDC identity-token verification: the issuer is looked up in the CA's configuration, its
//! keys found by OpenID discovery and JWKS (cached), and the JWT checked with jsonwebtoken.
//!
//! # Defaults
//! - Only asymmetric algorithms (RS*, PS*, ES256/384, EdDSA) are accepted, and only the one the
//!   key's type allows; `alg: none` cannot even be parsed by jsonwebtoken, and an HS256 token
//!   "signed" with the public key is refused because HMAC is never in the allowed list.
//! - `aud` must be the issuer's client id (`sigstore`), `iss` the configured URL, `exp` and
//!   `sub` must be present; `exp`/`nbf` get 60 s of leeway for clock skew.
//! - JWKS are cached for 10 minutes; an unknown `kid` triggers one refresh (at most every 30 s)
//!   so that key rotation works without letting a client make the CA hammer the issuer.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::{Map, Value};
use tokio::sync::RwLock;

use crate::config::{CaConfig, IssuerConfig};
use crate::Error;

/// Largest token accepted (GitHub's are ~1.5 KB).
const MAX_TOKEN: usize = 16 * 1024;
const JWKS_TTL: Duration = Duration::from_secs(600);
const MIN_REFRESH: Duration = Duration::from_secs(30);

#[derive(Debug)]
struct CachedKeys {
    keys: JwkSet,
    fetched: Instant,
}

/// Verifies identity tokens against the configured issuers.
#[derive(Debug, Clone)]
pub struct TokenVerifier {
    issuers: Arc<HashMap<String, IssuerConfig>>,
    http: reqwest::Client,
    cache: Arc<RwLock<HashMap<String, CachedKeys>>>,
}

/// A verified token.
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    pub issuer: IssuerConfig,
    pub claims: Map<String, Value>,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

impl TokenVerifier {
    /// A verifier for the issuers of `config`.
    pub fn new(config: &CaConfig) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| Error::Config(format!("HTTP client: {e}")))?;
        let issuers = config
            .oidc_issuers
            .values()
            .map(|i| (i.issuer_url.clone(), i.clone()))
            .collect();
        Ok(TokenVerifier {
            issuers: Arc::new(issuers),
            http,
            cache: Arc::default(),
        })
    }

    /// The configured issuers.
    pub fn issuers(&self) -> impl Iterator<Item = &IssuerConfig> {
        self.issuers.values()
    }

    /// Verifies `token` and returns its issuer's configuration and its claims.
    pub async fn verify(&self, token: &str) -> Result<VerifiedToken, Error> {
        if token.len() > MAX_TOKEN {
            return Err(Error::Token("token too large"));
        }
        if token.split('.').count() != 3 {
            return Err(Error::Token(
                "not a JWS compact token (three base64url parts)",
            ));
        }
        let header = jsonwebtoken::decode_header(token).map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::Json(_) => {
                Error::Token("header is not valid JSON or names an unsupported algorithm (`none` is never accepted)")
            }
            _ => Error::TokenValidation(e),
        })?;
        // The issuer is read before verification only to pick the keys; it is verified below.
        let iss = unverified_issuer(token)?;
        let issuer = self
            .issuers
            .get(&iss)
            .ok_or_else(|| Error::UnknownIssuer(iss.clone()))?;
        let jwk = self.key_for(issuer, header.kid.as_deref()).await?;
        let key = DecodingKey::from_jwk(&jwk).map_err(Error::TokenValidation)?;
        let allowed = allowed_algorithms(&jwk);
        if let Some(pinned) = jwk
            .common
            .key_algorithm
            .and_then(|a| serde_json::to_value(a).ok())
            .and_then(|v| v.as_str().and_then(|s| s.parse::<Algorithm>().ok()))
        {
            if pinned != header.alg {
                return Err(Error::Token("token algorithm differs from the key's `alg`"));
            }
        }
        if !allowed.contains(&header.alg) {
            return Err(Error::Token(
                "token algorithm does not match the issuer's key type",
            ));
        }
        let mut validation = Validation::new(header.alg);
        validation.algorithms = allowed;
        validation.set_audience(&[issuer.client_id.as_str()]);
        validation.set_issuer(&[issuer.issuer_url.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = 60;
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
            .map_err(explain)?;
        Ok(VerifiedToken {
            issuer: issuer.clone(),
            claims: data.claims,
        })
    }

    async fn key_for(
        &self,
        issuer: &IssuerConfig,
        kid: Option<&str>,
    ) -> Result<jsonwebtoken::jwk::Jwk, Error> {
        let pick = |set: &JwkSet| match kid {
            Some(k) => set.find(k).cloned(),
            None if set.keys.len() == 1 => set.keys.first().cloned(),
            None => None,
        };
        let stale = {
            let cache = self.cache.read().await;
            match cache.get(&issuer.issuer_url) {
                Some(c) if c.fetched.elapsed() < JWKS_TTL => {
                    if let Some(k) = pick(&c.keys) {
                        return Ok(k);
                    }
                    c.fetched.elapsed() >= MIN_REFRESH
                }
                _ => true,
            }
        };
        if stale {
            let mut cache = self.cache.write().await;
            // Another request may have refreshed while this one waited for the lock.
            let fresh = cache
                .get(&issuer.issuer_url)
                .is_some_and(|c| c.fetched.elapsed() < MIN_REFRESH);
            if !fresh {
                let keys = self.fetch_keys(issuer).await?;
                cache.insert(
                    issuer.issuer_url.clone(),
                    CachedKeys {
                        keys,
                        fetched: Instant::now(),
                    },
                );
            }
            if let Some(k) = cache.get(&issuer.issuer_url).and_then(|c| pick(&c.keys)) {
                return Ok(k);
            }
        }
        Err(Error::UnknownKey {
            issuer: issuer.issuer_url.clone(),
            kid: kid.unwrap_or("(none)").to_owned(),
        })
    }

    async fn fetch_keys(&self, issuer: &IssuerConfig) -> Result<JwkSet, Error> {
        let fail = |e: Box<dyn std::error::Error + Send + Sync>| Error::Discovery {
            issuer: issuer.issuer_url.clone(),
            source: e,
        };
        let discovery_url = issuer.discovery_url.clone().unwrap_or_else(|| {
            format!(
                "{}/.well-known/openid-configuration",
                issuer.issuer_url.trim_end_matches('/')
            )
        });
        let doc: Discovery = self
            .http
            .get(&discovery_url)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| fail(Box::new(e)))?
            .json()
            .await
            .map_err(|e| fail(Box::new(e)))?;
        // go-oidc (Fulcio) refuses a discovery document for another issuer.
        if doc.issuer != issuer.issuer_url {
            return Err(fail(
                format!("discovery document names issuer `{}`", doc.issuer).into(),
            ));
        }
        self.http
            .get(&doc.jwks_uri)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| fail(Box::new(e)))?
            .json()
            .await
            .map_err(|e| fail(Box::new(e)))
    }
}

/// A message that says what is wrong with the token, for the common failures.
fn explain(e: jsonwebtoken::errors::Error) -> Error {
    use jsonwebtoken::errors::ErrorKind as K;
    match e.kind() {
        K::ExpiredSignature => Error::Token("token has expired (exp is in the past)"),
        K::ImmatureSignature => Error::Token("token is not valid yet (nbf is in the future)"),
        K::InvalidAudience => Error::Token("token audience (aud) is not this CA's client id"),
        K::InvalidIssuer => Error::Token("token issuer (iss) does not match the configured issuer"),
        K::InvalidSignature => {
            Error::Token("token signature does not verify with the issuer's keys")
        }
        K::InvalidAlgorithm => Error::Token("token algorithm does not match the issuer's key type"),
        K::MissingRequiredClaim(_) => {
            Error::Token("token lacks a required claim (exp, iss, aud and sub)")
        }
        _ => Error::TokenValidation(e),
    }
}

fn unverified_issuer(token: &str) -> Result<String, Error> {
    let payload = token
        .split('.')
        .nth(1)
        .ok_or(Error::Token("missing payload"))?;
    let bytes = B64URL
        .decode(payload)
        .map_err(|_| Error::Token("payload is not base64url"))?;
    let claims: Map<String, Value> =
        serde_json::from_slice(&bytes).map_err(|_| Error::Token("payload is not a JSON object"))?;
    match claims.get("iss") {
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(Error::MissingClaim("iss")),
    }
}

/// The algorithms a key of this type may verify: never HMAC, never `none`.
fn allowed_algorithms(jwk: &jsonwebtoken::jwk::Jwk) -> Vec<Algorithm> {
    match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => vec![
            Algorithm::RS256,
            Algorithm::RS384,
            Algorithm::RS512,
            Algorithm::PS256,
            Algorithm::PS384,
            Algorithm::PS512,
        ],
        AlgorithmParameters::EllipticCurve(p) => match p.curve {
            EllipticCurve::P256 => vec![Algorithm::ES256],
            EllipticCurve::P384 => vec![Algorithm::ES384],
            _ => vec![],
        },
        AlgorithmParameters::OctetKeyPair(_) => vec![Algorithm::EdDSA],
        _ => vec![],
    }
}
