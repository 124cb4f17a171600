//! in-toto attestations as cosign writes and reads them: Statements v0.1 and v1
//! (in-toto `attestation/spec/v1/statement.md`), cosign's `--type` to predicateType mapping
//! (cosign `cmd/cosign/cli/options/predicate.go`), the predicate each type carries (cosign
//! `pkg/cosign/attestation/attestation.go`), and DSSE envelopes with the in-toto payload type.
//!
//! The envelope type is [`crate::bundle::DsseEnvelope`] (the same JSON in a `.att` layer and in
//! a bundle's `dsseEnvelope`), signed over [`crate::bundle::pae`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::bundle::{pae, B64Bytes, DsseEnvelope, DsseSignature};
use crate::{Digest, ImageRef};

/// The DSSE payload type of an in-toto statement.
pub const INTOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// `_type` of an in-toto Statement v0.1 (what `cosign attest` writes).
pub const STATEMENT_V01: &str = "https://in-toto.io/Statement/v0.1";
/// `_type` of an in-toto Statement v1 (what cosign v3 `sign` writes).
pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
/// The predicate type of cosign v3 image signatures (`sign --new-bundle-format`).
pub const COSIGN_SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";
/// cosign's `custom` predicate type.
pub const COSIGN_CUSTOM_PREDICATE: &str = "https://cosign.sigstore.dev/attestation/v1";

/// Largest predicate file `attest` accepts and largest DSSE envelope verification parses.
/// SBOMs of large images run to tens of MiB; cosign sets no limit, the registry layer limit
/// (`sigil_oci::cosign::MAX_LAYER_SIZE`, 64 MiB) bounds what is read back anyway.
pub const MAX_PREDICATE_SIZE: usize = 32 << 20;

/// Why a statement or envelope could not be built or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IntotoError {
    #[error("unknown predicate type `{0}`: use one of spdxjson, spdx, cyclonedx, slsaprovenance, slsaprovenance02, slsaprovenance1, link, vuln, openvex, custom, or a URI")]
    UnknownType(String),
    #[error("predicate is {size} bytes, more than the {limit}-byte limit")]
    TooLarge { size: usize, limit: usize },
    #[error("predicate for type `{kind}` is not valid JSON: {detail}")]
    PredicateJson { kind: String, detail: String },
    #[error("DSSE envelope is not valid JSON: {0}")]
    Envelope(String),
    #[error("DSSE payload type is `{0}`, not `application/vnd.in-toto+json`")]
    PayloadType(String),
    #[error("DSSE payload is not an in-toto statement: {0}")]
    Statement(String),
}

/// cosign's `--type` values and their predicate types: `(type, predicateType)`.
pub const PREDICATE_TYPES: [(&str, &str); 10] = [
    ("custom", COSIGN_CUSTOM_PREDICATE),
    ("slsaprovenance", "https://slsa.dev/provenance/v0.2"),
    ("slsaprovenance02", "https://slsa.dev/provenance/v0.2"),
    ("slsaprovenance1", "https://slsa.dev/provenance/v1"),
    ("spdx", "https://spdx.dev/Document"),
    ("spdxjson", "https://spdx.dev/Document"),
    ("cyclonedx", "https://cyclonedx.org/bom"),
    ("link", "https://in-toto.io/Link/v1"),
    ("vuln", "https://cosign.sigstore.dev/attestation/vuln/v1"),
    ("openvex", "https://openvex.dev/ns"),
];

/// The predicate type for cosign's `--type` value: a known short name, or a URI used verbatim
/// (cosign parses it with Go's `url.ParseRequestURI`: a scheme, no spaces).
pub fn predicate_type(kind: &str) -> Result<String, IntotoError> {
    if let Some((_, uri)) = PREDICATE_TYPES.iter().find(|(k, _)| *k == kind) {
        return Ok((*uri).to_owned());
    }
    if looks_like_uri(kind) {
        return Ok(kind.to_owned());
    }
    Err(IntotoError::UnknownType(kind.to_owned()))
}

fn looks_like_uri(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !rest.is_empty()
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// One statement subject (a v0.1 subject or a v1 ResourceDescriptor).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Subject {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default)]
    pub digest: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<serde_json::Map<String, serde_json::Value>>,
}

