//! TUF metadata (spec 1.0 §4): the signed envelope, the four top-level roles, and the trusted
//! set that admits each new file only after the checks of the client workflow (spec §5).
//! The order of checks follows python-tuf's `TrustedMetadataSet`, so a repository that
//! python-tuf accepts is accepted here and a failure names the same check.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::Digest as _;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::{canonical, Role, TufError};
use crate::keys::{KeyAlgorithm, PublicKey};

/// A signed metadata file, parsed: the signatures, the canonical bytes they cover, and the
/// typed `signed` part.
pub(super) struct Signed<T> {
    signatures: Vec<Signature>,
    canonical: Vec<u8>,
    pub(super) meta: T,
    /// The file as received, kept to be cached byte for byte.
    pub(super) bytes: Vec<u8>,
}

#[derive(Deserialize)]
struct Envelope {
    signatures: Vec<Signature>,
    signed: Value,
}

#[derive(Deserialize)]
struct Signature {
    keyid: String,
    sig: String,
}

#[derive(Deserialize)]
struct Common {
    #[serde(rename = "_type")]
    kind: String,
    spec_version: String,
    version: u64,
    expires: String,
}

pub(super) struct Header {
    pub(super) version: u64,
    pub(super) expires: OffsetDateTime,
}

#[derive(Deserialize)]
struct RootFields {
    #[serde(default)]
    consistent_snapshot: bool,
    keys: BTreeMap<String, Key>,
    roles: BTreeMap<String, RoleKeys>,
}

#[derive(Deserialize)]
struct Key {
    keytype: String,
    scheme: String,
    keyval: KeyVal,
}

#[derive(Deserialize)]
struct KeyVal {
    public: String,
}

#[derive(Deserialize)]
struct RoleKeys {
    keyids: Vec<String>,
    threshold: u64,
}

pub(super) struct Root {
    pub(super) header: Header,
    pub(super) consistent_snapshot: bool,
    keys: BTreeMap<String, Key>,
    roles: BTreeMap<String, RoleKeys>,
}

/// What a referencing file says about another: `meta` entries of timestamp and snapshot.
#[derive(Deserialize, Clone)]
pub(super) struct MetaFile {
    pub(super) version: u64,
    #[serde(default)]
    pub(super) length: Option<u64>,
    #[serde(default)]
    hashes: Option<Map<String, Value>>,
}

#[derive(Deserialize)]
struct MetaFields {
    meta: BTreeMap<String, MetaFile>,
}

pub(super) struct Timestamp {
    pub(super) header: Header,
    pub(super) snapshot: MetaFile,
}

pub(super) struct Snapshot {
    pub(super) header: Header,
    pub(super) meta: BTreeMap<String, MetaFile>,
}

/// A target file's entry in targets metadata.
#[derive(Deserialize, Clone)]
pub(super) struct TargetFile {
    pub(super) length: u64,
    hashes: Map<String, Value>,
}

#[derive(Deserialize)]
struct TargetsFields {
    targets: Map<String, Value>,
    #[serde(default)]
    delegations: Option<Value>,
}

pub(super) struct Targets {
    pub(super) header: Header,
    targets: Map<String, Value>,
    pub(super) has_delegations: bool,
}

fn malformed(role: Role, reason: impl std::fmt::Display) -> TufError {
    TufError::Malformed {
        role,
        reason: reason.to_string(),
    }
}

/// Parses an envelope of `role` and its common fields (spec §4.2): `_type` names the role,
/// the spec major version is 1, the version is positive.
fn parse<T: serde::de::DeserializeOwned>(
    role: Role,
    bytes: &[u8],
) -> Result<(Signed<()>, Header, T), TufError> {
    let envelope: Envelope = serde_json::from_slice(bytes).map_err(|e| malformed(role, e))?;
    let canonical = canonical::encode(&envelope.signed).map_err(|e| malformed(role, e))?;
    let common: Common =
        serde_json::from_value(envelope.signed.clone()).map_err(|e| malformed(role, e))?;
    if common.kind != role.as_str() {
        return Err(TufError::WrongType {
            expected: role,
            got: common.kind,
        });
    }
    if common.spec_version.split('.').next() != Some("1") {
        return Err(TufError::SpecVersion {
            role,
            got: common.spec_version,
        });
    }
    if common.version == 0 {
        return Err(malformed(role, "version must be at least 1"));
    }
    let expires = OffsetDateTime::parse(&common.expires, &Rfc3339)
        .map_err(|e| malformed(role, format!("expires `{}`: {e}", common.expires)))?;
    let fields: T = serde_json::from_value(envelope.signed).map_err(|e| malformed(role, e))?;
    let signed = Signed {
        signatures: envelope.signatures,
        canonical,
        meta: (),
        bytes: bytes.to_vec(),
    };
    Ok((
        signed,
        Header {
            version: common.version,
            expires,
        },
        fields,
    ))
}

