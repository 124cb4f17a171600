//! Checkpoints in the C2SP signed-note format (`c2sp.org/signed-note`, `c2sp.org/tlog-checkpoint`).
//!
//! A checkpoint body is `<origin>\n<tree size>\n<base64 root hash>\n` followed by optional
//! extension lines; the note adds a blank line and one line per signature,
//! `— <key name> <base64(4-byte key ID ‖ signature)>\n` (U+2014 em dash).
//!
//! Key IDs: Rekor v1 uses the first four bytes of SHA-256 over the log key's PKIX DER for every
//! key type (rekor `pkg/util/signed_note.go`; sigstore-python checks `logId[:4]`);
//! C2SP's Ed25519 verifier keys use SHA-256(name ‖ 0x0A ‖ 0x01 ‖ key)[:4]. Both are available
//! through [`NoteVerifier`]. As sigstore-go does, a note verifies when at least one signature
//! line carries the expected name *and* key ID and verifies; lines for other keys (witnesses)
//! are ignored, and a matching signature under a different key ID is not accepted.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use sha2::{Digest as _, Sha256};

use crate::keys::{KeyAlgorithm, PrivateKey, PublicKey};
use crate::merkle::Hash;

/// Upper bound on a note we parse: real checkpoints are a few hundred bytes.
const MAX_NOTE_LEN: usize = 1 << 20;
/// Upper bound on signature lines (signed-note suggests verifiers cap this).
const MAX_SIGNATURES: usize = 100;

/// A checkpoint could not be parsed, signed or verified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    #[error("malformed signed note: {0}")]
    MalformedNote(&'static str),
    #[error("malformed checkpoint body: {0}")]
    MalformedBody(&'static str),
    #[error("no signature by `{name}` with key ID {key_id} on the checkpoint")]
    NoMatchingSignature { name: String, key_id: String },
    #[error("checkpoint signature by `{name}` does not verify")]
    BadSignature { name: String },
    #[error("signing the checkpoint failed")]
    Signing,
}

/// The signed content of a log checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line (Rekor v1: `rekor.sigstore.dev - <treeID>`).
    pub origin: String,
    pub size: u64,
    pub root_hash: Hash,
    /// Extension lines after the root hash, without their newlines.
    pub extensions: Vec<String>,
}

impl Checkpoint {
    pub fn new(origin: impl Into<String>, size: u64, root_hash: Hash) -> Checkpoint {
        Checkpoint {
            origin: origin.into(),
            size,
            root_hash,
            extensions: Vec::new(),
        }
    }

    /// The note body: the bytes the signatures cover, ending with a newline.
    pub fn to_body(&self) -> String {
        let mut s = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root_hash)
        );
        for e in &self.extensions {
            s.push_str(e);
            s.push('\n');
        }
        s
    }

    /// Parses a note body (see the module docs).
    pub fn parse_body(body: &str) -> Result<Checkpoint, CheckpointError> {
        let rest = body
            .strip_suffix('\n')
            .ok_or(CheckpointError::MalformedBody(
                "body does not end with a newline",
            ))?;
        let mut lines = rest.split('\n');
        let origin = lines
            .next()
            .filter(|o| !o.is_empty())
            .ok_or(CheckpointError::MalformedBody("missing origin line"))?;
        let size_line = lines
            .next()
            .ok_or(CheckpointError::MalformedBody("missing tree size line"))?;
        // Decimal without sign or leading zeros, as tlog-checkpoint requires.
        if size_line.is_empty()
            || !size_line.bytes().all(|b| b.is_ascii_digit())
            || (size_line.len() > 1 && size_line.starts_with('0'))
        {
            return Err(CheckpointError::MalformedBody(
                "tree size is not a decimal number",
            ));
        }
        let size: u64 = size_line
            .parse()
            .map_err(|_| CheckpointError::MalformedBody("tree size out of range"))?;
        let root_line = lines
            .next()
            .ok_or(CheckpointError::MalformedBody("missing root hash line"))?;
        let root = B64
            .decode(root_line)
            .map_err(|_| CheckpointError::MalformedBody("root hash is not base64"))?;
        let root_hash: Hash = root
            .try_into()
            .map_err(|_| CheckpointError::MalformedBody("root hash is not 32 bytes"))?;
        let mut extensions = Vec::new();
        for l in lines {
            if l.is_empty() {
                return Err(CheckpointError::MalformedBody("empty extension line"));
            }
            extensions.push(l.to_owned());
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root_hash,
            extensions,
        })
    }

    /// Signs the checkpoint and returns the complete note text.
    pub fn sign(&self, signer: &NoteSigner<'_>) -> Result<String, CheckpointError> {
        let body = self.to_body();
        let sig = signer.sign(&body)?;
        Ok(SignedNote {
            body,
            signatures: vec![sig],
        }
        .to_text())
    }
}

