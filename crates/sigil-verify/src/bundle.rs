//! Sigstore bundle verification, in sigstore-go's order (`pkg/verify/signed_entity.go`):
//! transparency-log entries (SET and/or inclusion proof against a signed checkpoint, each
//! entry consistent with the bundle's signature and key), then the leaf certificate's chain to
//! a trusted CA at the log's integrated time, its embedded SCT, the signature over the artifact
//! (message signature, or DSSE over PAE with the artifact among the statement's subjects), and
//! finally the signer's identity.
//!
//! Time of signing: a short-lived certificate is checked at every time the bundle proves,
//! namely each integrated time vouched for by a SET and each RFC 3161 timestamp that verifies
//! (see [`crate::tsa`] for the timestamp rules, which follow sigstore-go and sigstore-python);
//! there must be at least one. Rekor v2 entries ([`crate::rekor_v2`]) carry no integrated
//! time, so they need a timestamp.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use sigil_core::bundle::{pae, Bundle, BundleVersion, TransparencyLogEntry};
use sigil_core::checkpoint::{rekor_key_id, NoteVerifier, SignedNote};
use sigil_core::fulcio::CertificateIdentity;
use sigil_core::keys::PublicKey;
use sigil_core::rekor::{self, LogEntry};
use sigil_core::trust_root::TrustedRoot;

use crate::identity::IdentityPolicy;
use crate::verdict::Failure;
use crate::{rekor_v2, tsa, x509, TlogPolicy};

/// Upper bound on log entries in one bundle (sigstore-go `limits.MaxAllowedTlogEntries`).
const MAX_TLOG_ENTRIES: usize = 32;

/// What was signed: the artifact's bytes, or only its SHA-256 digest.
#[derive(Clone, Copy, Debug)]
pub enum Artifact<'a> {
    Bytes(&'a [u8]),
    Sha256(&'a [u8; 32]),
}

impl Artifact<'_> {
    fn sha256(&self) -> [u8; 32] {
        match self {
            Artifact::Bytes(b) => Sha256::digest(b).into(),
            Artifact::Sha256(d) => **d,
        }
    }
}

/// Who must have signed the bundle.
#[derive(Clone, Debug)]
pub enum BundleSigner {
    /// A Fulcio certificate for this identity.
    Identity(IdentityPolicy),
    /// A known public key (`--key`).
    Key(PublicKey),
}

/// Whether the certificate must carry an SCT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SctPolicy {
    Required,
    /// `--insecure-ignore-sct`.
    Ignore,
}

/// What a successful bundle verification established.
#[derive(Clone, Debug)]
pub struct VerifiedBundle {
    /// The integrated times the log vouched for (unix seconds).
    pub timestamps: Vec<i64>,
    /// The times of the RFC 3161 timestamps that verified (unix seconds).
    pub signed_timestamps: Vec<i64>,
    /// The signer's identity, for certificate-signed bundles.
    pub identity: Option<CertificateIdentity>,
    /// The DSSE payload, for DSSE bundles.
    pub dsse_payload: Option<(String, Vec<u8>)>,
}

fn fail<T>(f: fn(String) -> Failure, detail: impl Into<String>) -> Result<T, Failure> {
    Err(f(detail.into()))
}

fn bundle_err(detail: String) -> Failure {
    Failure::Bundle { detail }
}
fn tlog_err(detail: String) -> Failure {
    Failure::Tlog { detail }
}
fn mismatch(detail: String) -> Failure {
    Failure::TlogMismatch { detail }
}