/// An in-toto statement, v0.1 or v1 (field order as in-toto-golang writes it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    #[serde(rename = "_type")]
    pub kind: String,
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    #[serde(default)]
    pub subject: Vec<Subject>,
    #[serde(default)]
    pub predicate: serde_json::Value,
}

impl Statement {
    /// What `cosign attest --type KIND --predicate FILE IMAGE@DIGEST` signs: a v0.1 statement
    /// whose one subject is the repository name and the image digest. `timestamp` (RFC 3339)
    /// goes into the `custom` predicate, as cosign does.
    pub fn for_image(
        image: &ImageRef,
        digest: &Digest,
        kind: &str,
        predicate: &[u8],
        timestamp: &str,
    ) -> Result<Statement, IntotoError> {
        if predicate.len() > MAX_PREDICATE_SIZE {
            return Err(IntotoError::TooLarge {
                size: predicate.len(),
                limit: MAX_PREDICATE_SIZE,
            });
        }
        let predicate_type = predicate_type(kind)?;
        let text = || String::from_utf8_lossy(predicate).into_owned();
        let value = match kind {
            // cosign: the file's text as a JSON string.
            "spdx" => serde_json::Value::String(text()),
            "custom" => serde_json::json!({"Data": text(), "Timestamp": timestamp}),
            _ => serde_json::from_slice(predicate).map_err(|e| IntotoError::PredicateJson {
                kind: kind.to_owned(),
                detail: e.to_string(),
            })?,
        };
        Ok(Statement {
            kind: STATEMENT_V01.to_owned(),
            predicate_type,
            subject: vec![Subject {
                name: image.name(),
                digest: digest_map(digest),
                annotations: None,
            }],
            predicate: value,
        })
    }

    /// What cosign v3 `sign` signs: a v1 statement with predicate type
    /// `https://sigstore.dev/cosign/sign/v1`, an empty predicate, and one nameless subject
    /// carrying the `-a` annotations.
    pub fn cosign_sign(digest: &Digest, annotations: &BTreeMap<String, String>) -> Statement {
        Statement {
            kind: STATEMENT_V1.to_owned(),
            predicate_type: COSIGN_SIGN_PREDICATE.to_owned(),
            subject: vec![Subject {
                name: String::new(),
                digest: digest_map(digest),
                annotations: if annotations.is_empty() {
                    None
                } else {
                    Some(
                        annotations
                            .iter()
                            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                            .collect(),
                    )
                },
            }],
            predicate: serde_json::json!({}),
        }
    }

    /// Compact JSON: the DSSE payload.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Strings, maps and an already-parsed JSON value always serialise.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses a DSSE payload as a statement of either version.
    pub fn from_slice(bytes: &[u8]) -> Result<Statement, IntotoError> {
        let s: Statement =
            serde_json::from_slice(bytes).map_err(|e| IntotoError::Statement(e.to_string()))?;
        Statement::check_kind(s)
    }

    /// Parses a DSSE payload's type, predicate type and subjects only: the predicate is
    /// skipped without being built (`predicate` is `null`). Verification needs no more, and a
    /// multi-MiB SBOM predicate costs a tree of allocations to build.
    pub fn header_from_slice(bytes: &[u8]) -> Result<Statement, IntotoError> {
        #[derive(Deserialize)]
        struct Header {
            #[serde(rename = "_type")]
            kind: String,
            #[serde(rename = "predicateType")]
            predicate_type: String,
            #[serde(default)]
            subject: Vec<Subject>,
            #[serde(default, rename = "predicate")]
            _predicate: serde::de::IgnoredAny,
        }
        let h: Header =
            serde_json::from_slice(bytes).map_err(|e| IntotoError::Statement(e.to_string()))?;
        Statement::check_kind(Statement {
            kind: h.kind,
            predicate_type: h.predicate_type,
            subject: h.subject,
            predicate: serde_json::Value::Null,
        })
    }

    fn check_kind(s: Statement) -> Result<Statement, IntotoError> {
        if s.kind != STATEMENT_V01 && s.kind != STATEMENT_V1 {
            return Err(IntotoError::Statement(format!(
                "unknown statement type `{}`",
                s.kind
            )));
        }
        Ok(s)
    }

    /// Whether some subject names `digest` (compared by its algorithm's hex).
    pub fn has_subject(&self, digest: &Digest) -> bool {
        self.subject.iter().any(|s| {
            s.digest
                .get(digest.algorithm().as_str())
                .is_some_and(|h| h.eq_ignore_ascii_case(digest.hex()))
        })
    }
}

