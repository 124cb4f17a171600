//! Proposed entries → canonical bodies, with the signature check Rekor makes before it
//! accepts an entry (rekor `pkg/types/{hashedrekord/v0.0.1,dsse/v0.0.1,intoto/v0.0.2}`).
//!
//! - hashedrekord 0.0.1: the signature is checked against the *digest* (ECDSA P-256/P-384 and
//!   RSA PKCS#1 v1.5 through [`PublicKey::verify_prehashed`], since ring only verifies whole
//!   messages). Rekor takes Ed25519 here only as Ed25519ph, which is refused with a clear
//!   error.
//! - dsse 0.0.1: every envelope signature must verify (PAE, ring) under one of `verifiers`;
//!   the stored body keeps the envelope and payload SHA-256 and the signatures sorted.
//! - intoto 0.0.2: the same check over `content.envelope` (payload and signatures are
//!   base64 of the already-base64 DSSE strings); the stored body drops the payload.
//!
//! Keys and certificates are stored re-encoded as PEM (`PUBLIC KEY` / `CERTIFICATE`), as
//! Rekor's `CanonicalValue` does. Index keys (for `/api/v1/index/retrieve`) follow Rekor's
//! `IndexKeys`: `sha256:<hex>` artifact/payload hashes, the hex SHA-256 of the key, and the
//! certificate's subject alternative names.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use der::{Decode, Encode};
use serde_json::{json, Map, Value};
use sha2::{Digest as _, Sha256};

use super::{jcs, RekorError};
use crate::keys::{KeyAlgorithm, PublicKey};

/// Payloads from this size on are checked on two threads ([`dsse`]).
const PARALLEL_FROM: usize = 1 << 20;

/// Public Rekor's cap on attestation-sized entries; the default body limit.
pub const DEFAULT_MAX_ENTRY_SIZE: usize = 128 * 1024;

/// The entry kinds this log accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EntryKind {
    HashedRekord,
    Dsse,
    Intoto,
}

impl EntryKind {
    pub fn name(self) -> &'static str {
        match self {
            EntryKind::HashedRekord => "hashedrekord",
            EntryKind::Dsse => "dsse",
            EntryKind::Intoto => "intoto",
        }
    }
}

/// An entry that passed validation: the canonical body to log and its search keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedEntry {
    pub kind: EntryKind,
    pub api_version: &'static str,
    /// RFC 8785 canonical JSON; the leaf data.
    pub body: Vec<u8>,
    /// Lowercased search keys (see the module docs).
    pub index_keys: Vec<String>,
}

/// Validates a proposed entry (the JSON a client POSTs) and returns its canonical body.
pub fn canonicalize_proposed(proposed: &Value) -> Result<AcceptedEntry, RekorError> {
    let kind = str_at(proposed, &["kind"])?;
    let version = str_at(proposed, &["apiVersion"])?;
    let spec = proposed
        .get("spec")
        .filter(|s| s.is_object())
        .ok_or(RekorError::Missing("spec"))?;
    match (kind, version) {
        ("hashedrekord", "0.0.1") => hashedrekord(spec),
        ("dsse", "0.0.1") => dsse(spec),
        ("intoto", "0.0.2") => intoto(spec),
        (k, v) => Err(RekorError::UnsupportedKind {
            kind: k.to_owned(),
            version: v.to_owned(),
        }),
    }
}

