//! The trusted root one attestor entry verifies against: the admission controller's trust
//! config, with what the entry itself names put in place of its parts, so the entry goes
//! through the same `sigil-verify` pipeline as every other.
//!
//! Kyverno (K:`pkg/cosign/cosign.go` `buildCosignOptions`) hands these fields to cosign's
//! `CheckOpts`, where each one *replaces* the TUF material rather than adding to it:
//! - `keyless.roots` / `certificates.certChain` → `RootCerts`: the certificate authorities;
//! - `rekor.pubkey` → `RekorPubKeys` (only when `ignoreTlog` is false): the one log whose
//!   entries prove inclusion and time, instead of the trust config's logs;
//! - `ctlog.pubkey` → `CTLogPubKeys` (only when `ignoreSCT` is false): the one CT log whose
//!   SCT a certificate must carry;
//! - `ctlog.tsaCertChain` → the RFC 3161 timestamp authority (leaf, intermediates, root).
//!
//! A key given in a policy has no validity window (cosign registers it as `Active`).

use std::sync::Arc;

use sha2::{Digest as _, Sha256};
use sigil_core::bundle::{B64Bytes, CertificateChain, LogId, RawBytes};
use sigil_core::keys::PublicKey;
use sigil_core::trust_root::{
    CertificateAuthority, TimeRange, TransparencyLogInstance, TrustedPublicKey, TrustedRoot,
};

use crate::policy::{Ctlog, Rekor};
use crate::verifier::VerifyError;

/// What an attestor entry puts in place of the trust config's parts.
#[derive(Default)]
pub(crate) struct Overrides<'a> {
    /// PEM certificates that become the certificate authorities, and the field they came
    /// from (`keyless.roots`, `certificates.certChain`).
    pub authorities: Option<(&'a str, &'a str)>,
    pub rekor: Option<&'a Rekor>,
    pub ctlog: Option<&'a Ctlog>,
    /// The attestor kind, for messages (`keyless`, `keys`, `certificates`).
    pub kind: &'a str,
}

/// The trusted root for an entry: `base` itself when the entry overrides nothing (no copy),
/// else a copy with the named parts replaced. Without a base, a root with only the parts
/// the entry names: log and SCT checks then fail unless the entry names the keys or
/// ignores them.
pub(crate) fn attestor_root(
    base: Option<Arc<TrustedRoot>>,
    o: &Overrides<'_>,
) -> Result<Option<Arc<TrustedRoot>>, VerifyError> {
    let rekor_key = o
        .rekor
        .filter(|r| !r.ignore_tlog)
        .and_then(|r| r.pubkey.as_deref());
    let ct_key = o
        .ctlog
        .filter(|c| !c.ignore_sct)
        .and_then(|c| c.pubkey.as_deref());
    let tsa_chain = o.ctlog.and_then(|c| c.tsa_cert_chain.as_deref());
    if o.authorities.is_none() && rekor_key.is_none() && ct_key.is_none() && tsa_chain.is_none() {
        return Ok(base);
    }
    let mut root = match base {
        Some(b) => (*b).clone(),
        None => TrustedRoot {
            media_type: "application/vnd.dev.sigstore.trustedroot+json;version=0.1".into(),
            tlogs: Vec::new(),
            certificate_authorities: Vec::new(),
            ctlogs: Vec::new(),
            timestamp_authorities: Vec::new(),
        },
    };
    if let Some((pems, what)) = o.authorities {
        root.certificate_authorities = certificate_blocks(pems, what)?
            .into_iter()
            .map(|der| authority(vec![der], format!("policy {what}")))
            .collect();
    }
    if let Some(pem) = rekor_key {
        let what = format!("{}.rekor.pubkey", o.kind);
        let url = o.rekor.and_then(|r| r.url.clone()).unwrap_or_default();
        let log = policy_log(pem, &what, &root.tlogs, url)?;
        root.tlogs = vec![log];
    }
    if let Some(pem) = ct_key {
        let what = format!("{}.ctlog.pubkey", o.kind);
        let log = policy_log(pem, &what, &root.ctlogs, String::new())?;
        root.ctlogs = vec![log];
    }
    if let Some(chain) = tsa_chain {
        let what = format!("{}.ctlog.tsaCertChain", o.kind);
        let certs = certificate_blocks(chain, &what)?;
        root.timestamp_authorities = vec![authority(certs, format!("policy {what}"))];
    }
    Ok(Some(Arc::new(root)))
}

/// The public key of a `rekor.pubkey` / `ctlog.pubkey` PEM (checked at policy load too).
pub(crate) fn policy_key(pem: &str, what: &str) -> Result<PublicKey, VerifyError> {
    PublicKey::from_pem(pem.trim().as_bytes())
        .map_err(|e| VerifyError::Failed(format!("{what} is not a PEM public key: {e}")))
}

/// A log instance for a policy-given key. When the trust config already lists a log with
/// that key, its entry is kept (base URL, checkpoint key ID, validity); otherwise the
/// key is valid at any time, its log ID the SHA-256 of its PKIX DER (Rekor's and RFC
/// 6962's log ID).
fn policy_log(
    pem: &str,
    what: &str,
    known: &[TransparencyLogInstance],
    base_url: String,
) -> Result<TransparencyLogInstance, VerifyError> {
    let key = policy_key(pem, what)?;
    if let Some(same) = known
        .iter()
        .find(|l| l.public_key.raw_bytes.0 == key.spki_der())
    {
        return Ok(same.clone());
    }
    let id: [u8; 32] = Sha256::digest(key.spki_der()).into();
    Ok(TransparencyLogInstance {
        base_url: if base_url.is_empty() {
            format!("policy {what}")
        } else {
            base_url
        },
        hash_algorithm: "SHA2_256".into(),
        public_key: TrustedPublicKey {
            raw_bytes: B64Bytes(key.spki_der().to_vec()),
            key_details: key.algorithm().key_details().into(),
            valid_for: Some(TimeRange::default()),
        },
        log_id: LogId {
            key_id: B64Bytes(id.to_vec()),
        },
        checkpoint_key_id: None,
        operator: None,
    })
}

fn authority(ders: Vec<Vec<u8>>, uri: String) -> CertificateAuthority {
    CertificateAuthority {
        subject: serde_json::Value::Null,
        uri,
        cert_chain: CertificateChain {
            certificates: ders
                .into_iter()
                .map(|der| RawBytes {
                    raw_bytes: B64Bytes(der),
                })
                .collect(),
        },
        valid_for: None,
        operator: None,
    }
}

/// The DER of every `CERTIFICATE` block of `pem_text`; at least one.
pub(crate) fn certificate_blocks(pem_text: &str, what: &str) -> Result<Vec<Vec<u8>>, VerifyError> {
    let blocks = pem::parse_many(pem_text)
        .map_err(|e| VerifyError::Failed(format!("{what} is not PEM: {e}")))?;
    let certs: Vec<Vec<u8>> = blocks
        .into_iter()
        .filter(|b| b.tag() == "CERTIFICATE")
        .map(|b| b.into_contents())
        .collect();
    if certs.is_empty() {
        return Err(VerifyError::Failed(format!("{what} holds no certificate")));
    }
    Ok(certs)
}
