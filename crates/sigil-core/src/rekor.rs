//! Rekor v1 log entries: the JSON shapes of the API, signed entry timestamps (SETs), inclusion
//! proof checks against a signed checkpoint, and the entry kinds a log accepts
//! ([`canonicalize_proposed`]: hashedrekord 0.0.1, dsse 0.0.1, intoto 0.0.2).
//!
//! Shapes follow rekor's `openapi.yaml` (`LogEntry`, `InclusionProof`) and `pkg/types/*`.
//! - log ID = SHA-256 of the log key's PKIX DER, hex in the API.
//! - SET = signature by the log key over the RFC 8785 canonical JSON of
//!   `{"body","integratedTime","logID","logIndex"}` (rekor `pkg/api/entries.go`
//!   `signEntry`; sigstore-go `VerifySET`).
//! - entry UUID = hex tree ID (16 digits) ‖ hex leaf hash; the bare 64-digit leaf hash is
//!   accepted too, as Rekor does.

mod body;
mod jcs;

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::checkpoint::{self, Checkpoint, CheckpointError, NoteVerifier};
use crate::keys::{PrivateKey, PublicKey};
use crate::merkle::{self, Hash, ProofError};

pub use body::{
    canonical_verifier_pem, canonicalize_proposed, canonicalize_proposed_slice, AcceptedEntry,
    EntryKind, DEFAULT_MAX_ENTRY_SIZE,
};
pub use jcs::{canonicalize as canonical_json, JcsError};

/// A Rekor entry or SET could not be parsed, accepted or verified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RekorError {
    #[error("malformed entry: {0}")]
    Malformed(String),
    #[error("unsupported entry kind `{kind}` version `{version}`")]
    UnsupportedKind { kind: String, version: String },
    #[error("entry is {size} bytes, above the limit of {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("invalid public key or certificate: {0}")]
    InvalidKey(String),
    #[error("verifying signature: {0}")]
    BadSignature(String),
    #[error("{0}")]
    Canonical(#[from] JcsError),
    #[error("entry has no {0}")]
    Missing(&'static str),
    #[error("signed entry timestamp does not verify against the log key")]
    BadSet,
    #[error("log ID {got} is not the trusted log's {expected}")]
    WrongLog { expected: String, got: String },
    #[error("inclusion proof: {0}")]
    Proof(#[from] ProofError),
    #[error("checkpoint: {0}")]
    Checkpoint(#[from] CheckpointError),
    #[error("checkpoint (size {cp_size}) does not commit to the proof's tree (size {proof_size})")]
    CheckpointMismatch { cp_size: u64, proof_size: u64 },
    #[error("signing failed")]
    Signing,
}

/// One entry as `GET /api/v1/log/entries…` returns it (rekor `LogEntryAnon`); responses map
/// the entry UUID to this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attestation: Option<serde_json::Value>,
    /// base64 of the canonical body.
    pub body: String,
    #[serde(rename = "integratedTime")]
    pub integrated_time: i64,
    /// hex SHA-256 of the log's public key.
    #[serde(rename = "logID")]
    pub log_id: String,
    #[serde(rename = "logIndex")]
    pub log_index: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
}

/// A map from entry UUID to entry, the body of most entry responses.
pub type LogEntries = BTreeMap<String, LogEntry>;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    #[serde(
        rename = "inclusionProof",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub inclusion_proof: Option<InclusionProof>,
    /// base64 SET.
    #[serde(
        rename = "signedEntryTimestamp",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub signed_entry_timestamp: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionProof {
    /// The signed checkpoint (note text) for `tree_size`.
    pub checkpoint: String,
    /// hex hashes, leaf side first.
    pub hashes: Vec<String>,
    /// Index of the leaf in this tree (differs from the global index on sharded logs).
    #[serde(rename = "logIndex")]
    pub log_index: i64,
    #[serde(rename = "rootHash")]
    pub root_hash: String,
    #[serde(rename = "treeSize")]
    pub tree_size: i64,
}

/// `GET /api/v1/log` (rekor `LogInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogInfo {
    #[serde(rename = "rootHash")]
    pub root_hash: String,
    #[serde(rename = "treeSize")]
    pub tree_size: i64,
    #[serde(rename = "signedTreeHead")]
    pub signed_tree_head: String,
    #[serde(rename = "treeID")]
    pub tree_id: String,
    #[serde(
        rename = "inactiveShards",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    pub inactive_shards: Vec<serde_json::Value>,
}

/// `GET /api/v1/log/proof` (rekor `ConsistencyProof`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsistencyProof {
    #[serde(rename = "rootHash")]
    pub root_hash: String,
    pub hashes: Vec<String>,
}

/// Rekor's error body (`{"code":400,"message":"…"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    pub code: i64,
    pub message: String,
}

/// The log ID of a log key: SHA-256 of its PKIX DER.
pub fn log_id(key: &PublicKey) -> Hash {
    Sha256::digest(key.spki_der()).into()
}

