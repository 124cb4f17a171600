//! Rekor v2 (rekor-tiles) entries in bundles: kind `hashedrekord`, version `0.0.2`, as
//! sigstore-go verifies them (`pkg/verify/tlog.go`, rekor-tiles `pkg/verify`, `pkg/note`).
//!
//! A v2 entry has no integrated time and no SET: it proves inclusion only, with a Merkle proof
//! up to a checkpoint signed by the log. The time of signing must therefore come from an
//! RFC 3161 timestamp (see [`crate::tsa`]); the caller enforces that.
//!
//! Checks:
//! - the checkpoint is a signed note with a line by the log: its name is the host of the log's
//!   `baseUrl` (sigstore-go strips scheme and port), its key ID that of the log's key (ECDSA:
//!   SHA-256 of the PKIX DER, first four bytes, as Rekor v1; Ed25519: the C2SP signed-note ID
//!   over that name); other lines (witness cosignatures) are ignored;
//! - the checkpoint's origin line is that same name;
//! - the inclusion proof leads from the leaf hash of the canonicalized body to the checkpoint's
//!   root at its size (the proof's own root hash and tree size must agree with it);
//! - the body records this bundle's digest (the message digest, or SHA-256 of the DSSE PAE:
//!   rekor-v2 "hashedrekord over DSSE"), this signature and this certificate or key.
//!   sigstore-go rebuilds the body from the bundle and hashes it; comparing the logged body's
//!   fields to the bundle is equivalent, and says which field differs.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use sigil_core::bundle::{pae, TransparencyLogEntry};
use sigil_core::checkpoint::{c2sp_ed25519_key_id, rekor_key_id, Checkpoint, SignedNote};
use sigil_core::keys::{KeyAlgorithm, PublicKey};
use sigil_core::merkle;
use sigil_core::trust_root::TrustedRoot;

use crate::bundle::SignedContent;
use crate::verdict::Failure;
use crate::x509;

fn tlog_err(detail: impl Into<String>) -> Failure {
    Failure::Tlog {
        detail: detail.into(),
    }
}
fn mismatch(detail: impl Into<String>) -> Failure {
    Failure::TlogMismatch {
        detail: detail.into(),
    }
}

/// The host of a log's `baseUrl`, without scheme, user info, port or path.
pub(crate) fn host_of(base_url: &str) -> Option<&str> {
    let rest = base_url
        .split_once("://")
        .map(|(_, r)| r)
        .unwrap_or(base_url);
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split_once(']').map(|(h, _)| h)?
    } else {
        authority.split(':').next()?
    };
    (!host.is_empty()).then_some(host)
}

