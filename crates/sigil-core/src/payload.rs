//! The "simple signing" payload cosign signs for an image (containers/image
//! `docs/containers-signature.5.md`, cosign's `payload.Cosign`): the image digest under
//! `critical`, user annotations under `optional`. Field order matches Go's struct order, so
//! the bytes are the ones cosign writes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Digest, Error, ImageRef};

/// `critical.type` of every cosign image signature.
pub const SIMPLE_SIGNING_TYPE: &str = "cosign container image signature";

/// A cosign image-signature payload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SimpleSigningPayload {
    pub critical: Critical,
    /// `null` when no annotations were given (cosign writes `null`, not `{}`).
    pub optional: Option<BTreeMap<String, serde_json::Value>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Critical {
    pub identity: Identity,
    pub image: Image,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    #[serde(rename = "docker-reference")]
    pub docker_reference: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Image {
    #[serde(rename = "docker-manifest-digest")]
    pub docker_manifest_digest: String,
}

/// Largest payload parsed; cosign payloads are a few hundred bytes.
pub const MAX_PAYLOAD_SIZE: usize = 1 << 20;

impl SimpleSigningPayload {
    /// The payload cosign signs for `image` at `digest`: docker-reference is the repository
    /// name without tag or digest.
    pub fn new(
        image: &ImageRef,
        digest: &Digest,
        annotations: &BTreeMap<String, String>,
    ) -> SimpleSigningPayload {
        SimpleSigningPayload {
            critical: Critical {
                identity: Identity {
                    docker_reference: image.name(),
                },
                image: Image {
                    docker_manifest_digest: digest.to_string(),
                },
                kind: SIMPLE_SIGNING_TYPE.to_owned(),
            },
            optional: if annotations.is_empty() {
                None
            } else {
                Some(
                    annotations
                        .iter()
                        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                        .collect(),
                )
            },
        }
    }

    /// The exact bytes to sign (compact JSON, Go field order).
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serialising plain strings and maps cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses untrusted payload bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<SimpleSigningPayload, Error> {
        if bytes.len() > MAX_PAYLOAD_SIZE {
            return Err(Error::InvalidPayload(format!(
                "payload is {} bytes, more than the {MAX_PAYLOAD_SIZE}-byte limit",
                bytes.len()
            )));
        }
        serde_json::from_slice(bytes).map_err(|e| Error::InvalidPayload(e.to_string()))
    }

    /// The claimed manifest digest.
    pub fn digest(&self) -> Result<Digest, Error> {
        self.critical
            .image
            .docker_manifest_digest
            .parse()
            .map_err(|_| {
                Error::InvalidPayload(format!(
                    "invalid or missing digest in claim: `{}`",
                    self.critical.image.docker_manifest_digest
                ))
            })
    }

    /// The value of annotation `key` under `optional`, as a string when it is one.
    pub fn annotation(&self, key: &str) -> Option<String> {
        let v = self.optional.as_ref()?.get(key)?;
        Some(match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_match_cosign() {
        let image: ImageRef = "ghcr.io/o/cosign-lab:v1".parse().unwrap();
        let digest = Digest::sha256(b"m");
        let p = SimpleSigningPayload::new(&image, &digest, &BTreeMap::new());
        let expected = format!(
            "{{\"critical\":{{\"identity\":{{\"docker-reference\":\"ghcr.io/o/cosign-lab\"}},\
             \"image\":{{\"docker-manifest-digest\":\"{digest}\"}},\
             \"type\":\"cosign container image signature\"}},\"optional\":null}}"
        );
        assert_eq!(String::from_utf8(p.to_bytes()).unwrap(), expected);
    }

    #[test]
    fn annotations_are_sorted_like_go_maps() {
        let image: ImageRef = "a.io/b".parse().unwrap();
        let mut ann = BTreeMap::new();
        ann.insert("z".to_owned(), "1".to_owned());
        ann.insert("a".to_owned(), "2".to_owned());
        let p = SimpleSigningPayload::new(&image, &Digest::sha256(b""), &ann);
        let s = String::from_utf8(p.to_bytes()).unwrap();
        assert!(
            s.ends_with("\"optional\":{\"a\":\"2\",\"z\":\"1\"}}"),
            "{s}"
        );
        let back = SimpleSigningPayload::from_slice(s.as_bytes()).unwrap();
        assert_eq!(back.annotation("a").as_deref(), Some("2"));
    }

    #[test]
    fn malformed_payloads_are_errors() {
        assert!(SimpleSigningPayload::from_slice(b"{").is_err());
        assert!(SimpleSigningPayload::from_slice(b"{\"critical\":{}}").is_err());
        let p = SimpleSigningPayload::from_slice(
            br#"{"critical":{"identity":{"docker-reference":"x"},"image":{"docker-manifest-digest":"nope"},"type":"t"},"optional":null}"#,
        )
        .unwrap();
        assert!(p
            .digest()
            .unwrap_err()
            .to_string()
            .contains("invalid or missing digest in claim"));
    }
}