impl<T> Signed<T> {
    fn with<U>(self, meta: U) -> Signed<U> {
        Signed {
            signatures: self.signatures,
            canonical: self.canonical,
            meta,
            bytes: self.bytes,
        }
    }
}

pub(super) fn parse_root(bytes: &[u8]) -> Result<Signed<Root>, TufError> {
    let (signed, header, fields): (_, _, RootFields) = parse(Role::Root, bytes)?;
    for role in Role::ALL {
        let keys = fields
            .roles
            .get(role.as_str())
            .ok_or_else(|| malformed(Role::Root, format!("no `{role}` role")))?;
        if keys.threshold == 0 {
            return Err(malformed(
                Role::Root,
                format!("`{role}` threshold must be at least 1"),
            ));
        }
    }
    Ok(signed.with(Root {
        header,
        consistent_snapshot: fields.consistent_snapshot,
        keys: fields.keys,
        roles: fields.roles,
    }))
}

pub(super) fn parse_timestamp(bytes: &[u8]) -> Result<Signed<Timestamp>, TufError> {
    let (signed, header, fields): (_, _, MetaFields) = parse(Role::Timestamp, bytes)?;
    let snapshot = fields
        .meta
        .get("snapshot.json")
        .cloned()
        .ok_or_else(|| malformed(Role::Timestamp, "no `snapshot.json` in meta"))?;
    Ok(signed.with(Timestamp { header, snapshot }))
}

pub(super) fn parse_snapshot(bytes: &[u8]) -> Result<Signed<Snapshot>, TufError> {
    let (signed, header, fields): (_, _, MetaFields) = parse(Role::Snapshot, bytes)?;
    Ok(signed.with(Snapshot {
        header,
        meta: fields.meta,
    }))
}

pub(super) fn parse_targets(bytes: &[u8]) -> Result<Signed<Targets>, TufError> {
    let (signed, header, fields): (_, _, TargetsFields) = parse(Role::Targets, bytes)?;
    let has_delegations = fields
        .delegations
        .as_ref()
        .and_then(|d| d.get("roles"))
        .and_then(Value::as_array)
        .is_some_and(|roles| !roles.is_empty());
    Ok(signed.with(Targets {
        header,
        targets: fields.targets,
        has_delegations,
    }))
}

impl Root {
    /// Checks that a threshold of `role`'s keys in this root signed `signed` (spec §5.3.4,
    /// §5.4.2, §5.5.3, §5.6.3). A key id counts once however many signatures carry it; a
    /// signature by a key of another role, an unknown key or an unsupported key type counts
    /// for nothing, as in python-tuf.
    pub(super) fn verify<T>(&self, role: Role, signed: &Signed<T>) -> Result<(), TufError> {
        let Some(keys) = self.roles.get(role.as_str()) else {
            return Err(malformed(Role::Root, format!("no `{role}` role")));
        };
        let mut valid = BTreeSet::new();
        for sig in &signed.signatures {
            if valid.contains(&sig.keyid) || !keys.keyids.contains(&sig.keyid) {
                continue;
            }
            let Some(key) = self.keys.get(&sig.keyid) else {
                continue;
            };
            if key.verifies(&signed.canonical, &sig.sig) {
                valid.insert(sig.keyid.clone());
            }
        }
        if (valid.len() as u64) < keys.threshold {
            return Err(TufError::Threshold {
                role,
                valid: valid.len(),
                threshold: keys.threshold,
            });
        }
        Ok(())
    }
}