/// One signature line of a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    pub name: String,
    pub key_id: [u8; 4],
    pub signature: Vec<u8>,
}

/// A signed note: a body and its signature lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedNote {
    pub body: String,
    pub signatures: Vec<NoteSignature>,
}

impl SignedNote {
    /// Parses note text: the body ends at the last blank line; every line after it is a
    /// signature line.
    pub fn parse(text: &str) -> Result<SignedNote, CheckpointError> {
        if text.len() > MAX_NOTE_LEN {
            return Err(CheckpointError::MalformedNote("note is too large"));
        }
        let split = text.rfind("\n\n").ok_or(CheckpointError::MalformedNote(
            "no blank line before the signatures",
        ))?;
        let body = &text[..split + 1];
        let sigs = &text[split + 2..];
        let sigs = sigs
            .strip_suffix('\n')
            .ok_or(CheckpointError::MalformedNote(
                "signature block does not end with a newline",
            ))?;
        let mut signatures = Vec::new();
        for line in sigs.split('\n') {
            if signatures.len() >= MAX_SIGNATURES {
                return Err(CheckpointError::MalformedNote("too many signatures"));
            }
            let rest = line
                .strip_prefix("\u{2014} ")
                .ok_or(CheckpointError::MalformedNote(
                    "signature line does not start with an em dash",
                ))?;
            let (name, b64) = rest.rsplit_once(' ').ok_or(CheckpointError::MalformedNote(
                "signature line has no key name",
            ))?;
            if name.is_empty() || name.contains(' ') || name.contains('+') {
                return Err(CheckpointError::MalformedNote("invalid key name"));
            }
            let raw = B64
                .decode(b64)
                .map_err(|_| CheckpointError::MalformedNote("signature is not base64"))?;
            if raw.len() < 5 {
                return Err(CheckpointError::MalformedNote("signature too short"));
            }
            let (id, sig) = raw.split_at(4);
            let mut key_id = [0u8; 4];
            key_id.copy_from_slice(id);
            signatures.push(NoteSignature {
                name: name.to_owned(),
                key_id,
                signature: sig.to_vec(),
            });
        }
        if signatures.is_empty() {
            return Err(CheckpointError::MalformedNote("no signatures"));
        }
        Ok(SignedNote {
            body: body.to_owned(),
            signatures,
        })
    }

    /// The note as text.
    pub fn to_text(&self) -> String {
        let mut s = self.body.clone();
        s.push('\n');
        for sig in &self.signatures {
            let mut raw = sig.key_id.to_vec();
            raw.extend_from_slice(&sig.signature);
            s.push_str(&format!("\u{2014} {} {}\n", sig.name, B64.encode(raw)));
        }
        s
    }

    /// Checks the signature of `verifier`; see the module docs for the rule.
    pub fn verify(&self, verifier: &NoteVerifier) -> Result<(), CheckpointError> {
        let mut candidates = self
            .signatures
            .iter()
            .filter(|s| s.name == verifier.name && s.key_id == verifier.key_id)
            .peekable();
        if candidates.peek().is_none() {
            return Err(CheckpointError::NoMatchingSignature {
                name: verifier.name.clone(),
                key_id: hex::encode(verifier.key_id),
            });
        }
        if candidates.any(|s| {
            verifier
                .key
                .verify(self.body.as_bytes(), &s.signature)
                .is_ok()
        }) {
            Ok(())
        } else {
            Err(CheckpointError::BadSignature {
                name: verifier.name.clone(),
            })
        }
    }
}

/// Parses a signed checkpoint, checks `verifier`'s signature and returns the checkpoint.
pub fn verify_checkpoint(
    text: &str,
    verifier: &NoteVerifier,
) -> Result<Checkpoint, CheckpointError> {
    let note = SignedNote::parse(text)?;
    note.verify(verifier)?;
    Checkpoint::parse_body(&note.body)
}

/// Rekor v1's key ID: SHA-256 over the PKIX DER, first four bytes.
pub fn rekor_key_id(key: &PublicKey) -> [u8; 4] {
    let d = Sha256::digest(key.spki_der());
    [d[0], d[1], d[2], d[3]]
}

