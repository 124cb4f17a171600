//! Shared set-up of sigil-ca's integration tests: a GitHub-style and an email dev issuer, a CA
//! trusting both, on loopback sockets; client keys and request bodies.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

use std::sync::Arc;

use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_ASN1_SIGNING};
use serde_json::{json, Value};
use sigil_ca::{CaConfig, DevIssuer, IssuerSettings, ServerHandle, WorkflowProfile};
use x509_cert::Certificate;

pub const GITHUB: &str = "https://token.actions.githubusercontent.com";

pub struct Stack {
    pub _dir: tempfile::TempDir,
    pub gh: Arc<DevIssuer>,
    pub email: Arc<DevIssuer>,
    pub email_iss: String,
    pub ca: ServerHandle,
    pub ca_state: sigil_ca::CaState,
    pub _servers: Vec<ServerHandle>,
    pub http: reqwest::Client,
}

pub async fn issuer_server(
    dir: &std::path::Path,
    iss: Option<&str>,
) -> (Arc<DevIssuer>, ServerHandle, String) {
    let issuer = Arc::new(DevIssuer::open(dir).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let handle = sigil_ca::spawn(listener, sigil_ca::issuer_router(issuer.clone())).unwrap();
    let iss = iss.map(str::to_owned).unwrap_or_else(|| handle.url());
    issuer
        .set_settings(IssuerSettings {
            issuer: iss.clone(),
            url: handle.url(),
        })
        .unwrap();
    (issuer, handle, iss)
}

pub async fn stack() -> Stack {
    let dir = tempfile::tempdir().unwrap();
    let (gh, gh_srv, _) = issuer_server(&dir.path().join("oidc-gh"), Some(GITHUB)).await;
    let (email, email_srv, email_iss) = issuer_server(&dir.path().join("oidc-email"), None).await;
    let config = CaConfig::from_yaml(&format!(
        r#"
oidc-issuers:
  {GITHUB}:
    issuer-url: {GITHUB}
    client-id: sigstore
    type: github-workflow
    discovery-url: {gh_url}/.well-known/openid-configuration
  {email_iss}:
    issuer-url: {email_iss}
    client-id: sigstore
    type: email
"#,
        gh_url = gh_srv.url()
    ))
    .unwrap();
    let ca_state = sigil_ca::open_ca(&dir.path().join("ca"), &config).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ca = sigil_ca::spawn(listener, sigil_ca::router(ca_state.clone())).unwrap();
    Stack {
        _dir: dir,
        gh,
        email,
        email_iss,
        ca,
        ca_state,
        _servers: vec![gh_srv, email_srv],
        http: reqwest::Client::new(),
    }
}

pub fn profile() -> WorkflowProfile {
    WorkflowProfile::new(
        "octo/hello",
        ".github/workflows/release.yml",
        "refs/tags/v1.2.3",
        None,
        "push",
    )
    .unwrap()
}

pub struct Key {
    pub pair: EcdsaKeyPair,
    pub rng: SystemRandom,
}

impl Key {
    pub fn new() -> Self {
        let rng = SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, doc.as_ref(), &rng).unwrap();
        Key { pair, rng }
    }
    pub fn pem(&self) -> String {
        let mut spki = hex::decode("3059301306072a8648ce3d020106082a8648ce3d030107034200").unwrap();
        spki.extend_from_slice(self.pair.public_key().as_ref());
        pem::encode(&pem::Pem::new("PUBLIC KEY", spki))
    }
    pub fn sign(&self, msg: &str) -> String {
        B64.encode(self.pair.sign(&self.rng, msg.as_bytes()).unwrap().as_ref())
    }
}

pub fn key_request(token: &str, key: &Key, signed: &str) -> Value {
    json!({
        "credentials": {"oidcIdentityToken": token},
        "publicKeyRequest": {"publicKey": {"algorithm": "ECDSA", "content": key.pem()}, "proofOfPossession": key.sign(signed)}
    })
}

impl Stack {
    pub async fn post(&self, body: &Value) -> (u16, Value) {
        let resp = self
            .http
            .post(format!("{}/api/v2/signingCert", self.ca.url()))
            .json(body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub fn github_token(&self, p: &WorkflowProfile) -> String {
        self.gh.mint_github(GITHUB, p, "sigstore").unwrap()
    }

    pub async fn refused(&self, body: &Value, status: u16, needle: &str) {
        let (got, resp) = self.post(body).await;
        let msg = resp["message"].as_str().unwrap_or_default().to_owned();
        assert_eq!(got, status, "{msg}");
        assert!(msg.contains(needle), "message `{msg}` lacks `{needle}`");
        assert!(
            self.ca_state
                .ct_log
                .as_ref()
                .unwrap()
                .entries()
                .unwrap()
                .is_empty(),
            "something was logged"
        );
    }
}

pub fn chain_of(resp: &Value) -> Vec<Vec<u8>> {
    resp["signedCertificateEmbeddedSct"]["chain"]["certificates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| pem::parse(p.as_str().unwrap()).unwrap().into_contents())
        .collect()
}

pub fn ext<'a>(cert: &'a Certificate, oid: &str) -> Option<&'a x509_cert::ext::Extension> {
    cert.tbs_certificate
        .extensions
        .as_deref()
        .unwrap_or_default()
        .iter()
        .find(|e| e.extn_id.to_string() == oid)
}

pub fn forge(header: Value, claims: &Value, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
    let input = format!(
        "{}.{}",
        B64URL.encode(serde_json::to_vec(&header).unwrap()),
        B64URL.encode(serde_json::to_vec(claims).unwrap())
    );
    let sig = sign(input.as_bytes());
    format!("{input}.{}", B64URL.encode(sig))
}

pub fn claims_of(jwt: &str) -> Value {
    serde_json::from_slice(&B64URL.decode(jwt.split('.').nth(1).unwrap()).unwrap()).unwrap()
}
