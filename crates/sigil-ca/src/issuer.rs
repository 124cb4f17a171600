//! The dev OIDC issuer: mints RS256 identity tokens with GitHub Actions' claim set (from a
//! workflow profile) or an email identity, serves OpenID discovery and JWKS, and answers
//! GitHub's runner token protocol (`GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=…` with
//! `Authorization: bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN` → `{"value": "<jwt>"}`).
//!
//! The request token handed out by `sigil oidc github-env` is the workflow profile itself,
//! authenticated with an HMAC key kept in the data directory: whoever can read the directory
//! can mint tokens (as whoever can read the RSA key could), nobody else can, and the server
//! keeps no per-profile state.
//!
//! Claims follow GitHub's OIDC reference and fulcio `pkg/identity/github/principal.go`; the
//! issuer URL is configurable so the server can stand in for
//! `https://token.actions.githubusercontent.com` while keeping its own keys.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use ring::rand::{SecureRandom as _, SystemRandom};
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::Error;

/// Lifetime of the request tokens `sigil oidc github-env` hands out (GitHub's default job
/// timeout is 6 hours).
pub const REQUEST_TOKEN_TTL_SECS: i64 = 6 * 3600;

/// What a request token carries.
#[derive(Serialize, Deserialize)]
struct RequestGrant {
    profile: WorkflowProfile,
    exp: i64,
}

/// Lifetime of minted tokens (GitHub's last a few minutes; Fulcio only needs them at issuance).
pub const TOKEN_TTL_SECS: i64 = 600;

/// A GitHub Actions workflow run, the source of a token's claims.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowProfile {
    /// `OWNER/REPO`.
    pub repository: String,
    /// Path of the workflow file in the repository, `.github/workflows/FILE.yml`.
    pub workflow: String,
    /// `refs/heads/main`, `refs/tags/v1`, …
    #[serde(rename = "ref")]
    pub git_ref: String,
    pub sha: String,
    /// `push`, `workflow_dispatch`, `pull_request`, `release`, …
    pub event: String,
    #[serde(default)]
    pub environment: Option<String>,
    #[serde(default = "default_runner")]
    pub runner_environment: String,
    #[serde(default = "default_visibility")]
    pub visibility: String,
    pub repository_id: String,
    pub repository_owner_id: String,
    pub run_id: String,
    #[serde(default = "default_attempt")]
    pub run_attempt: String,
    #[serde(default = "default_actor")]
    pub actor: String,
}

fn default_runner() -> String {
    "github-hosted".into()
}
fn default_visibility() -> String {
    "public".into()
}
fn default_attempt() -> String {
    "1".into()
}
fn default_actor() -> String {
    "sigil".into()
}

/// A stable numeric id for a name, so that the same repository keeps the same id.
fn stable_id(name: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, name.as_bytes());
    let n = d
        .as_ref()
        .iter()
        .take(4)
        .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    (n % 900_000_000 + 100_000_000).to_string()
}