/// A statement as the signing side builds it: its compact JSON (the DSSE payload) and its
/// predicate type. `attest` signs SBOMs of many MiB: a JSON predicate goes into the payload as
/// the file's own text with the whitespace between tokens dropped, checked to be JSON but never
/// built into a tree and serialised again (that cost more than signing, logging and pushing).
/// Readers parse payloads with [`Statement::from_slice`] as before.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatementPayload {
    pub predicate_type: String,
    /// Compact JSON, fields in in-toto-golang's order (`_type`, `predicateType`, `subject`,
    /// `predicate`).
    pub bytes: Vec<u8>,
}

impl StatementPayload {
    /// What `cosign attest --type KIND --predicate FILE IMAGE@DIGEST` signs (see
    /// [`Statement::for_image`]), with `statement_type` as `_type` ([`STATEMENT_V01`] for the
    /// `.att` layout, [`STATEMENT_V1`] for bundles).
    pub fn for_image(
        image: &ImageRef,
        digest: &Digest,
        kind: &str,
        predicate: &[u8],
        timestamp: &str,
        statement_type: &str,
    ) -> Result<StatementPayload, IntotoError> {
        if predicate.len() > MAX_PREDICATE_SIZE {
            return Err(IntotoError::TooLarge {
                size: predicate.len(),
                limit: MAX_PREDICATE_SIZE,
            });
        }
        let predicate_type = predicate_type(kind)?;
        if matches!(kind, "spdx" | "custom") {
            // Text predicates: a JSON string (or an object holding one), built as before.
            let mut statement = Statement::for_image(image, digest, kind, predicate, timestamp)?;
            statement.kind = statement_type.to_owned();
            return Ok(StatementPayload {
                predicate_type,
                bytes: statement.to_bytes(),
            });
        }
        #[derive(Serialize)]
        struct Head<'a> {
            #[serde(rename = "_type")]
            kind: &'a str,
            #[serde(rename = "predicateType")]
            predicate_type: &'a str,
            subject: [Subject; 1],
        }
        let head = Head {
            kind: statement_type,
            predicate_type: &predicate_type,
            subject: [Subject {
                name: image.name(),
                digest: digest_map(digest),
                annotations: None,
            }],
        };
        let json_error = |e: serde_json::Error| IntotoError::PredicateJson {
            kind: kind.to_owned(),
            detail: e.to_string(),
        };
        let mut bytes = Vec::with_capacity(predicate.len() + 512);
        serde_json::to_writer(&mut bytes, &head).map_err(json_error)?;
        // The head is a compact object: replace its closing brace with the predicate field.
        bytes.pop();
        bytes.extend_from_slice(br#","predicate":"#);
        // Validation without building anything (`IgnoredAny` walks the document and refuses
        // what `serde_json::Value` would refuse: bad syntax, trailing characters) runs on a
        // second thread while this one compacts; what compaction wrote is dropped if the
        // predicate is not JSON.
        let (valid, ()) = crate::threads::join(
            "predicate-json",
            || serde_json::from_slice::<serde::de::IgnoredAny>(predicate).map(|_| ()),
            || push_compact_json(predicate, &mut bytes),
        );
        valid.map_err(json_error)?;
        bytes.push(b'}');
        Ok(StatementPayload {
            predicate_type,
            bytes,
        })
    }
}

impl From<&Statement> for StatementPayload {
    fn from(statement: &Statement) -> StatementPayload {
        StatementPayload {
            predicate_type: statement.predicate_type.clone(),
            bytes: statement.to_bytes(),
        }
    }
}

/// Appends valid JSON `json` to `out` without the whitespace between tokens (JSON's four
/// whitespace bytes outside strings), leaving strings and numbers as written.
fn push_compact_json(json: &[u8], out: &mut Vec<u8>) {
    let mut in_string = false;
    let mut escaped = false;
    let mut run = 0;
    for (i, &b) in json.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if b == b'"' {
            in_string = true;
        } else if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            out.extend_from_slice(json.get(run..i).unwrap_or_default());
            run = i + 1;
        }
    }
    out.extend_from_slice(json.get(run..).unwrap_or_default());
}