/// Verifies `bundle` for `artifact` against `root`.
pub fn verify_bundle(
    bundle: &Bundle,
    artifact: Artifact<'_>,
    signer: &BundleSigner,
    root: &TrustedRoot,
    tlog: TlogPolicy,
    sct: SctPolicy,
) -> Result<VerifiedBundle, Failure> {
    let version = bundle.version().map_err(|e| bundle_err(e.to_string()))?;
    let certs = bundle.certificates();
    let vm = &bundle.verification_material;
    if vm.x509_certificate_chain.is_some() && certs.is_empty() {
        return fail(bundle_err, "expected non-empty certificate chain in bundle");
    }
    if version >= BundleVersion::V03 && vm.x509_certificate_chain.is_some() {
        return fail(
            bundle_err,
            "a v0.3 bundle carries the leaf certificate only, not a chain",
        );
    }
    // The key that signed: the leaf's, or the given one.
    let (signing_key, leaf) = match signer {
        BundleSigner::Key(k) => {
            if !certs.is_empty() {
                return fail(
                    bundle_err,
                    "bundle is signed by a certificate, but a public key was given",
                );
            }
            (k.clone(), None)
        }
        BundleSigner::Identity(_) => {
            let Some(leaf_der) = certs.first() else {
                return fail(
                    bundle_err,
                    "bundle has no certificate, and no public key was given",
                );
            };
            let leaf =
                x509::Leaf::parse(leaf_der).map_err(|e| Failure::Certificate { detail: e })?;
            (leaf.public_key.clone(), Some(leaf))
        }
    };
    // The signature and what the log must have recorded for it.
    let content = SignedContent::from_bundle(bundle)?;

    // 1. Transparency log.
    let mut timestamps = Vec::new();
    if tlog == TlogPolicy::Required {
        if vm.tlog_entries.is_empty() {
            return fail(
                tlog_err,
                "expected exactly one log entry in bundle, found none",
            );
        }
        if vm.tlog_entries.len() > MAX_TLOG_ENTRIES {
            return fail(
                tlog_err,
                format!(
                    "too many tlog entries: {} > {MAX_TLOG_ENTRIES}",
                    vm.tlog_entries.len()
                ),
            );
        }
        // sigstore-go: duplicates could otherwise be counted twice toward a threshold.
        for (i, a) in vm.tlog_entries.iter().enumerate() {
            if vm
                .tlog_entries
                .iter()
                .skip(i + 1)
                .any(|b| a.log_id.key_id.0 == b.log_id.key_id.0 && a.log_index.0 == b.log_index.0)
            {
                return fail(tlog_err, "duplicate tlog entries found");
            }
        }
        for entry in &vm.tlog_entries {
            if let Some(t) =
                verify_entry(entry, version, root, &content, &signing_key, leaf.as_ref())?
            {
                timestamps.push(t);
            }
        }
    }

    // 2. Signed (RFC 3161) timestamps over the signature.
    let stamps: Vec<&[u8]> = vm
        .timestamp_verification_data
        .as_ref()
        .map(|t| {
            t.rfc3161_timestamps
                .iter()
                .map(|s| s.signed_timestamp.0.as_slice())
                .collect()
        })
        .unwrap_or_default();
    let mut signed_timestamps = Vec::new();
    if !stamps.is_empty() {
        let (verified, skipped) = tsa::verify_timestamps(&stamps, content.signature(), root)
            .map_err(|d| Failure::Timestamp { detail: d })?;
        if verified.is_empty() {
            return fail(
                |d| Failure::Timestamp { detail: d },
                format!(
                    "threshold not met for verified signed timestamps: 0 < 1: {}",
                    skipped.join("; ")
                ),
            );
        }
        signed_timestamps = verified.into_iter().map(|v| v.time).collect();
    }

    // 3. Certificate chain at every verified time, SCT, identity.
    let mut identity = None;
    if let (BundleSigner::Identity(policy), Some(leaf)) = (signer, &leaf) {
        if tlog == TlogPolicy::Ignore && signed_timestamps.is_empty() {
            return fail(|d| Failure::Certificate { detail: d }, "a short-lived certificate needs a log or timestamp proof of when it was used; it cannot be verified with the log ignored");
        }
        let times: Vec<i64> = timestamps
            .iter()
            .chain(&signed_timestamps)
            .copied()
            .collect();
        if times.is_empty() {
            return fail(
                tlog_err,
                "bundle must contain an inclusion promise or signed timestamp(s): no verified time of signing",
            );
        }
        let extra: Vec<&[u8]> = certs.iter().skip(1).copied().collect();
        for t in &times {
            let issuer = x509::verify_chain(leaf, &extra, root, *t)
                .map_err(|e| Failure::Certificate { detail: e })?;
            if sct == SctPolicy::Required {
                x509::verify_sct(leaf, &issuer, root).map_err(|e| Failure::Sct { detail: e })?;
            }
        }
        let id = CertificateIdentity::from_der(&leaf.der).map_err(|e| Failure::Certificate {
            detail: e.to_string(),
        })?;
        policy.check(&id)?;
        identity = Some(id);
    }

    // 4. The signature over the artifact.
    let dsse_payload = content.verify_signature(&signing_key, artifact)?;
    Ok(VerifiedBundle {
        timestamps,
        signed_timestamps,
        identity,
        dsse_payload,
    })
}