fn str_at<'a>(v: &'a Value, path: &[&'static str]) -> Result<&'a str, RekorError> {
    let mut cur = v;
    for p in path {
        cur = cur.get(*p).ok_or(RekorError::Missing(p))?;
    }
    cur.as_str()
        .ok_or_else(|| RekorError::Malformed(format!("`{}` is not a string", path.join("."))))
}

fn b64(s: &str, what: &str) -> Result<Vec<u8>, RekorError> {
    B64.decode(s)
        .map_err(|_| RekorError::Malformed(format!("{what} is not valid base64")))
}

fn finish(
    kind: EntryKind,
    api_version: &'static str,
    body: Value,
    index_keys: Vec<String>,
) -> Result<AcceptedEntry, RekorError> {
    finish_bytes(kind, api_version, jcs::canonicalize(&body)?, index_keys)
}

fn finish_bytes(
    kind: EntryKind,
    api_version: &'static str,
    body: Vec<u8>,
    mut index_keys: Vec<String>,
) -> Result<AcceptedEntry, RekorError> {
    for k in &mut index_keys {
        *k = k.to_ascii_lowercase();
    }
    index_keys.sort();
    index_keys.dedup();
    Ok(AcceptedEntry {
        kind,
        api_version,
        body,
        index_keys,
    })
}

fn hashedrekord(spec: &Value) -> Result<AcceptedEntry, RekorError> {
    let algorithm = str_at(spec, &["data", "hash", "algorithm"])?;
    let value = str_at(spec, &["data", "hash", "value"])?;
    check_hash(algorithm, value)?;
    let sig = str_at(spec, &["signature", "content"])?;
    let key = str_at(spec, &["signature", "publicKey", "content"])?;
    hashedrekord_fields(algorithm, value, sig, key)
}

/// The proposed hashedrekord shape, read straight from the request bytes.
#[derive(serde::Deserialize)]
struct ProposedHashedRekord<'a> {
    #[serde(borrow)]
    kind: std::borrow::Cow<'a, str>,
    #[serde(rename = "apiVersion", borrow)]
    api_version: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    spec: HashedRekordSpec<'a>,
}

#[derive(serde::Deserialize)]
struct HashedRekordSpec<'a> {
    #[serde(borrow)]
    data: HashedRekordData<'a>,
    #[serde(borrow)]
    signature: HashedRekordSignature<'a>,
}

#[derive(serde::Deserialize)]
struct HashedRekordData<'a> {
    #[serde(borrow)]
    hash: HashedRekordHash<'a>,
}

#[derive(serde::Deserialize)]
struct HashedRekordHash<'a> {
    #[serde(borrow)]
    algorithm: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    value: std::borrow::Cow<'a, str>,
}

#[derive(serde::Deserialize)]
struct HashedRekordSignature<'a> {
    #[serde(borrow)]
    content: std::borrow::Cow<'a, str>,
    #[serde(rename = "publicKey", borrow)]
    public_key: HashedRekordKey<'a>,
}

#[derive(serde::Deserialize)]
struct HashedRekordKey<'a> {
    #[serde(borrow)]
    content: std::borrow::Cow<'a, str>,
}

/// The common case of [`canonicalize_proposed`] without building a `serde_json::Value`: a
/// request that is exactly a hashedrekord 0.0.1 entry (every field present, as a string, no
/// duplicate members). `None` for anything else, including malformed JSON: the caller then
/// parses the request into a `Value` and calls [`canonicalize_proposed`], whose result and
/// errors are the reference. When this returns `Some`, the result is the same as
/// [`canonicalize_proposed`]'s on the same request.
pub fn canonicalize_proposed_slice(request: &[u8]) -> Option<Result<AcceptedEntry, RekorError>> {
    let p: ProposedHashedRekord<'_> = serde_json::from_slice(request).ok()?;
    if p.kind != "hashedrekord" || p.api_version != "0.0.1" {
        return None;
    }
    let h = &p.spec.data.hash;
    Some(check_hash(&h.algorithm, &h.value).and_then(|()| {
        hashedrekord_fields(
            &h.algorithm,
            &h.value,
            &p.spec.signature.content,
            &p.spec.signature.public_key.content,
        )
    }))
}

fn check_hash(algorithm: &str, value: &str) -> Result<(), RekorError> {
    let want_len = match algorithm {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        other => {
            return Err(RekorError::Malformed(format!(
                "unsupported hash algorithm `{other}`"
            )))
        }
    };
    if value.len() != want_len {
        return Err(RekorError::Malformed("invalid value for hash".into()));
    }
    Ok(())
}