impl WorkflowProfile {
    /// A profile with GitHub-like generated ids for the rest of the fields.
    pub fn new(
        repository: &str,
        workflow: &str,
        git_ref: &str,
        sha: Option<&str>,
        event: &str,
    ) -> Result<Self, Error> {
        let (owner, name) = repository
            .split_once('/')
            .filter(|(o, n)| !o.is_empty() && !n.is_empty() && !n.contains('/'))
            .ok_or_else(|| Error::Config(format!("repository `{repository}` is not OWNER/REPO")))?;
        let _ = name;
        if !workflow.starts_with(".github/workflows/") {
            return Err(Error::Config(format!(
                "workflow `{workflow}` is not .github/workflows/FILE.yml"
            )));
        }
        if !git_ref.starts_with("refs/") {
            return Err(Error::Config(format!(
                "ref `{git_ref}` is not a full ref (refs/heads/…, refs/tags/…)"
            )));
        }
        let sha = match sha {
            Some(s) if s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit()) => {
                s.to_ascii_lowercase()
            }
            Some(s) => return Err(Error::Config(format!("sha `{s}` is not 40 hex digits"))),
            None => hex::encode(
                &ring::digest::digest(
                    &ring::digest::SHA256,
                    format!("{repository}@{git_ref}").as_bytes(),
                )
                .as_ref()[..20],
            ),
        };
        let mut run = [0u8; 4];
        SystemRandom::new()
            .fill(&mut run)
            .map_err(|_| Error::Signing)?;
        Ok(WorkflowProfile {
            repository: repository.to_owned(),
            workflow: workflow.to_owned(),
            git_ref: git_ref.to_owned(),
            sha,
            event: event.to_owned(),
            environment: None,
            runner_environment: default_runner(),
            visibility: default_visibility(),
            repository_id: stable_id(repository),
            repository_owner_id: stable_id(owner),
            run_id: (u64::from(u32::from_be_bytes(run)) + 1_000_000_000).to_string(),
            run_attempt: default_attempt(),
            actor: default_actor(),
        })
    }

    fn owner(&self) -> &str {
        self.repository
            .split_once('/')
            .map(|(o, _)| o)
            .unwrap_or(&self.repository)
    }

    /// `OWNER/REPO/.github/workflows/FILE.yml@REF`.
    pub fn workflow_ref(&self) -> String {
        format!("{}/{}@{}", self.repository, self.workflow, self.git_ref)
    }

    /// The `GITHUB_*` and `RUNNER_*` variables a job of this run sees.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let (ref_type, ref_name) = match self.git_ref.strip_prefix("refs/tags/") {
            Some(t) => ("tag", t.to_owned()),
            None => (
                "branch",
                self.git_ref
                    .strip_prefix("refs/heads/")
                    .unwrap_or(&self.git_ref)
                    .to_owned(),
            ),
        };
        vec![
            ("GITHUB_ACTIONS", "true".into()),
            ("GITHUB_SERVER_URL", "https://github.com".into()),
            ("GITHUB_REPOSITORY", self.repository.clone()),
            ("GITHUB_REPOSITORY_OWNER", self.owner().to_owned()),
            ("GITHUB_REPOSITORY_ID", self.repository_id.clone()),
            (
                "GITHUB_REPOSITORY_OWNER_ID",
                self.repository_owner_id.clone(),
            ),
            ("GITHUB_REF", self.git_ref.clone()),
            ("GITHUB_REF_NAME", ref_name),
            ("GITHUB_REF_TYPE", ref_type.into()),
            ("GITHUB_SHA", self.sha.clone()),
            ("GITHUB_EVENT_NAME", self.event.clone()),
            ("GITHUB_WORKFLOW", self.workflow_name()),
            ("GITHUB_WORKFLOW_REF", self.workflow_ref()),
            ("GITHUB_WORKFLOW_SHA", self.sha.clone()),
            ("GITHUB_RUN_ID", self.run_id.clone()),
            ("GITHUB_RUN_ATTEMPT", self.run_attempt.clone()),
            ("GITHUB_ACTOR", self.actor.clone()),
            ("RUNNER_ENVIRONMENT", self.runner_environment.clone()),
        ]
    }

    /// GitHub's `workflow` claim is the workflow's name; the file stem stands in for it.
    fn workflow_name(&self) -> String {
        let file = self.workflow.rsplit('/').next().unwrap_or(&self.workflow);
        file.trim_end_matches(".yml")
            .trim_end_matches(".yaml")
            .to_owned()
    }

    /// The claims GitHub Actions puts in an ID token of this run.
    pub fn claims(&self, issuer: &str, audience: &str, now: i64) -> Map<String, Value> {
        let (ref_type, _) = if self.git_ref.starts_with("refs/tags/") {
            ("tag", ())
        } else {
            ("branch", ())
        };
        let sub = match (&self.environment, self.event.as_str()) {
            (Some(env), _) => format!("repo:{}:environment:{env}", self.repository),
            (None, "pull_request") => format!("repo:{}:pull_request", self.repository),
            (None, _) => format!("repo:{}:ref:{}", self.repository, self.git_ref),
        };
        let workflow_ref = self.workflow_ref();
        let mut c = json!({
            "jti": random_id(),
            "sub": sub,
            "aud": audience,
            "ref": self.git_ref,
            "sha": self.sha,
            "repository": self.repository,
            "repository_owner": self.owner(),
            "repository_owner_id": self.repository_owner_id,
            "run_id": self.run_id,
            "run_number": "1",
            "run_attempt": self.run_attempt,
            "repository_visibility": self.visibility,
            "repository_id": self.repository_id,
            "actor_id": stable_id(&self.actor),
            "actor": self.actor,
            "workflow": self.workflow_name(),
            "head_ref": "",
            "base_ref": "",
            "event_name": self.event,
            "ref_protected": "false",
            "ref_type": ref_type,
            "workflow_ref": workflow_ref,
            "workflow_sha": self.sha,
            "job_workflow_ref": workflow_ref,
            "job_workflow_sha": self.sha,
            "runner_environment": self.runner_environment,
            "iss": issuer,
            "nbf": now - 5,
            "exp": now + TOKEN_TTL_SECS,
            "iat": now,
        });
        if let (Some(env), Some(obj)) = (&self.environment, c.as_object_mut()) {
            obj.insert("environment".into(), json!(env));
        }
        match c {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }
}

fn random_id() -> String {
    let mut b = [0u8; 16];
    let _ = SystemRandom::new().fill(&mut b);
    hex::encode(b)
}

