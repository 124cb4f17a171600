//! Certificate checks on the verification path: the leaf's chain to a trusted Fulcio CA at
//! a given time (rustls-webpki, with the code-signing EKU required), and its embedded SCT.
//!
//! A bundle must not carry a root: trust comes only from the trusted root
//! (sigstore-conformance `bundle-with-root-cert_fail`).

use std::time::Duration;

use der::{Decode, Encode};
use rustls_pki_types::{CertificateDer, UnixTime};
use sigil_core::keys::PublicKey;
use sigil_core::trust_root::TrustedRoot;
use x509_cert::Certificate;

/// id-kp-codeSigning (1.3.6.1.5.5.7.3.3), as webpki wants it: the OID's value bytes.
const CODE_SIGNING: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03];

/// A parsed leaf certificate.
#[derive(Clone, Debug)]
pub struct Leaf {
    pub der: Vec<u8>,
    pub cert: Certificate,
    pub public_key: PublicKey,
}

impl Leaf {
    pub fn parse(der_bytes: &[u8]) -> Result<Leaf, String> {
        let cert = Certificate::from_der(der_bytes)
            .map_err(|e| format!("malformed leaf certificate: {e}"))?;
        let spki = cert
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|e| format!("leaf public key: {e}"))?;
        let public_key =
            PublicKey::from_spki_der(&spki).map_err(|e| format!("leaf public key: {e}"))?;
        Ok(Leaf {
            der: der_bytes.to_vec(),
            cert,
            public_key,
        })
    }
}

pub(crate) fn is_self_issued(der_bytes: &[u8]) -> bool {
    Certificate::from_der(der_bytes)
        .is_ok_and(|c| c.tbs_certificate.issuer == c.tbs_certificate.subject)
}

/// Verifies `leaf` (with bundle-supplied `extra` intermediates) chains to one of the trusted
/// root's CAs at `time` (unix seconds), the CA being valid then too. Returns the DER
/// SubjectPublicKeyInfo of the leaf's issuer (for the SCT check).
pub fn verify_chain(
    leaf: &Leaf,
    extra: &[&[u8]],
    root: &TrustedRoot,
    time: i64,
) -> Result<Vec<u8>, String> {
    if extra.iter().any(|c| is_self_issued(c)) {
        return Err(
            "the bundle includes a root certificate; trust comes from the trusted root only".into(),
        );
    }
    let t = u64::try_from(time).map_err(|_| format!("negative signing time {time}"))?;
    let ee_der = CertificateDer::from(leaf.der.as_slice());
    let ee = webpki::EndEntityCert::try_from(&ee_der)
        .map_err(|e| format!("malformed leaf certificate: {e:?}"))?;
    let mut last_err = String::from("no trusted certificate authority");
    for ca in &root.certificate_authorities {
        if !ca.valid_for.as_ref().is_none_or(|v| v.contains(time)) {
            last_err = format!("certificate authority `{}` was not valid at {time}", ca.uri);
            continue;
        }
        let chain = ca.certificates();
        let Some((anchor_der, intermediates)) = chain.split_last() else {
            continue;
        };
        let anchor_cert = CertificateDer::from(*anchor_der);
        let anchor = match webpki::anchor_from_trusted_cert(&anchor_cert) {
            Ok(a) => a.to_owned(),
            Err(e) => {
                last_err = format!("trusted root certificate unusable: {e:?}");
                continue;
            }
        };
        let mut inter: Vec<CertificateDer<'_>> = intermediates
            .iter()
            .map(|c| CertificateDer::from(*c))
            .collect();
        inter.extend(extra.iter().map(|c| CertificateDer::from(*c)));
        let anchors = [anchor];
        let result = ee.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &anchors,
            &inter,
            UnixTime::since_unix_epoch(Duration::from_secs(t)),
            webpki::KeyUsage::required(CODE_SIGNING),
            None,
            None,
        );
        match result {
            Ok(_) => {
                let issuer = leaf.cert.tbs_certificate.issuer.clone();
                let all = chain.iter().chain(extra.iter());
                for der_bytes in all {
                    if let Ok(c) = Certificate::from_der(der_bytes) {
                        if c.tbs_certificate.subject == issuer {
                            return c
                                .tbs_certificate
                                .subject_public_key_info
                                .to_der()
                                .map_err(|e| format!("issuer public key: {e}"));
                        }
                    }
                }
                return Err("issuer certificate not found in the chain".into());
            }
            Err(e) => {
                last_err =
                    format!("does not chain to a trusted certificate authority at {time}: {e:?}")
            }
        }
    }
    Err(last_err)
}

/// Verifies the leaf's embedded SCT against the trusted CT logs valid at its timestamp.
pub fn verify_sct(leaf: &Leaf, issuer_spki: &[u8], root: &TrustedRoot) -> Result<(), String> {
    if root.ctlogs.is_empty() {
        return Err("the trusted root lists no CT log; pass --insecure-ignore-sct to skip".into());
    }
    let mut last = String::from(
        "certificate does not include required embedded SCT and no detached SCT was set",
    );
    for log in &root.ctlogs {
        match sigil_core::fulcio::verify_embedded_sct(
            &leaf.cert,
            issuer_spki,
            &log.public_key.raw_bytes.0,
        ) {
            Ok(sct) => {
                let secs = i64::try_from(sct.timestamp / 1000).unwrap_or(i64::MAX);
                if log.valid_at(secs) {
                    return Ok(());
                }
                last = format!("SCT time {secs} is outside the CT log key's validity");
            }
            Err(e) => last = e.to_string(),
        }
    }
    Err(last)
}
