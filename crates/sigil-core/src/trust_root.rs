//! Sigstore trust roots (`trusted_root.json`, protobuf-specs `sigstore_trustroot.proto`) and
//! the ClientTrustConfig that wraps a trusted root with a signing config.
//!
//! # Defaults
//! A transparency-log or CT-log key without `validFor.start` makes the whole trust root
//! invalid (sigstore-go does the same): an open-ended key would vouch for any time.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::bundle::{B64Bytes, RawBytes};
use crate::keys::PublicKey;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrustedRoot {
    pub media_type: String,
    #[serde(default)]
    pub tlogs: Vec<TransparencyLogInstance>,
    #[serde(default)]
    pub certificate_authorities: Vec<CertificateAuthority>,
    #[serde(default)]
    pub ctlogs: Vec<TransparencyLogInstance>,
    #[serde(default)]
    pub timestamp_authorities: Vec<CertificateAuthority>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransparencyLogInstance {
    #[serde(default)]
    pub base_url: String,
    #[serde(default)]
    pub hash_algorithm: String,
    pub public_key: TrustedPublicKey,
    pub log_id: crate::bundle::LogId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_key_id: Option<crate::bundle::LogId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrustedPublicKey {
    #[serde(default)]
    pub raw_bytes: B64Bytes,
    #[serde(default)]
    pub key_details: String,
    #[serde(default)]
    pub valid_for: Option<TimeRange>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct TimeRange {
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub start: Option<OffsetDateTime>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub end: Option<OffsetDateTime>,
}

impl TimeRange {
    /// Whether `t` (unix seconds) is inside the closed interval; a missing end is open.
    pub fn contains(&self, t: i64) -> bool {
        let after_start = self.start.is_none_or(|s| s.unix_timestamp() <= t);
        let before_end = self.end.is_none_or(|e| t <= e.unix_timestamp());
        after_start && before_end
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateAuthority {
    #[serde(default)]
    pub subject: serde_json::Value,
    #[serde(default)]
    pub uri: String,
    pub cert_chain: crate::bundle::CertificateChain,
    #[serde(default)]
    pub valid_for: Option<TimeRange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
}

impl CertificateAuthority {
    /// The chain's DER certificates, leaf-most first, the anchor last.
    pub fn certificates(&self) -> Vec<&[u8]> {
        self.cert_chain
            .certificates
            .iter()
            .map(|c: &RawBytes| c.raw_bytes.0.as_slice())
            .collect()
    }
}

/// Why a trust root could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrustRootError {
    #[error("malformed trusted root JSON: {0}")]
    Json(String),
    #[error("unsupported trusted root media type `{0}`")]
    MediaType(String),
    #[error("unsupported client trust config media type `{0}`")]
    ConfigMediaType(String),
    #[error("log key `{0}` has no validFor.start")]
    MissingStart(String),
    #[error("log key `{log}` cannot be parsed: {detail}")]
    BadKey { log: String, detail: String },
}

impl TrustedRoot {
    pub fn from_json(bytes: &[u8]) -> Result<TrustedRoot, TrustRootError> {
        let root: TrustedRoot =
            serde_json::from_slice(bytes).map_err(|e| TrustRootError::Json(e.to_string()))?;
        match root.media_type.as_str() {
            "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
            | "application/vnd.dev.sigstore.trustedroot.v0.1+json"
            | "application/vnd.dev.sigstore.trustedroot.v0.2+json"
            | "application/vnd.dev.sigstore.trustedroot+json;version=0.2" => {}
            other => return Err(TrustRootError::MediaType(other.to_owned())),
        }
        for log in root.tlogs.iter().chain(&root.ctlogs) {
            if log
                .public_key
                .valid_for
                .as_ref()
                .and_then(|v| v.start)
                .is_none()
            {
                return Err(TrustRootError::MissingStart(log.base_url.clone()));
            }
        }
        Ok(root)
    }

    /// The transparency log whose log ID (SHA-256 of its key, or its checkpoint key ID) is `id`.
    pub fn tlog(&self, id: &[u8]) -> Option<&TransparencyLogInstance> {
        self.tlogs.iter().find(|l| {
            l.log_id.key_id.0 == id
                || l.checkpoint_key_id
                    .as_ref()
                    .is_some_and(|c| c.key_id.0 == id)
        })
    }
}

impl TransparencyLogInstance {
    /// The log's public key.
    pub fn key(&self) -> Result<PublicKey, TrustRootError> {
        PublicKey::from_spki_der(&self.public_key.raw_bytes.0).map_err(|e| TrustRootError::BadKey {
            log: self.base_url.clone(),
            detail: e.to_string(),
        })
    }

    /// Whether the key was valid at `t` (unix seconds).
    pub fn valid_at(&self, t: i64) -> bool {
        self.public_key
            .valid_for
            .as_ref()
            .is_some_and(|v| v.contains(t))
    }
}

/// `ClientTrustConfig`: a trusted root plus where to sign (sigstore-python's `--trust-config`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientTrustConfig {
    pub media_type: String,
    pub trusted_root: TrustedRoot,
    #[serde(alias = "signing_config")]
    pub signing_config: serde_json::Value,
}

/// Reads either a trusted root or a ClientTrustConfig, returning the trusted root.
pub fn trusted_root_from_any(bytes: &[u8]) -> Result<TrustedRoot, TrustRootError> {
    let v: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| TrustRootError::Json(e.to_string()))?;
    if let Some(tr) = v.get("trustedRoot") {
        // sigstore-python rejects a ClientTrustConfig of another type (`config.badtype.json`).
        if let Some(mt) = v.get("mediaType").and_then(|m| m.as_str()) {
            if !matches!(
                mt,
                "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json"
                    | "application/vnd.dev.sigstore.clienttrustconfig+json;version=0.1"
            ) {
                return Err(TrustRootError::ConfigMediaType(mt.to_owned()));
            }
        }
        let bytes = serde_json::to_vec(tr).map_err(|e| TrustRootError::Json(e.to_string()))?;
        return TrustedRoot::from_json(&bytes);
    }
    TrustedRoot::from_json(bytes)
}
