//! Sigstore bundles (protobuf-specs `sigstore_bundle.proto`, `sigstore_rekor.proto`) in their
//! proto3 JSON form: camelCase fields, bytes as standard base64, int64 as strings (numbers are
//! accepted too, as protobuf JSON parsers do). v0.1, v0.2 and v0.3 are read; v0.3 is written.

use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE as B64URL};
use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Media type of bundles sigil writes.
pub const BUNDLE_V03: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

/// Largest bundle parsed.
pub const MAX_BUNDLE_SIZE: usize = 16 << 20;

/// Bundle format versions, from the media type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum BundleVersion {
    V01,
    V02,
    V03,
}

/// Base64 bytes (standard on write; standard or URL-safe on read).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct B64Bytes(pub Vec<u8>);

impl Serialize for B64Bytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&B64.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for B64Bytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        B64.decode(s.trim())
            .or_else(|_| B64URL.decode(s.trim()))
            .map(B64Bytes)
            .map_err(|e| serde::de::Error::custom(format!("invalid base64: {e}")))
    }
}

/// An int64 as proto3 JSON writes it (a string), read from a string or a number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Int64(pub i64);

impl Serialize for Int64 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_string())
    }
}

impl<'de> Deserialize<'de> for Int64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            S(String),
            N(i64),
        }
        match Either::deserialize(d)? {
            Either::N(n) => Ok(Int64(n)),
            Either::S(s) => s
                .parse()
                .map(Int64)
                .map_err(|_| serde::de::Error::custom(format!("`{s}` is not an int64"))),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bundle {
    pub media_type: String,
    pub verification_material: VerificationMaterial,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_signature: Option<MessageSignature>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dsse_envelope: Option<DsseEnvelope>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerificationMaterial {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<RawBytes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x509_certificate_chain: Option<CertificateChain>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<PublicKeyIdentifier>,
    #[serde(default)]
    pub tlog_entries: Vec<TransparencyLogEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_verification_data: Option<TimestampVerificationData>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RawBytes {
    #[serde(default)]
    pub raw_bytes: B64Bytes,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct CertificateChain {
    #[serde(default)]
    pub certificates: Vec<RawBytes>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PublicKeyIdentifier {
    #[serde(default)]
    pub hint: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimestampVerificationData {
    #[serde(default)]
    pub rfc3161_timestamps: Vec<Rfc3161Timestamp>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rfc3161Timestamp {
    pub signed_timestamp: B64Bytes,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransparencyLogEntry {
    pub log_index: Int64,
    pub log_id: LogId,
    pub kind_version: KindVersion,
    #[serde(default)]
    pub integrated_time: Int64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inclusion_promise: Option<InclusionPromise>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inclusion_proof: Option<InclusionProof>,
    pub canonicalized_body: B64Bytes,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogId {
    pub key_id: B64Bytes,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct KindVersion {
    pub kind: String,
    pub version: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InclusionPromise {
    pub signed_entry_timestamp: B64Bytes,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InclusionProof {
    #[serde(default)]
    pub log_index: Int64,
    pub root_hash: B64Bytes,
    pub tree_size: Int64,
    #[serde(default)]
    pub hashes: Vec<B64Bytes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<Checkpoint>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Checkpoint {
    #[serde(default)]
    pub envelope: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageSignature {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_digest: Option<HashOutput>,
    pub signature: B64Bytes,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct HashOutput {
    pub algorithm: String,
    pub digest: B64Bytes,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DsseEnvelope {
    pub payload: B64Bytes,
    pub payload_type: String,
    #[serde(default)]
    pub signatures: Vec<DsseSignature>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct DsseSignature {
    pub sig: B64Bytes,
    #[serde(default)]
    pub keyid: String,
}

/// Why a bundle could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    #[error("malformed bundle JSON: {0}")]
    Json(String),
    #[error("bundle is {0} bytes, more than the {MAX_BUNDLE_SIZE}-byte limit")]
    TooLarge(usize),
    #[error("unsupported bundle media type `{0}`")]
    MediaType(String),
    #[error("invalid bundle: {0}")]
    Invalid(&'static str),
}

impl Bundle {
    /// Parses bundle JSON and checks the structure every version requires.
    pub fn from_json(bytes: &[u8]) -> Result<Bundle, BundleError> {
        if bytes.len() > MAX_BUNDLE_SIZE {
            return Err(BundleError::TooLarge(bytes.len()));
        }
        let b: Bundle =
            serde_json::from_slice(bytes).map_err(|e| BundleError::Json(e.to_string()))?;
        b.version()?;
        match (&b.message_signature, &b.dsse_envelope) {
            (Some(_), None) | (None, Some(_)) => {}
            _ => {
                return Err(BundleError::Invalid(
                    "exactly one of messageSignature and dsseEnvelope is required",
                ))
            }
        }
        let vm = &b.verification_material;
        let materials = vm.certificate.is_some() as u8
            + vm.x509_certificate_chain.is_some() as u8
            + vm.public_key.is_some() as u8;
        if materials != 1 {
            return Err(BundleError::Invalid(
                "exactly one of certificate, x509CertificateChain and publicKey is required",
            ));
        }
        for e in &vm.tlog_entries {
            if e.log_index.0 < 0 || e.integrated_time.0 < 0 {
                return Err(BundleError::Invalid(
                    "negative log index or integrated time",
                ));
            }
            if let Some(p) = &e.inclusion_proof {
                if p.log_index.0 < 0 || p.tree_size.0 < 0 {
                    return Err(BundleError::Invalid(
                        "negative index or tree size in inclusion proof",
                    ));
                }
            }
        }
        Ok(b)
    }

    /// The format version, from the media type.
    pub fn version(&self) -> Result<BundleVersion, BundleError> {
        match self.media_type.as_str() {
            "application/vnd.dev.sigstore.bundle+json;version=0.1" => Ok(BundleVersion::V01),
            "application/vnd.dev.sigstore.bundle+json;version=0.2" => Ok(BundleVersion::V02),
            "application/vnd.dev.sigstore.bundle+json;version=0.3" | BUNDLE_V03 => {
                Ok(BundleVersion::V03)
            }
            other => Err(BundleError::MediaType(other.to_owned())),
        }
    }

    /// The certificates the bundle carries, leaf first (empty for key-signed bundles).
    pub fn certificates(&self) -> Vec<&[u8]> {
        let vm = &self.verification_material;
        if let Some(c) = &vm.certificate {
            return vec![c.raw_bytes.0.as_slice()];
        }
        vm.x509_certificate_chain
            .as_ref()
            .map(|c| {
                c.certificates
                    .iter()
                    .map(|r| r.raw_bytes.0.as_slice())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// DSSE pre-authentication encoding: `"DSSEv1" SP len(type) SP type SP len(body) SP body`.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + payload_type.len() + 32);
    out.extend_from_slice(
        format!(
            "DSSEv1 {} {} {} ",
            payload_type.len(),
            payload_type,
            payload.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(payload);
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_dsse_spec_example() {
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn int64_reads_strings_and_numbers_and_writes_strings() {
        let v: Int64 = serde_json::from_str("\"42\"").unwrap();
        assert_eq!(v, Int64(42));
        let v: Int64 = serde_json::from_str("42").unwrap();
        assert_eq!(serde_json::to_string(&v).unwrap(), "\"42\"");
        assert!(serde_json::from_str::<Int64>("\"x\"").is_err());
    }

    #[test]
    fn rejects_unknown_media_types_and_malformed_json() {
        let bad = br#"{"mediaType":"this is completely wrong","verificationMaterial":{"publicKey":{"hint":""}},"messageSignature":{"signature":""}}"#;
        assert!(matches!(
            Bundle::from_json(bad),
            Err(BundleError::MediaType(_))
        ));
        assert!(matches!(
            Bundle::from_json(b"{\"mediaType\":"),
            Err(BundleError::Json(_))
        ));
    }
}