/// The bundle's signed content.
pub(crate) enum SignedContent<'a> {
    Message {
        signature: &'a [u8],
        digest: Option<&'a [u8]>,
    },
    Dsse {
        payload_type: &'a str,
        payload: &'a [u8],
        signature: &'a [u8],
    },
}

impl<'a> SignedContent<'a> {
    /// The signature bytes (what RFC 3161 timestamps are over).
    pub(crate) fn signature(&self) -> &'a [u8] {
        match self {
            SignedContent::Message { signature, .. } | SignedContent::Dsse { signature, .. } => {
                signature
            }
        }
    }

    fn from_bundle(b: &'a Bundle) -> Result<SignedContent<'a>, Failure> {
        if let Some(m) = &b.message_signature {
            let digest = m.message_digest.as_ref().map(|d| d.digest.0.as_slice());
            if let Some(d) = &m.message_digest {
                if d.algorithm != "SHA2_256" {
                    return fail(
                        bundle_err,
                        format!("unsupported message digest algorithm `{}`", d.algorithm),
                    );
                }
            }
            return Ok(SignedContent::Message {
                signature: &m.signature.0,
                digest,
            });
        }
        if let Some(e) = &b.dsse_envelope {
            if e.signatures.len() != 1 {
                return fail(
                    bundle_err,
                    format!(
                        "DSSE envelope must have exactly one signature, has {}",
                        e.signatures.len()
                    ),
                );
            }
            return Ok(SignedContent::Dsse {
                payload_type: &e.payload_type,
                payload: &e.payload.0,
                signature: &e.signatures[0].sig.0,
            });
        }
        fail(bundle_err, "no messageSignature or dsseEnvelope")
    }

    fn verify_signature(
        &self,
        key: &PublicKey,
        artifact: Artifact<'_>,
    ) -> Result<Option<(String, Vec<u8>)>, Failure> {
        match self {
            SignedContent::Message { signature, digest } => {
                let want = artifact.sha256();
                if let Some(d) = digest {
                    if *d != want.as_slice() {
                        return fail(
                            |d| Failure::ArtifactMismatch { detail: d },
                            "the bundle's message digest is not the artifact's SHA-256",
                        );
                    }
                }
                let ok = match artifact {
                    Artifact::Bytes(b) => key.verify(b, signature).is_ok(),
                    Artifact::Sha256(d) => key.verify_prehashed(d, signature).is_ok(),
                };
                if ok {
                    Ok(None)
                } else {
                    Err(Failure::SignatureMismatch)
                }
            }
            SignedContent::Dsse {
                payload_type,
                payload,
                signature,
            } => {
                key.verify(&pae(payload_type, payload), signature)
                    .map_err(|_| Failure::SignatureMismatch)?;
                let want = hex::encode(artifact.sha256());
                let statement: serde_json::Value =
                    serde_json::from_slice(payload).map_err(|e| Failure::MalformedPayload {
                        detail: format!("DSSE payload is not JSON: {e}"),
                    })?;
                let subjects = statement["subject"].as_array().cloned().unwrap_or_default();
                if !subjects
                    .iter()
                    .any(|s| s["digest"]["sha256"].as_str() == Some(want.as_str()))
                {
                    return fail(
                        |d| Failure::ArtifactMismatch { detail: d },
                        "no matching subject digest found",
                    );
                }
                Ok(Some((payload_type.to_string(), payload.to_vec())))
            }
        }
    }
}