fn now_secs() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Settings the server records in its data directory so that `sigil oidc token` and
/// `sigil oidc github-env` work against it without repeating flags.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IssuerSettings {
    /// The `iss` of minted tokens.
    pub issuer: String,
    /// Where the server listens (`http://127.0.0.1:PORT`).
    pub url: String,
}

/// The issuer's keys and settings.
pub struct DevIssuer {
    dir: PathBuf,
    key: RsaKeyPair,
    kid: String,
    jwk: Value,
    request_key: ring::hmac::Key,
    rng: SystemRandom,
    settings: std::sync::RwLock<Option<IssuerSettings>>,
}

impl std::fmt::Debug for DevIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevIssuer")
            .field("dir", &self.dir)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl DevIssuer {
    /// Loads the keys in `dir`, generating them on first use (RSA-2048 signing key, HMAC key
    /// for request tokens).
    pub fn open(dir: &Path) -> Result<Self, Error> {
        use rsa::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
        use rsa::traits::PublicKeyParts as _;
        let key_path = dir.join("oidc-signing.key");
        let pkcs8 = match std::fs::read(&key_path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048)
                    .map_err(|_| Error::Signing)?;
                let der = key.to_pkcs8_der().map_err(|_| Error::Signing)?;
                crate::store::create_private(&key_path, der.as_bytes())?
            }
            Err(e) => return Err(Error::io("reading", &key_path, e)),
        };
        let corrupt = || Error::CorruptKey(key_path.display().to_string());
        let key = RsaKeyPair::from_pkcs8(&pkcs8).map_err(|_| corrupt())?;
        let public = rsa::RsaPrivateKey::from_pkcs8_der(&pkcs8)
            .map_err(|_| corrupt())?
            .to_public_key();
        let n = B64URL.encode(public.n().to_bytes_be());
        let e = B64URL.encode(public.e().to_bytes_be());
        // RFC 7638 JWK thumbprint as the key id.
        let thumb_input = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
        let kid = B64URL.encode(ring::digest::digest(
            &ring::digest::SHA256,
            thumb_input.as_bytes(),
        ));
        let jwk = json!({ "kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid, "n": n, "e": e });

        let hmac_path = dir.join("oidc-request.key");
        let secret = match std::fs::read(&hmac_path) {
            Ok(b) if b.len() == 32 => b,
            Ok(_) => return Err(Error::CorruptKey(hmac_path.display().to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut b = vec![0u8; 32];
                SystemRandom::new()
                    .fill(&mut b)
                    .map_err(|_| Error::Signing)?;
                let stored = crate::store::create_private(&hmac_path, &b)?;
                if stored.len() != 32 {
                    return Err(Error::CorruptKey(hmac_path.display().to_string()));
                }
                stored
            }
            Err(e) => return Err(Error::io("reading", &hmac_path, e)),
        };
        let settings = match std::fs::read(dir.join("oidc.json")) {
            Ok(b) => serde_json::from_slice(&b).ok(),
            Err(_) => None,
        };
        Ok(DevIssuer {
            dir: dir.to_path_buf(),
            key,
            kid,
            jwk,
            request_key: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &secret),
            rng: SystemRandom::new(),
            settings: std::sync::RwLock::new(settings),
        })
    }

    /// Records where the server runs and which `iss` it mints (written to `DIR/oidc.json`).
    pub fn set_settings(&self, settings: IssuerSettings) -> Result<(), Error> {
        let text =
            serde_json::to_vec_pretty(&settings).map_err(|e| Error::Config(e.to_string()))?;
        crate::store::write_public(&self.dir.join("oidc.json"), &text)?;
        if let Ok(mut s) = self.settings.write() {
            *s = Some(settings);
        }
        Ok(())
    }

    /// The recorded settings, if a server has run on this directory.
    pub fn settings(&self) -> Option<IssuerSettings> {
        self.settings.read().ok().and_then(|s| s.clone())
    }

    /// The public JWK set.
    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.jwk] })
    }

    /// Signs `claims` as an RS256 JWT.
    pub fn mint(&self, claims: &Map<String, Value>) -> Result<String, Error> {
        let header = json!({ "alg": "RS256", "typ": "JWT", "kid": self.kid });
        let enc = |v: &dyn erased_json::Json| v.to_b64();
        let signing_input = format!("{}.{}", enc(&header), enc(claims));
        let mut sig = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &self.rng,
                signing_input.as_bytes(),
                &mut sig,
            )
            .map_err(|_| Error::Signing)?;
        Ok(format!("{signing_input}.{}", B64URL.encode(sig)))
    }

    /// An email-identity token (`email`, `email_verified`, `sub` = the address).
    pub fn mint_email(&self, issuer: &str, email: &str, audience: &str) -> Result<String, Error> {
        let now = now_secs();
        let claims = json!({
            "iss": issuer, "sub": email, "aud": audience, "email": email, "email_verified": true,
            "iat": now, "nbf": now - 5, "exp": now + TOKEN_TTL_SECS, "jti": random_id(),
        });
        match claims {
            Value::Object(m) => self.mint(&m),
            _ => Err(Error::Signing),
        }
    }

    /// A GitHub Actions token for `profile`.
    pub fn mint_github(
        &self,
        issuer: &str,
        profile: &WorkflowProfile,
        audience: &str,
    ) -> Result<String, Error> {
        self.mint(&profile.claims(issuer, audience, now_secs()))
    }

    /// The `ACTIONS_ID_TOKEN_REQUEST_TOKEN` for a profile.
    /// Valid for [`REQUEST_TOKEN_TTL_SECS`], like a job's request token, which GitHub revokes
    /// when the job ends.
    pub fn request_token(&self, profile: &WorkflowProfile) -> Result<String, Error> {
        let grant = RequestGrant {
            profile: profile.clone(),
            exp: now_secs() + REQUEST_TOKEN_TTL_SECS,
        };
        let body =
            B64URL.encode(serde_json::to_vec(&grant).map_err(|e| Error::Config(e.to_string()))?);
        let tag = ring::hmac::sign(&self.request_key, body.as_bytes());
        Ok(format!("{body}.{}", B64URL.encode(tag.as_ref())))
    }

    /// The profile of a request token, if its MAC verifies and it has not expired.
    pub fn open_request_token(&self, token: &str) -> Option<WorkflowProfile> {
        let (body, tag) = token.split_once('.')?;
        let tag = B64URL.decode(tag).ok()?;
        ring::hmac::verify(&self.request_key, body.as_bytes(), &tag).ok()?;
        let grant: RequestGrant = serde_json::from_slice(&B64URL.decode(body).ok()?).ok()?;
        (grant.exp > now_secs()).then_some(grant.profile)
    }
}