/// The entry UUID Rekor returns: 16 hex digits of tree ID, then the hex leaf hash.
pub fn entry_uuid(tree_id: u64, leaf: &Hash) -> String {
    format!("{tree_id:016x}{}", hex::encode(leaf))
}

/// The leaf hash named by an entry UUID (80 hex digits with tree ID, or the bare 64).
pub fn uuid_leaf_hash(uuid: &str) -> Option<Hash> {
    let h = match uuid.len() {
        80 => uuid.get(16..)?,
        64 => uuid,
        _ => return None,
    };
    let bytes = hex::decode(h).ok()?;
    bytes.try_into().ok()
}

/// The bytes a SET signs: canonical JSON of the entry's body, time, log ID and index.
pub fn set_payload(entry: &LogEntry) -> Result<Vec<u8>, RekorError> {
    // Written directly in RFC 8785 form (members already in UTF-16 order) rather than
    // through a `serde_json::Value`: the log builds one per append.
    let mut out = Vec::with_capacity(entry.body.len() + entry.log_id.len() + 80);
    out.extend_from_slice(b"{\"body\":");
    jcs::write_string(&entry.body, &mut out);
    out.extend_from_slice(b",\"integratedTime\":");
    jcs::write_int(entry.integrated_time, &mut out)?;
    out.extend_from_slice(b",\"logID\":");
    jcs::write_string(&entry.log_id, &mut out);
    out.extend_from_slice(b",\"logIndex\":");
    jcs::write_int(entry.log_index, &mut out)?;
    out.push(b'}');
    Ok(out)
}

/// Signs an entry's SET with the log key (the log's side).
pub fn sign_set(entry: &LogEntry, log_key: &PrivateKey) -> Result<Vec<u8>, RekorError> {
    let payload = set_payload(entry)?;
    log_key.sign(&payload).map_err(|_| RekorError::Signing)
}

/// Verifies an entry's SET against the trusted log key; the entry's `logID` must be that
/// key's log ID.
pub fn verify_set(entry: &LogEntry, log_key: &PublicKey) -> Result<(), RekorError> {
    check_log_id(entry, log_key)?;
    let set = entry
        .verification
        .as_ref()
        .and_then(|v| v.signed_entry_timestamp.as_deref())
        .ok_or(RekorError::Missing("signed entry timestamp"))?;
    let sig = B64
        .decode(set)
        .map_err(|_| RekorError::Malformed("signed entry timestamp is not base64".into()))?;
    let payload = set_payload(entry)?;
    log_key
        .verify(&payload, &sig)
        .map_err(|_| RekorError::BadSet)
}

fn check_log_id(entry: &LogEntry, log_key: &PublicKey) -> Result<(), RekorError> {
    let expected = hex::encode(log_id(log_key));
    if !entry.log_id.eq_ignore_ascii_case(&expected) {
        return Err(RekorError::WrongLog {
            expected,
            got: entry.log_id.clone(),
        });
    }
    Ok(())
}

/// Verifies an entry's inclusion proof: the body's leaf hash leads to `rootHash` at
/// `treeSize`, and the checkpoint is signed by `verifier` and commits to that same size and
/// root. Returns the checkpoint.
pub fn verify_inclusion(
    entry: &LogEntry,
    verifier: &NoteVerifier,
) -> Result<Checkpoint, RekorError> {
    check_log_id(entry, &verifier.key)?;
    let proof = entry
        .verification
        .as_ref()
        .and_then(|v| v.inclusion_proof.as_ref())
        .ok_or(RekorError::Missing("inclusion proof"))?;
    let body = B64
        .decode(&entry.body)
        .map_err(|_| RekorError::Malformed("body is not base64".into()))?;
    let leaf = merkle::leaf_hash(&body);
    let (index, size) = match (
        u64::try_from(proof.log_index),
        u64::try_from(proof.tree_size),
    ) {
        (Ok(i), Ok(s)) => (i, s),
        _ => {
            return Err(RekorError::Malformed(
                "negative index or tree size in inclusion proof".into(),
            ))
        }
    };
    let hashes = proof
        .hashes
        .iter()
        .map(|h| decode_hash(h))
        .collect::<Result<Vec<_>, _>>()?;
    let root = decode_hash(&proof.root_hash)?;
    merkle::verify_inclusion(index, size, &leaf, &hashes, &root)?;
    let cp = checkpoint::verify_checkpoint(&proof.checkpoint, verifier)?;
    if cp.size != size || cp.root_hash != root {
        return Err(RekorError::CheckpointMismatch {
            cp_size: cp.size,
            proof_size: size,
        });
    }
    Ok(cp)
}

/// Decodes a hex hash as the API carries them.
pub fn decode_hash(h: &str) -> Result<Hash, RekorError> {
    hex::decode(h)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| RekorError::Malformed(format!("`{h}` is not a hex SHA-256 hash")))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;