/// The DER of a P-256 SubjectPublicKeyInfo up to its 65-byte uncompressed point (RFC 5480).
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

impl Key {
    fn verifies(&self, message: &[u8], sig_hex: &str) -> bool {
        let Ok(sig) = hex::decode(sig_hex) else {
            return false;
        };
        match (self.keytype.as_str(), self.scheme.as_str()) {
            // securesystemslib's ECDSA keys: PEM SubjectPublicKeyInfo, DER signatures over
            // SHA-256 of the canonical bytes. Sigstore's root and targets keys are these.
            // Sigstore's roots 1 to 4 (go-tuf era) give the key as the hex of the uncompressed
            // point instead.
            ("ecdsa" | "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256") => {
                let public = self.keyval.public.as_str();
                let key = if public.starts_with("-----BEGIN") {
                    PublicKey::from_pem(public.as_bytes()).ok()
                } else {
                    hex::decode(public).ok().and_then(|point| {
                        let mut der = P256_SPKI_PREFIX.to_vec();
                        der.extend_from_slice(&point);
                        PublicKey::from_spki_der(&der).ok()
                    })
                };
                key.is_some_and(|k| {
                    k.algorithm() == KeyAlgorithm::EcdsaP256 && k.verify(message, &sig).is_ok()
                })
            }
            // Ed25519: the raw 32-byte key in hex.
            ("ed25519", "ed25519") => hex::decode(&self.keyval.public).is_ok_and(|raw| {
                raw.len() == 32
                    && ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, raw)
                        .verify(message, &sig)
                        .is_ok()
            }),
            _ => false,
        }
    }
}

impl MetaFile {
    /// Checks `bytes` against the length and hashes this entry gives, when it gives them.
    pub(super) fn check(&self, file: &str, bytes: &[u8]) -> Result<(), TufError> {
        if let Some(length) = self.length {
            check_length(file, length, bytes)?;
        }
        if let Some(hashes) = &self.hashes {
            check_hashes(file, hashes, bytes)?;
        }
        Ok(())
    }
}

impl TargetFile {
    /// Checks a downloaded target against its length and every hash listed (spec §5.7.3).
    pub(super) fn check(&self, name: &str, bytes: &[u8]) -> Result<(), TufError> {
        check_length(name, self.length, bytes)?;
        check_hashes(name, &self.hashes, bytes)
    }

    /// The hash that prefixes the file name on a consistent-snapshot repository: the first
    /// one listed, as python-tuf picks it.
    pub(super) fn path_hash(&self) -> Option<&str> {
        self.hashes.values().next().and_then(Value::as_str)
    }
}

fn check_length(file: &str, expected: u64, bytes: &[u8]) -> Result<(), TufError> {
    if bytes.len() as u64 != expected {
        return Err(TufError::Length {
            file: file.to_owned(),
            expected,
            got: bytes.len() as u64,
        });
    }
    Ok(())
}

fn check_hashes(file: &str, hashes: &Map<String, Value>, bytes: &[u8]) -> Result<(), TufError> {
    if hashes.is_empty() {
        return Err(TufError::NoHashes {
            file: file.to_owned(),
        });
    }
    for (algorithm, expected) in hashes {
        let got = match algorithm.as_str() {
            "sha256" => hex::encode(sha2::Sha256::digest(bytes)),
            "sha512" => hex::encode(sha2::Sha512::digest(bytes)),
            other => {
                return Err(TufError::UnsupportedHash {
                    file: file.to_owned(),
                    algorithm: other.to_owned(),
                })
            }
        };
        if expected.as_str() != Some(got.as_str()) {
            return Err(TufError::Hash {
                file: file.to_owned(),
                algorithm: algorithm.clone(),
            });
        }
    }
    Ok(())
}

impl Targets {
    /// The top-level entry for `name`, parsed.
    pub(super) fn get(&self, name: &str) -> Result<Option<TargetFile>, TufError> {
        match self.targets.get(name) {
            None => Ok(None),
            Some(v) => serde_json::from_value(v.clone())
                .map(Some)
                .map_err(|e| malformed(Role::Targets, format!("target `{name}`: {e}"))),
        }
    }
}