fn digest_map(digest: &Digest) -> BTreeMap<String, String> {
    BTreeMap::from([(
        digest.algorithm().as_str().to_owned(),
        digest.hex().to_owned(),
    )])
}

/// An unsigned envelope for `payload`, and the bytes to sign (its PAE).
pub fn envelope_to_sign(payload: Vec<u8>) -> (DsseEnvelope, Vec<u8>) {
    let to_sign = pae(INTOTO_PAYLOAD_TYPE, &payload);
    (
        DsseEnvelope {
            payload: B64Bytes(payload),
            payload_type: INTOTO_PAYLOAD_TYPE.to_owned(),
            signatures: Vec::new(),
        },
        to_sign,
    )
}

/// Adds a signature (cosign writes an empty `keyid`).
pub fn add_signature(envelope: &mut DsseEnvelope, signature: Vec<u8>) {
    envelope.signatures.push(DsseSignature {
        sig: B64Bytes(signature),
        keyid: String::new(),
    });
}

/// The envelope JSON as cosign writes it in a `.att` layer and logs it
/// (`payloadType`, `payload`, `signatures`).
pub fn envelope_json(envelope: &DsseEnvelope) -> Vec<u8> {
    let signatures_len = envelope
        .signatures
        .iter()
        .map(|s| base64_len(s.sig.0.len()) + 6 * s.keyid.len() + 32)
        .sum();
    let mut out = envelope_json_head(&envelope.payload_type, &envelope.payload.0, signatures_len);
    push_envelope_signatures(&envelope.signatures, &mut out);
    out
}

/// Signs `payload` as a DSSE envelope: `sign` signs its PAE; returns the envelope with the
/// signature and its [`envelope_json`]. The payload's base64, the bulk of the JSON, is written
/// on a second thread while `sign` hashes the PAE: both pass over a statement that may be
/// many MiB.
pub fn sign_envelope<E>(
    payload: Vec<u8>,
    sign: impl FnOnce(&[u8]) -> Result<Vec<u8>, E>,
) -> Result<(DsseEnvelope, Vec<u8>), E> {
    // Room for one signature of up to 104 bytes (DER ECDSA P-384; a larger one grows the
    // buffer once).
    let head =
        |payload: &[u8]| envelope_json_head(INTOTO_PAYLOAD_TYPE, payload, base64_len(104) + 32);
    let (mut json, sig) = crate::threads::join(
        "envelope-json",
        || head(&payload),
        || sign(&pae(INTOTO_PAYLOAD_TYPE, &payload)),
    );
    let sig = sig?;
    let mut envelope = DsseEnvelope {
        payload: B64Bytes(payload),
        payload_type: INTOTO_PAYLOAD_TYPE.to_owned(),
        signatures: Vec::new(),
    };
    add_signature(&mut envelope, sig);
    push_envelope_signatures(&envelope.signatures, &mut json);
    Ok((envelope, json))
}