/// Verifies one log entry; returns its integrated time when a SET vouches for it.
fn verify_entry(
    entry: &TransparencyLogEntry,
    version: BundleVersion,
    root: &TrustedRoot,
    content: &SignedContent<'_>,
    key: &PublicKey,
    leaf: Option<&x509::Leaf>,
) -> Result<Option<i64>, Failure> {
    let kv = (
        entry.kind_version.kind.as_str(),
        entry.kind_version.version.as_str(),
    );
    if kv.1 == "0.0.2" && kv.0 != "intoto" {
        // Rekor v2: inclusion only, no time (sigstore-go `IsRekorV2`).
        rekor_v2::verify_entry(entry, root, content, key, leaf)?;
        return Ok(None);
    }
    let log = root.tlog(&entry.log_id.key_id.0).ok_or_else(|| {
        tlog_err(format!(
            "entry from unknown log {}",
            B64.encode(&entry.log_id.key_id.0)
        ))
    })?;
    let log_key = log.key().map_err(|e| tlog_err(e.to_string()))?;
    let integrated = entry.integrated_time.0;
    // The integrated time means something only when a SET vouches for it (sigstore-go
    // checks the key's validity in `VerifySET`); an entry with only an inclusion proof may
    // carry none (sigstore-python's TSA tests remove it).
    if entry.inclusion_promise.is_some() && !log.valid_at(integrated) {
        return fail(
            tlog_err,
            format!("integrated time {integrated} is outside the log key's validity"),
        );
    }
    let api_entry = LogEntry {
        attestation: None,
        body: B64.encode(&entry.canonicalized_body.0),
        integrated_time: integrated,
        log_id: hex::encode(&entry.log_id.key_id.0),
        log_index: entry.log_index.0,
        verification: Some(rekor::Verification {
            inclusion_proof: entry
                .inclusion_proof
                .as_ref()
                .map(|p| rekor::InclusionProof {
                    checkpoint: p
                        .checkpoint
                        .as_ref()
                        .map(|c| c.envelope.clone())
                        .unwrap_or_default(),
                    hashes: p.hashes.iter().map(|h| hex::encode(&h.0)).collect(),
                    log_index: p.log_index.0,
                    root_hash: hex::encode(&p.root_hash.0),
                    tree_size: p.tree_size.0,
                }),
            signed_entry_timestamp: entry
                .inclusion_promise
                .as_ref()
                .map(|p| B64.encode(&p.signed_entry_timestamp.0)),
        }),
    };
    let mut vouched = None;
    match (&entry.inclusion_promise, version) {
        (Some(_), _) => {
            rekor::verify_set(&api_entry, &log_key).map_err(|e| tlog_err(e.to_string()))?;
            vouched = Some(integrated);
        }
        (None, BundleVersion::V01) => {
            return fail(tlog_err, "a v0.1 bundle needs an inclusion promise")
        }
        (None, _) => {}
    }
    match &entry.inclusion_proof {
        Some(p) => {
            let text = p
                .checkpoint
                .as_ref()
                .map(|c| c.envelope.as_str())
                .unwrap_or("");
            if text.is_empty() {
                return fail(
                    tlog_err,
                    "entry must contain inclusion proof, with checkpoint",
                );
            }
            let verifier = note_verifier(text, log_key.clone())?;
            rekor::verify_inclusion(&api_entry, &verifier).map_err(|e| tlog_err(e.to_string()))?;
        }
        None if version >= BundleVersion::V02 => {
            return fail(
                tlog_err,
                "entry must contain inclusion proof, with checkpoint",
            )
        }
        None => {}
    }
    check_body(&entry.canonicalized_body.0, kv, content, key, leaf)?;
    Ok(vouched)
}

