//! The HTTP API: Fulcio v2 (`/api/v2/signingCert`, `/api/v2/trustBundle`,
//! `/api/v2/configuration`, v1 `/api/v1/rootCert`) and the RFC 6962 §4 routes of the embedded
//! CT log (`/ct/v1/add-pre-chain`, `get-roots`, `get-sth`, `get-sth-consistency`,
//! `get-proof-by-hash`, `get-entries`). Fulcio's shapes follow fulcio `fulcio.proto` through
//! grpc-gateway (camelCase JSON, bytes as base64).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use der::{Decode, Encode};
use serde::Deserialize;
use serde_json::json;
use x509_cert::request::CertReq;

use crate::authority::{to_pem, Authority};
use crate::config::IssuerKind;
use crate::ct::{AddChainRequest, CtLog};
use crate::keys::SubjectKey;
use crate::verify::TokenVerifier;
use crate::Error;

/// Largest request body accepted (a CSR with an RSA-4096 key and a token fit in a few KB).
pub const MAX_BODY: usize = 64 * 1024;

/// What the CA's routes share.
#[derive(Debug, Clone)]
pub struct CaState {
    pub authority: Arc<Authority>,
    pub verifier: TokenVerifier,
    /// The embedded CT log, if this CA serves one.
    pub ct_log: Option<Arc<CtLog>>,
}

/// The CA's router: Fulcio's API, plus the CT log's when it is embedded.
pub fn router(state: CaState) -> Router {
    let ct = state.ct_log.clone();
    let r = Router::new()
        .route("/api/v2/signingCert", post(signing_cert))
        .route("/api/v2/trustBundle", get(trust_bundle))
        .route("/api/v2/configuration", get(configuration))
        .route("/api/v1/rootCert", get(root_cert))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state);
    match ct {
        Some(log) => r.merge(ct_router(log)),
        None => r,
    }
}

/// The RFC 6962 routes of a CT log alone (`/ct/v1/…`), to serve a log without a CA or to
/// embed it elsewhere.
pub fn ct_router(log: Arc<CtLog>) -> Router {
    Router::new()
        .route("/ct/v1/add-pre-chain", post(add_pre_chain))
        .route("/ct/v1/get-roots", get(get_roots))
        .route("/ct/v1/get-sth", get(get_sth))
        .route("/ct/v1/get-sth-consistency", get(get_sth_consistency))
        .route("/ct/v1/get-proof-by-hash", get(get_proof_by_hash))
        .route("/ct/v1/get-entries", get(get_entries))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(log)
}

type Body = Result<Bytes, axum::extract::rejection::BytesRejection>;