mod erased_json {
    use base64::Engine as _;
    /// base64url of a JSON value (header or claims); serializing a `Value` cannot fail.
    pub trait Json {
        fn to_b64(&self) -> String;
    }
    impl<T: serde::Serialize> Json for T {
        fn to_b64(&self) -> String {
            super::B64URL.encode(serde_json::to_vec(self).unwrap_or_default())
        }
    }
}

/// The issuer's HTTP routes.
pub fn router(issuer: Arc<DevIssuer>) -> Router {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/.well-known/jwks", get(jwks))
        .route("/token", get(token))
        .with_state(issuer)
}

fn current(issuer: &DevIssuer) -> Result<IssuerSettings, Error> {
    issuer
        .settings()
        .ok_or_else(|| Error::Config("issuer settings not recorded".into()))
}

async fn discovery(State(issuer): State<Arc<DevIssuer>>) -> Result<Json<Value>, Error> {
    let s = current(&issuer)?;
    Ok(Json(json!({
        "issuer": s.issuer,
        "jwks_uri": format!("{}/.well-known/jwks", s.url),
        "subject_types_supported": ["public", "pairwise"],
        "response_types_supported": ["id_token"],
        "claims_supported": ["sub", "aud", "exp", "iat", "iss", "jti", "nbf", "ref", "sha", "repository",
            "repository_id", "repository_owner", "repository_owner_id", "run_id", "run_number", "run_attempt",
            "actor", "actor_id", "workflow", "workflow_ref", "workflow_sha", "head_ref", "base_ref",
            "event_name", "ref_type", "environment", "job_workflow_ref", "job_workflow_sha",
            "repository_visibility", "runner_environment", "email", "email_verified"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid"],
    })))
}

async fn jwks(State(issuer): State<Arc<DevIssuer>>) -> Json<Value> {
    Json(issuer.jwks())
}

#[derive(Deserialize)]
struct TokenQuery {
    audience: Option<String>,
}

async fn token(
    State(issuer): State<Arc<DevIssuer>>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Response {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_owned());
    let Some(profile) = bearer.as_deref().and_then(|t| issuer.open_request_token(t)) else {
        return Error::Token(
            "the request token (ACTIONS_ID_TOKEN_REQUEST_TOKEN) is missing or not from this issuer",
        )
        .into_response();
    };
    let result = current(&issuer).and_then(|s| {
        // GitHub's default audience is the owner's URL; sigstore clients ask for `sigstore`.
        let aud = q
            .audience
            .unwrap_or_else(|| format!("https://github.com/{}", profile.owner()));
        issuer.mint_github(&s.issuer, &profile, &aud)
    });
    match result {
        Ok(jwt) => Json(json!({ "count": 1, "value": jwt })).into_response(),
        Err(e) => e.into_response(),
    }
}