/// A checkpoint verifier for a Rekor v1 log key: the note line with this key's ID, whatever
/// name it carries (Rekor's own verifier ignores the name, sigstore-go follows it).
fn note_verifier(text: &str, key: PublicKey) -> Result<NoteVerifier, Failure> {
    let note = SignedNote::parse(text).map_err(|e| tlog_err(format!("checkpoint: {e}")))?;
    let id = rekor_key_id(&key);
    let name = note
        .signatures
        .iter()
        .find(|s| s.key_id == id)
        .map(|s| s.name.clone())
        .ok_or_else(|| {
            tlog_err("checkpoint has no signature with the trusted log key's ID".into())
        })?;
    let mut v = NoteVerifier::rekor(name, key);
    v.key_id = id;
    Ok(v)
}

/// The log body must record this very signature, key and content (CVE-2022-36056).
pub(crate) fn check_body(
    body: &[u8],
    kind: (&str, &str),
    content: &SignedContent<'_>,
    key: &PublicKey,
    leaf: Option<&x509::Leaf>,
) -> Result<(), Failure> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| mismatch(format!("body is not JSON: {e}")))?;
    if v["kind"].as_str() != Some(kind.0) || v["apiVersion"].as_str() != Some(kind.1) {
        return fail(mismatch, "body kind differs from the entry's kindVersion");
    }
    let spec = &v["spec"];
    let b64 = |s: &serde_json::Value| s.as_str().and_then(|s| B64.decode(s).ok());
    let signer_matches = |pem_b64: &serde_json::Value| -> bool {
        let Some(pem_bytes) = b64(pem_b64) else {
            return false;
        };
        let Ok(block) = pem::parse(&pem_bytes) else {
            return false;
        };
        match leaf {
            Some(l) => block.tag() == "CERTIFICATE" && block.contents() == l.der.as_slice(),
            None => PublicKey::from_pem(&pem_bytes).is_ok_and(|k| &k == key),
        }
    };
    match (kind, content) {
        (("hashedrekord", "0.0.1"), SignedContent::Message { signature, digest }) => {
            if b64(&spec["signature"]["content"]).as_deref() != Some(*signature) {
                return fail(mismatch, "the logged signature is not the bundle's");
            }
            if !signer_matches(&spec["signature"]["publicKey"]["content"]) {
                return fail(
                    mismatch,
                    "the logged key or certificate is not the bundle's",
                );
            }
            if let Some(d) = digest {
                let logged = spec["data"]["hash"]["value"].as_str().unwrap_or("");
                if logged != hex::encode(d) {
                    return fail(
                        mismatch,
                        "the logged artifact hash is not the bundle's message digest",
                    );
                }
            }
            Ok(())
        }
        (
            ("dsse", "0.0.1"),
            SignedContent::Dsse {
                payload, signature, ..
            },
        ) => {
            let want = hex::encode(Sha256::digest(payload));
            if spec["payloadHash"]["value"].as_str() != Some(want.as_str()) {
                return fail(mismatch, "the logged payload hash is not the envelope's");
            }
            let sigs = spec["signatures"].as_array().cloned().unwrap_or_default();
            if sigs.len() != 1 {
                return fail(mismatch, "signature count mismatch");
            }
            if b64(&sigs[0]["signature"]).as_deref() != Some(*signature)
                || !signer_matches(&sigs[0]["verifier"])
            {
                return fail(
                    mismatch,
                    "the logged signature or verifier is not the envelope's",
                );
            }
            Ok(())
        }
        (
            ("intoto", "0.0.2"),
            SignedContent::Dsse {
                payload, signature, ..
            },
        ) => {
            let want = hex::encode(Sha256::digest(payload));
            if spec["content"]["payloadHash"]["value"].as_str() != Some(want.as_str()) {
                return fail(mismatch, "the logged payload hash is not the envelope's");
            }
            let sigs = spec["content"]["envelope"]["signatures"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            // intoto 0.0.2 stores base64 of the (already base64) signature and key.
            let twice = |s: &serde_json::Value| b64(s).and_then(|inner| B64.decode(inner).ok());
            let found = sigs.iter().any(|s| {
                twice(&s["sig"]).as_deref() == Some(*signature) && {
                    let pk = b64(&s["publicKey"]);
                    pk.is_some_and(|p| {
                        let as_json = serde_json::Value::String(B64.encode(p));
                        signer_matches(&as_json)
                    })
                }
            });
            if !found {
                return fail(
                    mismatch,
                    "the logged signature or verifier is not the envelope's",
                );
            }
            Ok(())
        }
        ((k, ver), _) => fail(
            mismatch,
            format!("a `{k}` {ver} entry does not describe this bundle's content"),
        ),
    }
}