/// The body, or a JSON error: axum's length limit answers 413 in plain text otherwise.
fn read_body(body: Body) -> Result<Bytes, Error> {
    match body {
        Ok(b) if b.len() <= MAX_BODY => Ok(b),
        Ok(_) => Err(Error::TooLarge(MAX_BODY)),
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(Error::TooLarge(MAX_BODY)),
        Err(e) => Err(Error::MalformedRequest(e.body_text())),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SigningCertRequest {
    #[serde(default)]
    credentials: Option<Credentials>,
    #[serde(default)]
    public_key_request: Option<PublicKeyRequest>,
    #[serde(default)]
    certificate_signing_request: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Credentials {
    #[serde(default)]
    oidc_identity_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PublicKeyRequest {
    public_key: PublicKey,
    proof_of_possession: String,
}

#[derive(Deserialize)]
struct PublicKey {
    // `algorithm` is ignored, as Fulcio does: the key says what it is.
    content: String,
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

async fn signing_cert(
    State(state): State<CaState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Error> {
    let body = read_body(body)?;
    let req: SigningCertRequest = serde_json::from_slice(&body)
        .map_err(|e| Error::MalformedRequest(format!("request body: {e}")))?;
    let token = bearer(&headers)
        .or_else(|| req.credentials.and_then(|c| c.oidc_identity_token))
        .ok_or(Error::Unauthenticated)?;

    // Parse the key before the token: a malformed request is refused without network work.
    enum Proof {
        Signature(Vec<u8>),
        Csr,
    }
    let (key, proof) = match (req.public_key_request, req.certificate_signing_request) {
        (Some(pkr), None) => {
            let key = SubjectKey::from_pem(&pkr.public_key.content)?;
            let sig = B64
                .decode(pkr.proof_of_possession.trim())
                .map_err(|_| Error::MalformedRequest("proofOfPossession is not base64".into()))?;
            (key, Proof::Signature(sig))
        }
        (None, Some(csr)) => (parse_csr(&csr)?, Proof::Csr),
        (Some(_), Some(_)) => {
            return Err(Error::MalformedRequest(
                "give either publicKeyRequest or certificateSigningRequest, not both".into(),
            ))
        }
        (None, None) => {
            return Err(Error::MalformedRequest(
                "missing publicKeyRequest or certificateSigningRequest".into(),
            ))
        }
    };

    let verified = state.verifier.verify(&token).await?;
    let principal = crate::principal::principal(&verified.issuer, &verified.claims)?;
    if let Proof::Signature(sig) = proof {
        if !key.verify_proof(principal.challenge.as_bytes(), &sig) {
            return Err(Error::ProofOfPossession {
                challenge: principal.challenge,
            });
        }
    }
    let issued = state.authority.issue(&principal, &key).await?;
    let mut certificates = vec![to_pem(&issued.leaf)];
    certificates.extend(issued.chain.iter().map(|c| to_pem(c)));
    let body =
        json!({ "signedCertificateEmbeddedSct": { "chain": { "certificates": certificates } } });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// A CSR arrives as base64 of its PEM (sigstore-go, cosign); raw base64 DER is accepted too.
/// Its self-signature is the proof of possession.
fn parse_csr(text: &str) -> Result<SubjectKey, Error> {
    let decoded = B64
        .decode(text.trim())
        .map_err(|_| Error::MalformedRequest("certificateSigningRequest is not base64".into()))?;
    let der = match pem::parse(&decoded) {
        Ok(block)
            if block.tag() == "CERTIFICATE REQUEST" || block.tag() == "NEW CERTIFICATE REQUEST" =>
        {
            block.into_contents()
        }
        Ok(block) => {
            return Err(Error::MalformedRequest(format!(
                "PEM type `{}` (expected CERTIFICATE REQUEST)",
                block.tag()
            )))
        }
        Err(_) => decoded,
    };
    let csr = CertReq::from_der(&der).map_err(Error::Csr)?;
    let spki = csr.info.public_key.to_der().map_err(Error::Csr)?;
    let key = SubjectKey::from_spki(&spki)?;
    let info = csr.info.to_der().map_err(Error::Csr)?;
    let sig = csr.signature.as_bytes().ok_or(Error::CsrSignature)?;
    if !key.verify_with_algorithm(&csr.algorithm.oid, &info, sig) {
        return Err(Error::CsrSignature);
    }
    Ok(key)
}

async fn trust_bundle(State(state): State<CaState>) -> Json<serde_json::Value> {
    let certs: Vec<String> = state
        .authority
        .chain_der()
        .iter()
        .map(|c| to_pem(c))
        .collect();
    Json(json!({ "chains": [ { "certificates": certs } ] }))
}

async fn root_cert(State(state): State<CaState>) -> Response {
    let pems: String = state
        .authority
        .chain_der()
        .iter()
        .map(|c| to_pem(c))
        .collect();
    (
        [(header::CONTENT_TYPE, "application/pem-certificate-chain")],
        pems,
    )
        .into_response()
}

async fn configuration(State(state): State<CaState>) -> Json<serde_json::Value> {
    let issuers: Vec<_> = state
        .verifier
        .issuers()
        .map(|i| {
            let challenge = if i.kind == IssuerKind::Email { "email" } else { "sub" };
            let mut v = json!({ "issuerUrl": i.issuer_url, "audience": i.client_id, "challengeClaim": challenge });
            if let (Some(td), Some(obj)) = (&i.spiffe_trust_domain, v.as_object_mut()) {
                obj.insert("spiffeTrustDomain".into(), json!(td));
            }
            v
        })
        .collect();
    Json(json!({ "issuers": issuers }))
}

async fn add_pre_chain(State(log): State<Arc<CtLog>>, body: Body) -> Result<Response, Error> {
    let body = read_body(body)?;
    let req: AddChainRequest = serde_json::from_slice(&body)
        .map_err(|e| Error::MalformedRequest(format!("request body: {e}")))?;
    Ok(Json(log.add_pre_chain_json(&req).await?).into_response())
}

/// RFC 6962 query parameters are decimal integers (and `hash` base64, which may contain `+`).
fn param<T: std::str::FromStr>(
    q: &HashMap<String, String>,
    name: &'static str,
) -> Result<T, Error> {
    q.get(name)
        .ok_or_else(|| Error::MalformedRequest(format!("missing query parameter `{name}`")))?
        .parse()
        .map_err(|_| Error::MalformedRequest(format!("query parameter `{name}` is not a number")))
}

async fn get_sth(State(log): State<Arc<CtLog>>) -> Result<Json<crate::ct::SignedTreeHead>, Error> {
    Ok(Json(log.signed_tree_head()?))
}

async fn get_sth_consistency(
    State(log): State<Arc<CtLog>>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<serde_json::Value>, Error> {
    let proof = log.consistency(param(&q, "first")?, param(&q, "second")?)?;
    Ok(Json(json!({ "consistency": proof })))
}

async fn get_proof_by_hash(
    State(log): State<Arc<CtLog>>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<serde_json::Value>, Error> {
    let hash = q
        .get("hash")
        .ok_or_else(|| Error::MalformedRequest("missing query parameter `hash`".into()))?;
    // A `+` in base64 arrives as a space when the client did not escape it.
    let hash = B64
        .decode(hash.replace(' ', "+"))
        .map_err(|_| Error::MalformedRequest("query parameter `hash` is not base64".into()))?;
    let (index, path) = log.proof_by_hash(&hash, param(&q, "tree_size")?)?;
    Ok(Json(json!({ "leaf_index": index, "audit_path": path })))
}

async fn get_entries(
    State(log): State<Arc<CtLog>>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<serde_json::Value>, Error> {
    let leaves = log.leaves(param(&q, "start")?, param(&q, "end")?)?;
    let entries: Vec<_> = leaves
        .iter()
        .map(|l| json!({ "leaf_input": B64.encode(l), "extra_data": "" }))
        .collect();
    Ok(Json(json!({ "entries": entries })))
}

async fn get_roots(State(log): State<Arc<CtLog>>) -> Json<serde_json::Value> {
    let roots: Vec<String> = log.roots().iter().map(|r| B64.encode(r)).collect();
    Json(json!({ "certificates": roots }))
}

impl CaState {
    /// The parts of a Sigstore `trusted_root.json` (protobuf-specs `TrustedRoot`) this CA
    /// contributes: `certificateAuthorities` (intermediate then root) and `ctlogs` (the
    /// embedded log, if any). `url` is where clients reach the CA.
    pub fn trust_root_fragment(&self, url: &str) -> serde_json::Value {
        let root = x509_cert::Certificate::from_der(self.authority.root_der()).ok();
        let start = root
            .map(|c| c.tbs_certificate.validity.not_before.to_date_time())
            .and_then(|t| {
                time::OffsetDateTime::from_unix_timestamp(t.unix_duration().as_secs() as i64).ok()
            })
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_default();
        let chain: Vec<_> = self
            .authority
            .chain_der()
            .iter()
            .map(|c| json!({ "rawBytes": B64.encode(c) }))
            .collect();
        let ctlogs: Vec<_> = self
            .ct_log
            .iter()
            .map(|log| {
                json!({
                    "baseUrl": url,
                    "hashAlgorithm": "SHA2_256",
                    "publicKey": {
                        "rawBytes": B64.encode(log.public_key_spki()),
                        "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                        "validFor": { "start": start },
                    },
                    "logId": { "keyId": B64.encode(log.log_id()) },
                })
            })
            .collect();
        json!({
            "certificateAuthorities": [{
                "subject": { "organization": "sigil", "commonName": "sigil-root" },
                "uri": url,
                "certChain": { "certificates": chain },
                "validFor": { "start": start },
            }],
            "ctlogs": ctlogs,
        })
    }
}