/// The envelope JSON up to its `signatures` value, in a buffer with `signatures_len` bytes
/// to spare.
fn envelope_json_head(payload_type: &str, payload: &[u8], signatures_len: usize) -> Vec<u8> {
    // Written by hand into one buffer of the final size: serde would base64 the payload into
    // a string, then copy it into a buffer grown by doubling (several multi-MiB copies for a
    // large SBOM). The bytes are what serde writes for (`payloadType`, `payload`,
    // `signatures`); the test below holds them equal.
    let mut out = Vec::with_capacity(
        48 + 6 * payload_type.len() + base64_len(payload.len()) + signatures_len,
    );
    out.extend_from_slice(br#"{"payloadType":"#);
    // Strings and plain structs always serialise into a Vec.
    let _ = serde_json::to_writer(&mut out, payload_type);
    out.extend_from_slice(br#","payload":""#);
    push_base64(payload, &mut out);
    out.extend_from_slice(br#"","signatures":"#);
    out
}

fn push_envelope_signatures(signatures: &[DsseSignature], out: &mut Vec<u8>) {
    let _ = serde_json::to_writer(&mut *out, signatures);
    out.push(b'}');
}

fn base64_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}

/// Appends standard padded base64 of `bytes` to `out`.
fn push_base64(bytes: &[u8], out: &mut Vec<u8>) {
    use base64::Engine as _;
    let start = out.len();
    out.resize(start + base64_len(bytes.len()), 0);
    let written = out.get_mut(start..).map_or(0, |dst| {
        base64::engine::general_purpose::STANDARD
            .encode_slice(bytes, dst)
            .unwrap_or(0)
    });
    out.truncate(start + written);
}

/// Parses envelope JSON (std or URL-safe base64), bounded by [`MAX_PREDICATE_SIZE`] plus
/// base64 overhead.
pub fn parse_envelope(bytes: &[u8]) -> Result<DsseEnvelope, IntotoError> {
    let limit = MAX_PREDICATE_SIZE / 3 * 4 + (64 << 10);
    if bytes.len() > limit {
        return Err(IntotoError::TooLarge {
            size: bytes.len(),
            limit,
        });
    }
    serde_json::from_slice(bytes).map_err(|e| IntotoError::Envelope(e.to_string()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn image() -> (ImageRef, Digest) {
        let d = Digest::sha256(b"image");
        ("127.0.0.1:5000/owner/lab:v1".parse().unwrap(), d)
    }

    #[test]
    fn maps_cosign_types_and_uris() {
        assert_eq!(
            predicate_type("spdxjson").unwrap(),
            "https://spdx.dev/Document"
        );
        assert_eq!(
            predicate_type("slsaprovenance").unwrap(),
            "https://slsa.dev/provenance/v0.2"
        );
        assert_eq!(
            predicate_type("slsaprovenance1").unwrap(),
            "https://slsa.dev/provenance/v1"
        );
        assert_eq!(
            predicate_type("https://example.com/p/v1").unwrap(),
            "https://example.com/p/v1"
        );
        assert!(matches!(
            predicate_type("spdx-json"),
            Err(IntotoError::UnknownType(_))
        ));
        assert!(predicate_type("a b:c").is_err());
    }

    #[test]
    fn builds_a_v01_statement_with_the_repository_as_subject_name() {
        let (img, d) = image();
        let s = Statement::for_image(&img, &d, "spdxjson", br#"{"spdxVersion":"SPDX-2.3"}"#, "t")
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&s.to_bytes()).unwrap();
        assert_eq!(v["_type"], STATEMENT_V01);
        assert_eq!(v["subject"][0]["name"], "127.0.0.1:5000/owner/lab");
        assert_eq!(v["subject"][0]["digest"]["sha256"], d.hex());
        assert_eq!(v["predicate"]["spdxVersion"], "SPDX-2.3");
        assert!(s.has_subject(&d));
        assert!(!s.has_subject(&Digest::sha256(b"other")));
        // Key order as in-toto-golang writes it.
        let text = String::from_utf8(s.to_bytes()).unwrap();
        assert!(text.starts_with(r#"{"_type":"#), "{text}");
    }

    #[test]
    fn custom_and_spdx_predicates_carry_text() {
        let (img, d) = image();
        let s =
            Statement::for_image(&img, &d, "custom", b"not json", "2026-01-01T00:00:00Z").unwrap();
        assert_eq!(s.predicate["Data"], "not json");
        let s = Statement::for_image(&img, &d, "spdx", b"SPDXVersion: SPDX-2.3", "t").unwrap();
        assert_eq!(s.predicate, "SPDXVersion: SPDX-2.3");
        assert!(matches!(
            Statement::for_image(&img, &d, "cyclonedx", b"<xml/>", "t"),
            Err(IntotoError::PredicateJson { .. })
        ));
    }

    #[test]
    fn refuses_oversized_predicates() {
        let (img, d) = image();
        let big = vec![b' '; MAX_PREDICATE_SIZE + 1];
        assert!(matches!(
            Statement::for_image(&img, &d, "custom", &big, "t"),
            Err(IntotoError::TooLarge { .. })
        ));
    }

    #[test]
    fn envelope_json_is_what_serde_writes() {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Wire<'a> {
            payload_type: &'a str,
            payload: &'a B64Bytes,
            signatures: &'a [DsseSignature],
        }
        for n in [0, 1, 2, 3, 4, 1000] {
            let (mut env, _) = envelope_to_sign(vec![b'x'; n]);
            for sig in [vec![], vec![7u8; 71]] {
                let expected = serde_json::to_vec(&Wire {
                    payload_type: &env.payload_type,
                    payload: &env.payload,
                    signatures: &env.signatures,
                })
                .unwrap();
                assert_eq!(envelope_json(&env), expected);
                add_signature(&mut env, sig);
            }
        }
    }

    #[test]
    fn raw_payload_is_the_parsed_statement_without_whitespace() {
        let (img, d) = image();
        let predicate = br#" { "spdxVersion" : "SPDX-2.3",
            "name": "a \" b\\",	"n": [1, 2.50, -3e2, true, null, {}] }
"#;
        for kind in [STATEMENT_V01, STATEMENT_V1] {
            let raw =
                StatementPayload::for_image(&img, &d, "spdxjson", predicate, "t", kind).unwrap();
            let mut tree = Statement::for_image(&img, &d, "spdxjson", predicate, "t").unwrap();
            tree.kind = kind.to_owned();
            assert_eq!(raw.predicate_type, tree.predicate_type);
            // Numbers stay as written; everything else is what the tree serialises to.
            let text = String::from_utf8(raw.bytes.clone()).unwrap();
            assert_eq!(
                text.replace("2.50", "2.5").replace("-3e2", "-300.0"),
                String::from_utf8(tree.to_bytes()).unwrap()
            );
            assert_eq!(Statement::from_slice(&raw.bytes).unwrap(), tree);
        }
        for kind in ["custom", "spdx"] {
            let raw =
                StatementPayload::for_image(&img, &d, kind, b"text", "t", STATEMENT_V01).unwrap();
            let tree = Statement::for_image(&img, &d, kind, b"text", "t").unwrap();
            assert_eq!(raw, StatementPayload::from(&tree));
        }
        for bad in [&b"{"[..], b"{} x", b"", b"{\"a\":1,}", b"<xml/>"] {
            assert!(matches!(
                StatementPayload::for_image(&img, &d, "cyclonedx", bad, "t", STATEMENT_V01),
                Err(IntotoError::PredicateJson { .. })
            ));
        }
        let big = vec![b' '; MAX_PREDICATE_SIZE + 1];
        assert!(matches!(
            StatementPayload::for_image(&img, &d, "spdxjson", &big, "t", STATEMENT_V01),
            Err(IntotoError::TooLarge { .. })
        ));
    }

    #[test]
    fn sign_envelope_signs_the_pae_and_writes_envelope_json() {
        let (_, d) = image();
        let payload = Statement::cosign_sign(&d, &BTreeMap::new()).to_bytes();
        let (unsigned, pae_bytes) = envelope_to_sign(payload.clone());
        for sig in [vec![7u8; 3], vec![9u8; 512]] {
            let (env, json) = sign_envelope(payload.clone(), |pae| {
                assert_eq!(pae, pae_bytes.as_slice());
                Ok::<_, ()>(sig.clone())
            })
            .unwrap();
            let mut expected = unsigned.clone();
            add_signature(&mut expected, sig.clone());
            assert_eq!(json, envelope_json(&expected));
            assert_eq!(envelope_json(&env), json);
        }
        assert_eq!(
            sign_envelope(payload, |_| Err::<Vec<u8>, _>("refused")).err(),
            Some("refused")
        );
    }

    #[test]
    fn envelope_round_trips_and_signs_pae() {
        let (_, d) = image();
        let s = Statement::cosign_sign(&d, &BTreeMap::new());
        let (mut env, to_sign) = envelope_to_sign(s.to_bytes());
        assert!(to_sign.starts_with(b"DSSEv1 28 application/vnd.in-toto+json "));
        add_signature(&mut env, vec![1, 2, 3]);
        let json = envelope_json(&env);
        let back = parse_envelope(&json).unwrap();
        assert_eq!(back.payload.0, s.to_bytes());
        assert_eq!(back.signatures[0].sig.0, vec![1, 2, 3]);
        let st = Statement::from_slice(&back.payload.0).unwrap();
        assert_eq!(st.predicate_type, COSIGN_SIGN_PREDICATE);
        assert!(st.subject[0].name.is_empty());
        assert!(Statement::from_slice(br#"{"_type":"x","predicateType":"p"}"#).is_err());
        let h = Statement::header_from_slice(&s.to_bytes()).unwrap();
        assert_eq!(h.predicate_type, COSIGN_SIGN_PREDICATE);
        assert!(h.has_subject(&d) && h.predicate.is_null());
        assert!(Statement::header_from_slice(br#"{"_type":"x","predicateType":"p"}"#).is_err());
    }
}