/// The `dev.sigstore.cosign/bundle` annotation of a legacy `.sig` layer (cosign
/// `pkg/cosign/bundle/rekor.go`): `{"SignedEntryTimestamp","Payload":{"body","integratedTime","logIndex","logID"}}`.
#[derive(serde::Deserialize)]
struct RekorBundleAnnotation {
    #[serde(rename = "SignedEntryTimestamp")]
    set: String,
    #[serde(rename = "Payload")]
    payload: RekorBundlePayload,
}

#[derive(serde::Deserialize)]
struct RekorBundlePayload {
    body: String,
    #[serde(rename = "integratedTime")]
    integrated_time: i64,
    #[serde(rename = "logIndex")]
    log_index: i64,
    #[serde(rename = "logID")]
    log_id: String,
}

/// Verifies a legacy `.sig` layer's Rekor bundle annotation: the SET by a trusted log valid
/// at the integrated time, and a hashedrekord body that records this signature, this signer
/// and this payload. Returns the integrated time.
pub(crate) fn verify_rekor_annotation(
    annotation: &str,
    root: &TrustedRoot,
    payload: &[u8],
    signature: &[u8],
    key: &PublicKey,
    leaf: Option<&x509::Leaf>,
) -> Result<i64, Failure> {
    let b: RekorBundleAnnotation = serde_json::from_str(annotation)
        .map_err(|e| tlog_err(format!("malformed bundle annotation: {e}")))?;
    let log_id =
        hex::decode(&b.payload.log_id).map_err(|_| tlog_err("bundle logID is not hex".into()))?;
    let log = root
        .tlog(&log_id)
        .ok_or_else(|| tlog_err(format!("entry from unknown log {}", b.payload.log_id)))?;
    let log_key = log.key().map_err(|e| tlog_err(e.to_string()))?;
    let t = b.payload.integrated_time;
    if !log.valid_at(t) {
        return fail(
            tlog_err,
            format!("integrated time {t} is outside the log key's validity"),
        );
    }
    let entry = LogEntry {
        attestation: None,
        body: b.payload.body.clone(),
        integrated_time: t,
        log_id: b.payload.log_id.clone(),
        log_index: b.payload.log_index,
        verification: Some(rekor::Verification {
            inclusion_proof: None,
            signed_entry_timestamp: Some(b.set),
        }),
    };
    rekor::verify_set(&entry, &log_key).map_err(|e| tlog_err(e.to_string()))?;
    let body = B64
        .decode(&b.payload.body)
        .map_err(|_| tlog_err("bundle body is not base64".into()))?;
    let kind: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| mismatch(format!("body is not JSON: {e}")))?;
    let kv = (
        kind["kind"].as_str().unwrap_or_default().to_owned(),
        kind["apiVersion"].as_str().unwrap_or_default().to_owned(),
    );
    let digest: [u8; 32] = Sha256::digest(payload).into();
    let content = SignedContent::Message {
        signature,
        digest: Some(&digest),
    };
    check_body(&body, (&kv.0, &kv.1), &content, key, leaf)?;
    Ok(t)
}