/// C2SP signed-note key ID of an Ed25519 key: SHA-256(name ‖ "\n" ‖ 0x01 ‖ 32-byte key)[:4].
/// `None` for other key types.
pub fn c2sp_ed25519_key_id(name: &str, key: &PublicKey) -> Option<[u8; 4]> {
    if key.algorithm() != KeyAlgorithm::Ed25519 {
        return None;
    }
    // The raw key is the last 32 bytes of an Ed25519 SPKI (fixed 12-byte prefix).
    let der = key.spki_der();
    let raw = der.get(der.len().checked_sub(32)?..)?;
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', 0x01]);
    h.update(raw);
    let d = h.finalize();
    Some([d[0], d[1], d[2], d[3]])
}

/// A key that verifies note signatures under a name and key ID.
#[derive(Debug, Clone)]
pub struct NoteVerifier {
    pub name: String,
    pub key_id: [u8; 4],
    pub key: PublicKey,
}

impl NoteVerifier {
    /// Rekor v1's convention: key ID from [`rekor_key_id`].
    pub fn rekor(name: impl Into<String>, key: PublicKey) -> NoteVerifier {
        NoteVerifier {
            name: name.into(),
            key_id: rekor_key_id(&key),
            key,
        }
    }
}

/// A private key that signs notes under a name and key ID.
#[derive(Debug)]
pub struct NoteSigner<'a> {
    pub name: String,
    pub key_id: [u8; 4],
    pub key: &'a PrivateKey,
}

impl<'a> NoteSigner<'a> {
    /// Rekor v1's convention: key ID from [`rekor_key_id`].
    pub fn rekor(name: impl Into<String>, key: &'a PrivateKey) -> NoteSigner<'a> {
        NoteSigner {
            name: name.into(),
            key_id: rekor_key_id(key.public_key()),
            key,
        }
    }

    /// Signs `body` (ECDSA with SHA-256 over the bytes, or Ed25519).
    pub fn sign(&self, body: &str) -> Result<NoteSignature, CheckpointError> {
        let signature = self
            .key
            .sign(body.as_bytes())
            .map_err(|_| CheckpointError::Signing)?;
        Ok(NoteSignature {
            name: self.name.clone(),
            key_id: self.key_id,
            signature,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_verify() {
        let key = PrivateKey::generate_p256().unwrap();
        let mut cp = Checkpoint::new("log.example - 42", 7, [9u8; 32]);
        cp.extensions.push("Timestamp: 1".into());
        let text = cp.sign(&NoteSigner::rekor("log.example", &key)).unwrap();
        assert!(text.contains("\n\n\u{2014} log.example "));
        let v = NoteVerifier::rekor("log.example", key.public_key().clone());
        assert_eq!(verify_checkpoint(&text, &v).unwrap(), cp);

        // A different name or key is refused.
        let other = PrivateKey::generate_p256().unwrap();
        let v2 = NoteVerifier::rekor("log.example", other.public_key().clone());
        assert!(matches!(
            verify_checkpoint(&text, &v2),
            Err(CheckpointError::NoMatchingSignature { .. })
        ));
        // Right key ID but tampered body.
        let tampered = text.replacen("\n7\n", "\n8\n", 1);
        assert!(matches!(
            verify_checkpoint(&tampered, &v),
            Err(CheckpointError::BadSignature { .. })
        ));
    }

    #[test]
    fn right_signature_under_wrong_key_id_fails() {
        let key = PrivateKey::generate_p256().unwrap();
        let cp = Checkpoint::new("o", 1, [1u8; 32]);
        let signer = NoteSigner {
            name: "o".into(),
            key_id: [0, 0, 0, 0],
            key: &key,
        };
        let text = cp.sign(&signer).unwrap();
        let v = NoteVerifier::rekor("o", key.public_key().clone());
        assert!(verify_checkpoint(&text, &v).is_err());
    }

    #[test]
    fn malformed_notes_are_errors() {
        for bad in [
            "",
            "o\n1\n",
            "o\n1\nAAAA\n\n\u{2014} o AAAAAAA=\n",
            "o\n01\nAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n\n\u{2014} o AAAAAAAA\n",
            "o\n-1\nAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n\n\u{2014} o AAAAAAAA\n",
            "o\n1\nAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n\n- o AAAAAAAA\n",
        ] {
            let r = SignedNote::parse(bad).and_then(|n| Checkpoint::parse_body(&n.body));
            assert!(r.is_err(), "{bad:?}");
        }
    }
}