/// A hashedrekord entry from its four fields (`check_hash` already passed).
fn hashedrekord_fields(
    algorithm: &str,
    value: &str,
    sig_b64: &str,
    key_b64: &str,
) -> Result<AcceptedEntry, RekorError> {
    let digest =
        hex::decode(value).map_err(|_| RekorError::Malformed("hash value is not hex".into()))?;
    let sig = b64(sig_b64, "signature content")?;
    if sig.is_empty() {
        return Err(RekorError::Missing("signature content"));
    }
    let verifier = Verifier::parse(&b64(key_b64, "public key content")?)?;
    verify_prehashed(&verifier.key, &digest, &sig)?;

    let canonical_key = verifier.canonical_pem.as_bytes();
    let mut keys = vec![
        hex::encode(Sha256::digest(canonical_key)),
        format!("{algorithm}:{value}"),
    ];
    keys.extend(verifier.subjects.iter().cloned());
    // The canonical (RFC 8785) body written directly, members in UTF-16 order:
    // {"apiVersion","kind","spec":{"data":{"hash":{"algorithm","value"}},
    //  "signature":{"content","publicKey":{"content"}}}}.
    let sig_b64 = B64.encode(&sig);
    let key_b64 = B64.encode(canonical_key);
    let mut body = Vec::with_capacity(160 + value.len() + sig_b64.len() + key_b64.len());
    body.extend_from_slice(
        br#"{"apiVersion":"0.0.1","kind":"hashedrekord","spec":{"data":{"hash":{"algorithm":"#,
    );
    jcs::write_string(algorithm, &mut body);
    body.extend_from_slice(br#","value":"#);
    jcs::write_string(value, &mut body);
    body.extend_from_slice(br#"}},"signature":{"content":"#);
    jcs::write_string(&sig_b64, &mut body);
    body.extend_from_slice(br#","publicKey":{"content":"#);
    jcs::write_string(&key_b64, &mut body);
    body.extend_from_slice(b"}}}}");
    finish_bytes(EntryKind::HashedRekord, "0.0.1", body, keys)
}

/// A DSSE envelope as clients send it.
#[derive(Debug, PartialEq)]
pub(super) struct Envelope {
    payload_type: String,
    payload: Vec<u8>,
    /// (base64 sig string as sent, decoded sig, keyid)
    signatures: Vec<(String, Vec<u8>, Option<String>)>,
}

pub(super) fn parse_envelope(v: &Value) -> Result<Envelope, RekorError> {
    let payload_type = str_at(v, &["payloadType"])?.to_owned();
    let payload = b64(str_at(v, &["payload"])?, "envelope payload")?;
    let sigs = v
        .get("signatures")
        .and_then(Value::as_array)
        .ok_or(RekorError::Missing("envelope signatures"))?;
    if sigs.is_empty() {
        return Err(RekorError::Missing("envelope signatures"));
    }
    let mut signatures = Vec::with_capacity(sigs.len());
    for s in sigs {
        let sig_b64 = str_at(s, &["sig"])?.to_owned();
        let sig = b64(&sig_b64, "envelope signature")?;
        let keyid = s.get("keyid").and_then(Value::as_str).map(str::to_owned);
        signatures.push((sig_b64, sig, keyid));
    }
    Ok(Envelope {
        payload_type,
        payload,
        signatures,
    })
}

/// [`parse_envelope`] of envelope JSON text without building a `serde_json::Value` (whose
/// payload string would be a copy of a multi-MiB attestation): the strings are borrowed from
/// the text. `None` for anything it does not take as written (a field missing, of another
/// type or repeated, bad base64): [`parse_envelope`] then decides, with its errors.
pub(super) fn parse_envelope_text(text: &str) -> Option<Envelope> {
    use std::borrow::Cow;
    #[derive(serde::Deserialize)]
    struct Raw<'a> {
        #[serde(rename = "payloadType", borrow)]
        payload_type: Cow<'a, str>,
        #[serde(borrow)]
        payload: Cow<'a, str>,
        #[serde(borrow)]
        signatures: Vec<RawSignature<'a>>,
    }
    #[derive(serde::Deserialize)]
    struct RawSignature<'a> {
        #[serde(borrow)]
        sig: Cow<'a, str>,
        #[serde(default, borrow)]
        keyid: Option<Cow<'a, str>>,
    }
    let raw: Raw<'_> = serde_json::from_str(text).ok()?;
    if raw.signatures.is_empty() {
        return None;
    }
    let mut signatures = Vec::with_capacity(raw.signatures.len());
    for s in raw.signatures {
        let sig = B64.decode(s.sig.as_bytes()).ok()?;
        signatures.push((s.sig.into_owned(), sig, s.keyid.map(Cow::into_owned)));
    }
    Some(Envelope {
        payload_type: raw.payload_type.into_owned(),
        payload: B64.decode(raw.payload.as_bytes()).ok()?,
        signatures,
    })
}

/// DSSE v1 pre-authentication encoding.
fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {} {} ",
        payload_type.len(),
        payload_type,
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// Matches every envelope signature to a verifier that verifies it (Rekor's
/// `verifyEnvelope`: all signatures must be covered). Returns the verifier index per signature.
fn verify_envelope(env: &Envelope, verifiers: &[Verifier]) -> Result<Vec<usize>, RekorError> {
    let msg = pae(&env.payload_type, &env.payload);
    env.signatures
        .iter()
        .map(|(_, sig, _)| {
            verifiers
                .iter()
                .position(|v| v.key.verify(&msg, sig).is_ok())
                .ok_or_else(|| {
                    RekorError::BadSignature(
                        "all signatures must have a key that verifies it".into(),
                    )
                })
        })
        .collect()
}

/// Index keys from an in-toto statement's subjects (Rekor indexes `alg:digest` of each).
fn statement_keys(env: &Envelope, keys: &mut Vec<String>) {
    if env.payload_type != "application/vnd.in-toto+json" {
        return;
    }
    // Only the subjects are read: the predicate (a multi-MiB SBOM) is skipped, not built.
    #[derive(serde::Deserialize)]
    struct Subjects {
        #[serde(default)]
        subject: Vec<Subject>,
    }
    #[derive(serde::Deserialize)]
    struct Subject {
        #[serde(default)]
        digest: serde_json::Map<String, Value>,
    }
    let Ok(stmt) = serde_json::from_slice::<Subjects>(&env.payload) else {
        return;
    };
    for s in stmt.subject {
        for (alg, v) in s.digest {
            if let Some(v) = v.as_str() {
                keys.push(format!("{alg}:{v}"));
            }
        }
    }
}

fn dsse(spec: &Value) -> Result<AcceptedEntry, RekorError> {
    let proposed = spec
        .get("proposedContent")
        .ok_or(RekorError::Missing("proposedContent"))?;
    // Rekor decodes into Go structs, where `null` and `[]` are the same as absent
    // (sigstore-python sends `"signatures": null`).
    let present = |k: &str| match spec.get(k) {
        None | Some(Value::Null) => false,
        Some(Value::Array(a)) => !a.is_empty(),
        Some(_) => true,
    };
    if present("envelopeHash") || present("payloadHash") || present("signatures") {
        return Err(RekorError::Malformed(
            "either proposedContent or envelopeHash, payloadHash, and signatures must be present but not both".into(),
        ));
    }
    let envelope_text = str_at(proposed, &["envelope"])?;
    let env = match parse_envelope_text(envelope_text) {
        Some(env) => env,
        None => {
            let envelope: Value = serde_json::from_str(envelope_text)
                .map_err(|e| RekorError::Malformed(format!("envelope is not JSON: {e}")))?;
            parse_envelope(&envelope)?
        }
    };
    let verifiers = proposed
        .get("verifiers")
        .and_then(Value::as_array)
        .ok_or(RekorError::Missing("verifiers"))?
        .iter()
        .map(|v| {
            let s = v
                .as_str()
                .ok_or_else(|| RekorError::Malformed("verifier is not a string".into()))?;
            Verifier::parse(&b64(s, "verifier")?)
        })
        .collect::<Result<Vec<_>, _>>()?;
    if verifiers.is_empty() {
        return Err(RekorError::Missing("verifiers"));
    }
    // The payload's hash and the statement's subjects (a pass over the payload each) are read
    // on a second thread for a large envelope, while this one checks the signatures and hashes
    // the envelope: an attestation carrying an SBOM is many MiB.
    let payload_side = || {
        let mut keys = Vec::new();
        statement_keys(&env, &mut keys);
        (hex::encode(Sha256::digest(&env.payload)), keys)
    };
    let main_side = || {
        (
            verify_envelope(&env, &verifiers),
            hex::encode(Sha256::digest(envelope_text.as_bytes())),
        )
    };
    let ((payload_hash, statement_keys), (matched, envelope_hash)) =
        if env.payload.len() >= PARALLEL_FROM {
            crate::threads::join("dsse-payload", payload_side, main_side)
        } else {
            (payload_side(), main_side())
        };
    let matched = matched?;
    let mut sigs: Vec<(String, &Verifier)> = Vec::new();
    for ((sig_b64, _, _), vi) in env.signatures.iter().zip(&matched) {
        if let Some(v) = verifiers.get(*vi) {
            if !sigs.iter().any(|(s, _)| s == sig_b64) {
                sigs.push((sig_b64.clone(), v));
            }
        }
    }
    sigs.sort_by(|a, b| a.0.cmp(&b.0));
    let mut keys = vec![
        format!("sha256:{payload_hash}"),
        format!("sha256:{envelope_hash}"),
    ];
    keys.extend(statement_keys);
    for (_, v) in &sigs {
        keys.push(format!(
            "sha256:{}",
            hex::encode(Sha256::digest(v.canonical_pem.as_bytes()))
        ));
        keys.extend(v.subjects.iter().cloned());
    }
    let signatures: Vec<Value> = sigs
        .iter()
        .map(|(s, v)| json!({"signature": s, "verifier": B64.encode(v.canonical_pem.as_bytes())}))
        .collect();
    let body = json!({
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {
            "envelopeHash": {"algorithm": "sha256", "value": envelope_hash},
            "payloadHash": {"algorithm": "sha256", "value": payload_hash},
            "signatures": signatures,
        },
    });
    finish(EntryKind::Dsse, "0.0.1", body, keys)
}

fn intoto(spec: &Value) -> Result<AcceptedEntry, RekorError> {
    let content = spec.get("content").ok_or(RekorError::Missing("content"))?;
    let raw_env = content
        .get("envelope")
        .ok_or(RekorError::Missing("content.envelope"))?;
    let payload_type = str_at(raw_env, &["payloadType"])?;
    // intoto 0.0.2 wraps the DSSE strings in one more layer of base64.
    let payload_b64 =
        String::from_utf8(b64(str_at(raw_env, &["payload"])?, "envelope payload")?)
            .map_err(|_| RekorError::Malformed("envelope payload is not base64 text".into()))?;
    let sigs = raw_env
        .get("signatures")
        .and_then(Value::as_array)
        .ok_or(RekorError::Missing("envelope signatures"))?;
    let mut verifiers = Vec::new();
    let mut dsse_sigs = Vec::new();
    for s in sigs {
        let sig_b64 = String::from_utf8(b64(str_at(s, &["sig"])?, "signature")?)
            .map_err(|_| RekorError::Malformed("signature is not base64 text".into()))?;
        let pk = Verifier::parse(&b64(str_at(s, &["publicKey"])?, "publicKey")?)?;
        let keyid = s.get("keyid").and_then(Value::as_str).map(str::to_owned);
        dsse_sigs.push(json!({"sig": sig_b64, "keyid": keyid}));
        verifiers.push(pk);
    }
    let env = parse_envelope(&json!({
        "payloadType": payload_type,
        "payload": payload_b64,
        "signatures": dsse_sigs,
    }))?;
    verify_envelope(&env, &verifiers)?;
    let hash = content
        .get("hash")
        .ok_or(RekorError::Missing("content.hash"))?;
    let hash_alg = str_at(hash, &["algorithm"])?;
    let hash_value = str_at(hash, &["value"])?;
    if hash_alg != "sha256" || hash_value.len() != 64 || hex::decode(hash_value).is_err() {
        return Err(RekorError::Malformed(
            "content.hash must be a sha256 hex digest".into(),
        ));
    }
    let payload_hash = hex::encode(Sha256::digest(&env.payload));
    let mut stored_sigs = Vec::new();
    let mut keys = vec![
        format!("sha256:{payload_hash}"),
        format!("sha256:{hash_value}"),
    ];
    for ((sig_b64, _, keyid), v) in env.signatures.iter().zip(&verifiers) {
        let mut o = Map::new();
        if let Some(k) = keyid.as_deref().filter(|k| !k.is_empty()) {
            o.insert("keyid".into(), Value::String(k.to_owned()));
        }
        o.insert(
            "publicKey".into(),
            Value::String(B64.encode(v.canonical_pem.as_bytes())),
        );
        o.insert("sig".into(), Value::String(B64.encode(sig_b64.as_bytes())));
        stored_sigs.push(Value::Object(o));
        keys.push(format!(
            "sha256:{}",
            hex::encode(Sha256::digest(v.canonical_pem.as_bytes()))
        ));
        keys.extend(v.subjects.iter().cloned());
    }
    statement_keys(&env, &mut keys);
    let body = json!({
        "apiVersion": "0.0.2",
        "kind": "intoto",
        "spec": {
            "content": {
                "envelope": {"payloadType": payload_type, "signatures": stored_sigs},
                "hash": {"algorithm": "sha256", "value": hash_value},
                "payloadHash": {"algorithm": "sha256", "value": payload_hash},
            },
        },
    });
    finish(EntryKind::Intoto, "0.0.2", body, keys)
}

/// The PEM a key or certificate is stored as (Rekor's `CanonicalValue`), for searching by
/// public key: the hex SHA-256 of this is the index key of entries signed with it.
pub fn canonical_verifier_pem(pem_bytes: &[u8]) -> Result<String, RekorError> {
    Verifier::parse(pem_bytes).map(|v| v.canonical_pem)
}

/// A public key or certificate given in an entry.
struct Verifier {
    key: PublicKey,
    /// PEM as Rekor re-encodes it.
    canonical_pem: String,
    /// Subject alternative names of a certificate (emails, URIs, DNS names).
    subjects: Vec<String>,
}

impl Verifier {
    fn parse(pem_bytes: &[u8]) -> Result<Verifier, RekorError> {
        let block =
            pem::parse(pem_bytes).map_err(|e| RekorError::InvalidKey(format!("not PEM: {e}")))?;
        match block.tag() {
            "CERTIFICATE" => {
                let cert = x509_cert::Certificate::from_der(block.contents())
                    .map_err(|e| RekorError::InvalidKey(format!("malformed certificate: {e}")))?;
                let spki = cert
                    .tbs_certificate
                    .subject_public_key_info
                    .to_der()
                    .map_err(|e| RekorError::InvalidKey(e.to_string()))?;
                let key = PublicKey::from_spki_der(&spki)
                    .map_err(|e| RekorError::InvalidKey(e.to_string()))?;
                Ok(Verifier {
                    key,
                    canonical_pem: pem_encode("CERTIFICATE", block.contents()),
                    subjects: san_names(&cert),
                })
            }
            _ => {
                let key = PublicKey::from_pem(pem_bytes)
                    .map_err(|e| RekorError::InvalidKey(e.to_string()))?;
                Ok(Verifier {
                    canonical_pem: key.to_pem(),
                    key,
                    subjects: Vec::new(),
                })
            }
        }
    }
}

fn pem_encode(tag: &str, der_bytes: &[u8]) -> String {
    pem::encode_config(
        &pem::Pem::new(tag, der_bytes.to_vec()),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

fn san_names(cert: &x509_cert::Certificate) -> Vec<String> {
    use x509_cert::ext::pkix::name::GeneralName;
    use x509_cert::ext::pkix::SubjectAltName;
    let mut out = Vec::new();
    let Ok(Some((_, san))) = cert.tbs_certificate.get::<SubjectAltName>() else {
        return out;
    };
    for name in san.0 {
        match name {
            GeneralName::Rfc822Name(s) => out.push(s.to_string()),
            GeneralName::DnsName(s) => out.push(s.to_string()),
            GeneralName::UniformResourceIdentifier(s) => out.push(s.to_string()),
            _ => {}
        }
    }
    out
}

/// Verification of a signature over a precomputed digest: ECDSA P-256/P-384 and RSA
/// PKCS#1 v1.5 (see [`PublicKey::verify_prehashed`]).
fn verify_prehashed(key: &PublicKey, digest: &[u8], sig: &[u8]) -> Result<(), RekorError> {
    if key.algorithm() == KeyAlgorithm::Ed25519 {
        return Err(RekorError::InvalidKey(format!(
            "{} keys are not supported for hashedrekord entries here (ECDSA P-256/P-384 and RSA are)",
            KeyAlgorithm::Ed25519.key_details()
        )));
    }
    key.verify_prehashed(digest, sig)
        .map_err(|e| RekorError::BadSignature(e.to_string()))
}