/// Verifies one Rekor v2 entry against the bundle's content and signer.
pub(crate) fn verify_entry(
    entry: &TransparencyLogEntry,
    root: &TrustedRoot,
    content: &SignedContent<'_>,
    key: &PublicKey,
    leaf: Option<&x509::Leaf>,
) -> Result<(), Failure> {
    let kv = (
        entry.kind_version.kind.as_str(),
        entry.kind_version.version.as_str(),
    );
    if kv != ("hashedrekord", "0.0.2") {
        return Err(tlog_err(format!(
            "unsupported Rekor v2 entry kind `{}` {} (only hashedrekord 0.0.2)",
            kv.0, kv.1
        )));
    }
    let log = root.tlog(&entry.log_id.key_id.0).ok_or_else(|| {
        tlog_err(format!(
            "entry from unknown log {}",
            B64.encode(&entry.log_id.key_id.0)
        ))
    })?;
    let log_key = log.key().map_err(|e| tlog_err(e.to_string()))?;
    let proof = entry
        .inclusion_proof
        .as_ref()
        .ok_or_else(|| tlog_err("rekor v2 entries must have an inclusion proof"))?;
    let text = proof
        .checkpoint
        .as_ref()
        .map(|c| c.envelope.as_str())
        .unwrap_or("");
    if text.is_empty() {
        return Err(tlog_err(
            "entry must contain inclusion proof, with checkpoint",
        ));
    }

    // The checkpoint, signed by the log under its host name.
    let name = host_of(&log.base_url).ok_or_else(|| {
        tlog_err(format!(
            "cannot verify a Rekor v2 entry: the trusted log's baseUrl `{}` has no host",
            log.base_url
        ))
    })?;
    let key_id = match log_key.algorithm() {
        KeyAlgorithm::EcdsaP256 | KeyAlgorithm::EcdsaP384 => rekor_key_id(&log_key),
        KeyAlgorithm::Ed25519 => c2sp_ed25519_key_id(name, &log_key)
            .ok_or_else(|| tlog_err("malformed Ed25519 log key"))?,
        other => {
            return Err(tlog_err(format!(
                "Rekor v2 checkpoints signed with {other:?} keys are not supported"
            )))
        }
    };
    let note = SignedNote::parse(text).map_err(|e| tlog_err(format!("checkpoint: {e}")))?;
    note.verify(&sigil_core::checkpoint::NoteVerifier {
        name: name.to_owned(),
        key_id,
        key: log_key.clone(),
    })
    .map_err(|e| tlog_err(format!("checkpoint: {e}")))?;
    let cp =
        Checkpoint::parse_body(&note.body).map_err(|e| tlog_err(format!("checkpoint: {e}")))?;
    if cp.origin != name {
        return Err(tlog_err(format!(
            "checkpoint origin `{}` is not the log's name `{name}`",
            cp.origin
        )));
    }

    // The inclusion proof, up to the checkpoint's root.
    let (index, size) = match (
        u64::try_from(proof.log_index.0),
        u64::try_from(proof.tree_size.0),
    ) {
        (Ok(i), Ok(s)) => (i, s),
        _ => return Err(tlog_err("negative index or tree size in inclusion proof")),
    };
    if size != cp.size || proof.root_hash.0.as_slice() != cp.root_hash.as_slice() {
        return Err(tlog_err(format!(
            "the inclusion proof (size {size}) and the checkpoint (size {}) disagree",
            cp.size
        )));
    }
    let hashes = proof
        .hashes
        .iter()
        .map(|h| {
            <merkle::Hash>::try_from(h.0.as_slice())
                .map_err(|_| tlog_err("inclusion proof hash is not 32 bytes"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let leaf_hash = merkle::leaf_hash(&entry.canonicalized_body.0);
    merkle::verify_inclusion(index, size, &leaf_hash, &hashes, &cp.root_hash)
        .map_err(|e| tlog_err(format!("inclusion proof: {e}")))?;

    check_body(&entry.canonicalized_body.0, content, key, leaf)
}

/// The logged hashedrekord 0.0.2 body must record this digest, signature and signer.
fn check_body(
    body: &[u8],
    content: &SignedContent<'_>,
    key: &PublicKey,
    leaf: Option<&x509::Leaf>,
) -> Result<(), Failure> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| mismatch(format!("body is not JSON: {e}")))?;
    if v["kind"].as_str() != Some("hashedrekord") || v["apiVersion"].as_str() != Some("0.0.2") {
        return Err(mismatch("body kind differs from the entry's kindVersion"));
    }
    let spec = &v["spec"]["hashedRekordV002"];
    let b64 = |s: &serde_json::Value| s.as_str().and_then(|s| B64.decode(s).ok());
    let (signature, digest): (&[u8], Vec<u8>) = match content {
        SignedContent::Message { signature, digest } => match digest {
            Some(d) => (signature, d.to_vec()),
            // sigstore-go rebuilds the entry from the bundle's digest; without one it cannot.
            None => {
                return Err(mismatch(
                    "a Rekor v2 entry needs the bundle's message digest to be checked",
                ))
            }
        },
        SignedContent::Dsse {
            payload_type,
            payload,
            signature,
        } => (
            signature,
            Sha256::digest(pae(payload_type, payload)).to_vec(),
        ),
    };
    if spec["data"]["algorithm"].as_str() != Some("SHA2_256") {
        return Err(mismatch("the logged digest is not SHA2_256"));
    }
    if b64(&spec["data"]["digest"]).as_deref() != Some(digest.as_slice()) {
        return Err(mismatch(
            "the logged digest is not the bundle's (message digest or DSSE PAE hash)",
        ));
    }
    let sig = &spec["signature"];
    if b64(&sig["content"]).as_deref() != Some(signature) {
        return Err(mismatch("the logged signature is not the bundle's"));
    }
    let verifier = &sig["verifier"];
    let signer_ok = match leaf {
        Some(l) => b64(&verifier["x509Certificate"]["rawBytes"]).as_deref() == Some(&l.der[..]),
        None => b64(&verifier["publicKey"]["rawBytes"]).as_deref() == Some(key.spki_der()),
    };
    if !signer_ok {
        return Err(mismatch(
            "the logged key or certificate is not the bundle's",
        ));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::host_of;

    #[test]
    fn host_of_strips_scheme_port_and_path() {
        assert_eq!(
            host_of("https://log2025-alpha1.rekor.sigstage.dev"),
            Some("log2025-alpha1.rekor.sigstage.dev")
        );
        assert_eq!(host_of("http://127.0.0.1:3003/api"), Some("127.0.0.1"));
        assert_eq!(host_of("http://[::1]:80"), Some("::1"));
        assert_eq!(host_of("http://rekor-local"), Some("rekor-local"));
        assert_eq!(host_of("https://"), None);
    }
}
