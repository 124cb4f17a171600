//! RFC 3161 signed timestamps in Sigstore bundles
//! (`verificationMaterial.timestampVerificationData.rfc3161Timestamps`).
//!
//! Each entry is a DER `TimeStampResp` (RFC 3161 §2.4.2) whose token is a CMS `SignedData`
//! (RFC 5652 §5) carrying a `TSTInfo`. A timestamp is accepted, as sigstore-go
//! (`pkg/root/timestamping_authority.go`) and sigstore/timestamp-authority
//! (`pkg/verification/verify.go`) accept it, when:
//! - the response status is granted, the token is `id-signedData` over `id-ct-TSTInfo` with
//!   exactly one signer, and the message imprint is SHA-256/384/512 (SHA-1 is refused) of the
//!   bundle's signature bytes (the DSSE envelope's signature for DSSE bundles);
//! - the signer's certificate (embedded in the token, else the leaf listed in the trusted root)
//!   is the trusted root's TSA leaf when one is listed, is not a CA, has exactly one extended key
//!   usage, `timeStamping`, marked critical, and chains to that authority's root at the
//!   timestamp's `genTime`;
//! - the signed attributes hold content type `id-ct-TSTInfo` and the digest of the `TSTInfo`,
//!   and the CMS signature over them verifies with the signer's key;
//! - `genTime` lies in the authority's `validFor` (closed interval).
//!
//! The CMS and TSP structures are parsed with RustCrypto's `cms` and `x509-tsp`; chains and
//! signatures are checked with rustls-webpki (as the Fulcio chain is). Written here by hand:
//! the RFC 5652 §5.4/§5.6 signer checks, which no crate on our der 0.7 stack offers without its
//! signing `builder` feature (RSA, AES, …), and the TSTInfo's outer fields, because der 0.7's
//! `GeneralizedTime` rejects the fractional seconds TSAs may write (see [`parse_tst_info`]).
//!
//! # Thresholds
//! As sigstore-go's `VerifySignedTimestamp` and sigstore-python's `_verify_timestamp_authority`:
//! more than 32 timestamps is an error; byte-identical timestamps are an error
//! (sigstore-python); a timestamp that does not verify against any trusted authority is skipped,
//! and two verified timestamps from the same authority count once (sigstore-go). The caller
//! requires at least one verified timestamp when the bundle carries any (sigstore-go's
//! `WithSignedTimestamps(1)`), and fails when the bundle carries timestamps but the trusted root
//! lists no timestamp authority (sigstore-python), so a timestamp is never silently unchecked.

use std::time::Duration;

use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier};
use der::asn1::{ObjectIdentifier, OctetString};
use der::{Decode, Encode};
use rustls_pki_types::{CertificateDer, SignatureVerificationAlgorithm, UnixTime};
use sha2::{Digest as _, Sha256, Sha384, Sha512};
use sigil_core::trust_root::{CertificateAuthority, TrustedRoot};
use x509_cert::Certificate;
use x509_tsp::{MessageImprint, TimeStampResp};

/// Upper bound on timestamps in one bundle (sigstore-go `limits.MaxAllowedTimestamps`).
pub(crate) const MAX_TIMESTAMPS: usize = 32;

const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const ID_CT_TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const ID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const ID_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const ID_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const ID_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");
const ID_EKU: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
const ID_KP_TIME_STAMPING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");
const ID_ANY_EKU: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37.0");
/// id-kp-timeStamping as webpki wants it: the OID's value bytes.
const TIME_STAMPING: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x08];

/// A timestamp that verified, and the authority that vouched for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct VerifiedTimestamp {
    /// `genTime`, unix seconds.
    pub time: i64,
    /// The trusted root's URI of the authority.
    pub authority: String,
}

/// Verifies the bundle's timestamps over `signature`; see the module docs for the rules.
/// Returns the verified timestamps (possibly none) and why the others were skipped.
pub(crate) fn verify_timestamps(
    stamps: &[&[u8]],
    signature: &[u8],
    root: &TrustedRoot,
) -> Result<(Vec<VerifiedTimestamp>, Vec<String>), String> {
    if stamps.len() > MAX_TIMESTAMPS {
        return Err(format!(
            "too many signed timestamps: {} > {MAX_TIMESTAMPS}",
            stamps.len()
        ));
    }
    for (i, a) in stamps.iter().enumerate() {
        if stamps.iter().skip(i + 1).any(|b| a == b) {
            return Err("duplicate signed timestamp in the bundle".into());
        }
    }
    if !stamps.is_empty() && root.timestamp_authorities.is_empty() {
        return Err(
            "the bundle carries signed timestamps but the trusted root lists no timestamp authority"
                .into(),
        );
    }
    let mut verified: Vec<VerifiedTimestamp> = Vec::new();
    let mut skipped = Vec::new();
    for (i, stamp) in stamps.iter().enumerate() {
        let mut errors = Vec::new();
        let mut found = None;
        for tsa in &root.timestamp_authorities {
            match verify_with_authority(stamp, signature, tsa) {
                Ok(time) => {
                    found = Some(VerifiedTimestamp {
                        time,
                        authority: tsa.uri.clone(),
                    });
                    break;
                }
                Err(e) => errors.push(if tsa.uri.is_empty() {
                    e
                } else {
                    format!("{}: {e}", tsa.uri)
                }),
            }
        }
        match found {
            Some(v) if verified.iter().any(|w| w.authority == v.authority) => skipped.push(
                format!("timestamp {i}: a second timestamp from `{}`", v.authority),
            ),
            Some(v) => verified.push(v),
            None => skipped.push(format!("timestamp {i}: {}", errors.join("; "))),
        }
    }
    Ok((verified, skipped))
}

/// A timestamp authority of the trusted root, split as sigstore-go splits it: a leaf when the
/// first certificate is not a CA, the last certificate as the root, the rest intermediates.
struct Authority<'a> {
    leaf: Option<&'a [u8]>,
    intermediates: Vec<&'a [u8]>,
    root: &'a [u8],
}

impl<'a> Authority<'a> {
    fn from_trusted(tsa: &'a CertificateAuthority) -> Result<Authority<'a>, String> {
        let chain = tsa.certificates();
        let Some((root, rest)) = chain.split_last() else {
            return Err("timestamp authority has an empty certificate chain".into());
        };
        let mut leaf = None;
        let mut intermediates = Vec::new();
        for (i, der_bytes) in rest.iter().enumerate() {
            let cert = Certificate::from_der(der_bytes)
                .map_err(|e| format!("timestamp authority certificate {i}: {e}"))?;
            if i == 0 && !is_ca(&cert) {
                leaf = Some(*der_bytes);
            } else {
                intermediates.push(*der_bytes);
            }
        }
        Ok(Authority {
            leaf,
            intermediates,
            root,
        })
    }
}

fn is_ca(cert: &Certificate) -> bool {
    use x509_cert::ext::pkix::BasicConstraints;
    cert.tbs_certificate
        .get::<BasicConstraints>()
        .ok()
        .flatten()
        .is_some_and(|(_, bc)| bc.ca)
}

fn digest(alg: &ObjectIdentifier, data: &[u8]) -> Result<Vec<u8>, String> {
    match *alg {
        ID_SHA256 => Ok(Sha256::digest(data).to_vec()),
        ID_SHA384 => Ok(Sha384::digest(data).to_vec()),
        ID_SHA512 => Ok(Sha512::digest(data).to_vec()),
        ID_SHA1 => Err("SHA-1 is too weak for a timestamp".into()),
        other => Err(format!("unsupported digest algorithm {other}")),
    }
}

/// The signed timestamp's token: the `TimeStampResp`'s (sigstore clients store responses),
/// or the bytes themselves when they are a bare `TimeStampToken`.
fn token(bytes: &[u8]) -> Result<ContentInfo, String> {
    match TimeStampResp::from_der(bytes) {
        Ok(resp) => {
            let status = resp.status.status as u8;
            // granted (0) or grantedWithMods (1), RFC 3161 §2.4.2.
            if status > 1 {
                return Err(format!(
                    "timestamp response status is {status}, not granted"
                ));
            }
            resp.time_stamp_token
                .ok_or_else(|| "timestamp response carries no token".to_string())
        }
        Err(resp_err) => ContentInfo::from_der(bytes)
            .map_err(|_| format!("malformed timestamp response: {resp_err}")),
    }
}

/// Verifies one timestamp against one authority; returns `genTime` (unix seconds).
fn verify_with_authority(
    bytes: &[u8],
    signature: &[u8],
    tsa: &CertificateAuthority,
) -> Result<i64, String> {
    let authority = Authority::from_trusted(tsa)?;
    let content = token(bytes)?;
    if content.content_type != ID_SIGNED_DATA {
        return Err("timestamp token is not CMS SignedData".into());
    }
    let signed: SignedData = content
        .content
        .decode_as()
        .map_err(|e| format!("malformed timestamp SignedData: {e}"))?;
    if signed.encap_content_info.econtent_type != ID_CT_TST_INFO {
        return Err("timestamp token does not carry a TSTInfo".into());
    }
    let tst_der = signed
        .encap_content_info
        .econtent
        .as_ref()
        .ok_or("timestamp token has no TSTInfo content")?
        .decode_as::<OctetString>()
        .map_err(|e| format!("malformed TSTInfo content: {e}"))?;
    let (imprint, time) = parse_tst_info(tst_der.as_bytes())?;

    // The message imprint is over the bundle's signature.
    let want = digest(&imprint.hash_algorithm.oid, signature)?;
    if imprint.hashed_message.as_bytes() != want.as_slice() {
        return Err("the timestamp's message imprint is not the bundle signature's digest".into());
    }

    // One signer, identified among the embedded certificates and the trusted leaf.
    let signers = signed.signer_infos.0.as_slice();
    let [signer] = signers else {
        return Err(format!(
            "timestamp token must have exactly one signer, has {}",
            signers.len()
        ));
    };
    let mut embedded: Vec<Vec<u8>> = Vec::new();
    if let Some(set) = &signed.certificates {
        for choice in set.0.iter() {
            if let CertificateChoices::Certificate(c) = choice {
                embedded.push(c.to_der().map_err(|e| e.to_string())?);
            }
        }
    }
    let candidates: Vec<&[u8]> = embedded
        .iter()
        .map(Vec::as_slice)
        .chain(authority.leaf)
        .collect();
    let signer_der = candidates
        .iter()
        .copied()
        .find(|c| identifies(&signer.sid, c))
        .ok_or("the timestamp's signer certificate is neither embedded nor the trusted TSA leaf")?;
    if let Some(leaf) = authority.leaf {
        if leaf != signer_der {
            return Err(
                "the certificate embedded in the timestamp is not the trusted TSA certificate"
                    .into(),
            );
        }
    }
    let signer_cert =
        Certificate::from_der(signer_der).map_err(|e| format!("malformed TSA certificate: {e}"))?;
    check_tsa_leaf(&signer_cert)?;

    // Signed attributes: content type and the TSTInfo's digest, then the signature over them.
    let attrs = signer
        .signed_attrs
        .as_ref()
        .ok_or("timestamp signer has no signed attributes")?;
    let attr_value = |oid: ObjectIdentifier| {
        attrs
            .iter()
            .find(|a| a.oid == oid)
            .and_then(|a| a.values.get(0))
    };
    let content_type = attr_value(ID_CONTENT_TYPE)
        .and_then(|v| v.decode_as::<ObjectIdentifier>().ok())
        .ok_or("timestamp signed attributes lack a content type")?;
    if content_type != ID_CT_TST_INFO {
        return Err("timestamp signed content type is not TSTInfo".into());
    }
    let md = attr_value(ID_MESSAGE_DIGEST)
        .and_then(|v| v.decode_as::<OctetString>().ok())
        .ok_or("timestamp signed attributes lack a message digest")?;
    if md.as_bytes() != digest(&signer.digest_alg.oid, tst_der.as_bytes())?.as_slice() {
        return Err("timestamp message digest attribute does not match the TSTInfo".into());
    }
    let signed_bytes = attrs.to_der().map_err(|e| e.to_string())?;
    let ee_der = CertificateDer::from(signer_der);
    let ee = webpki::EndEntityCert::try_from(&ee_der)
        .map_err(|e| format!("malformed TSA certificate: {e:?}"))?;
    let algs: &[&dyn SignatureVerificationAlgorithm] = match signer.digest_alg.oid {
        ID_SHA256 => &[
            webpki::ring::ECDSA_P256_SHA256,
            webpki::ring::ECDSA_P384_SHA256,
            webpki::ring::RSA_PKCS1_2048_8192_SHA256,
            webpki::ring::ED25519,
        ],
        ID_SHA384 => &[
            webpki::ring::ECDSA_P384_SHA384,
            webpki::ring::ECDSA_P256_SHA384,
            webpki::ring::RSA_PKCS1_2048_8192_SHA384,
        ],
        ID_SHA512 => &[
            webpki::ring::RSA_PKCS1_2048_8192_SHA512,
            webpki::ring::ED25519,
        ],
        other => return Err(format!("unsupported timestamp digest algorithm {other}")),
    };
    let sig = signer.signature.as_bytes();
    if !algs
        .iter()
        .any(|alg| ee.verify_signature(*alg, &signed_bytes, sig).is_ok())
    {
        return Err("the timestamp's CMS signature does not verify".into());
    }

    // The signer chains to the authority's root at genTime.
    let t = u64::try_from(time).map_err(|_| format!("negative timestamp {time}"))?;
    let anchor_der = CertificateDer::from(authority.root);
    let anchor = webpki::anchor_from_trusted_cert(&anchor_der)
        .map_err(|e| format!("trusted TSA root unusable: {e:?}"))?;
    let inter: Vec<CertificateDer<'_>> = authority
        .intermediates
        .iter()
        .copied()
        .chain(embedded.iter().map(Vec::as_slice))
        .filter(|c| *c != signer_der)
        .map(CertificateDer::from)
        .collect();
    ee.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &[anchor],
        &inter,
        UnixTime::since_unix_epoch(Duration::from_secs(t)),
        webpki::KeyUsage::required(TIME_STAMPING),
        None,
        None,
    )
    .map_err(|e| format!("TSA certificate does not chain to the trusted root at {time}: {e:?}"))?;
    for der_bytes in &authority.intermediates {
        let c = Certificate::from_der(der_bytes).map_err(|e| e.to_string())?;
        if let Some(ekus) = ekus(&c)?.map(|(_, e)| e) {
            if !ekus
                .iter()
                .any(|o| *o == ID_KP_TIME_STAMPING || *o == ID_ANY_EKU)
            {
                return Err("a TSA intermediate certificate does not allow timestamping".into());
            }
        }
    }

    if let Some(v) = &tsa.valid_for {
        if !v.contains(time) {
            return Err(format!(
                "timestamp {time} is outside the timestamp authority's validity"
            ));
        }
    }
    Ok(time)
}

/// The TSTInfo fields a verifier needs: the message imprint and `genTime` (unix seconds).
///
/// By hand rather than `x509_tsp::TstInfo` because der 0.7's `GeneralizedTime` refuses
/// fractional seconds, which RFC 3161 §2.4.2 allows and TSAs emit (sigstore-js's mock TSA
/// writes milliseconds); the fraction is dropped, as every time here is in whole seconds.
fn parse_tst_info(bytes: &[u8]) -> Result<(MessageImprint, i64), String> {
    use der::{Reader, SliceReader, Tag, Tagged};
    let bad = |e: der::Error| format!("malformed TSTInfo: {e}");
    let mut reader = SliceReader::new(bytes).map_err(bad)?;
    let (imprint, time_bytes) = reader
        .sequence(|r| {
            let _version: der::asn1::IntRef<'_> = r.decode()?;
            let _policy: ObjectIdentifier = r.decode()?;
            let imprint: MessageImprint = r.decode()?;
            let _serial: der::asn1::IntRef<'_> = r.decode()?;
            let gen_time: der::asn1::AnyRef<'_> = r.decode()?;
            gen_time.tag().assert_eq(Tag::GeneralizedTime)?;
            // accuracy, ordering, nonce, tsa, extensions: not needed.
            r.read_slice(r.remaining_len())?;
            Ok((imprint, gen_time.value().to_vec()))
        })
        .map_err(bad)?;
    reader.finish(()).map_err(bad)?;
    Ok((imprint, generalized_time(&time_bytes)?))
}

/// `YYYYMMDDhhmmss[.f+]Z` (RFC 3161 §2.4.2) to unix seconds.
fn generalized_time(b: &[u8]) -> Result<i64, String> {
    let err = || format!("malformed genTime `{}`", String::from_utf8_lossy(b));
    let digits = b.get(..14).ok_or_else(err)?;
    if !digits.iter().all(u8::is_ascii_digit) {
        return Err(err());
    }
    let frac_ok = match &b[14..] {
        [b'Z'] => true,
        [b'.', f @ .., b'Z'] => {
            !f.is_empty() && f.iter().all(u8::is_ascii_digit) && f.last() != Some(&b'0')
        }
        _ => false,
    };
    if !frac_ok {
        return Err(err());
    }
    let n = |i: usize, len: usize| {
        digits[i..i + len]
            .iter()
            .fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'))
    };
    let small = |i: usize| u8::try_from(n(i, 2)).map_err(|_| err());
    let dt = der::DateTime::new(
        n(0, 4),
        small(4)?,
        small(6)?,
        small(8)?,
        small(10)?,
        small(12)?,
    )
    .map_err(|_| err())?;
    i64::try_from(dt.unix_duration().as_secs()).map_err(|_| err())
}

/// Whether `sid` names the certificate `der_bytes`.
fn identifies(sid: &SignerIdentifier, der_bytes: &[u8]) -> bool {
    let Ok(cert) = Certificate::from_der(der_bytes) else {
        return false;
    };
    match sid {
        SignerIdentifier::IssuerAndSerialNumber(is) => {
            is.issuer == cert.tbs_certificate.issuer
                && is.serial_number == cert.tbs_certificate.serial_number
        }
        SignerIdentifier::SubjectKeyIdentifier(ski) => {
            use x509_cert::ext::pkix::SubjectKeyIdentifier;
            cert.tbs_certificate
                .get::<SubjectKeyIdentifier>()
                .ok()
                .flatten()
                .is_some_and(|(_, s)| s.0 == ski.0)
        }
    }
}

/// The EKU extension: (critical, OIDs), if present.
fn ekus(cert: &Certificate) -> Result<Option<(bool, Vec<ObjectIdentifier>)>, String> {
    let Some(exts) = &cert.tbs_certificate.extensions else {
        return Ok(None);
    };
    let Some(ext) = exts.iter().find(|e| e.extn_id == ID_EKU) else {
        return Ok(None);
    };
    let eku = x509_cert::ext::pkix::ExtendedKeyUsage::from_der(ext.extn_value.as_bytes())
        .map_err(|e| format!("malformed extended key usage: {e}"))?;
    Ok(Some((ext.critical, eku.0)))
}

/// timestamp-authority's leaf rules: an end entity with exactly one EKU, timeStamping, critical.
fn check_tsa_leaf(cert: &Certificate) -> Result<(), String> {
    if is_ca(cert) {
        return Err("the TSA certificate is a CA, not an end entity".into());
    }
    match ekus(cert)? {
        Some((true, oids)) if oids == [ID_KP_TIME_STAMPING] => Ok(()),
        Some((false, _)) | None => Err("the TSA certificate's EKU must be critical".into()),
        Some((true, _)) => {
            Err("the TSA certificate's only extended key usage must be timeStamping".into())
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn staging() -> TrustedRoot {
        TrustedRoot::from_json(include_bytes!(
            "../testdata/trust/staging/trusted_root.json"
        ))
        .unwrap()
    }

    /// sigstore-python issue 1482: a response without embedded certificates verifies with
    /// the trusted root's TSA leaf (`test_verify_signed_timestamp_regression`).
    #[test]
    fn timestamp_without_embedded_certificate_uses_trusted_leaf() {
        let resp =
            include_bytes!("../testdata/sigstore-python/tsa/issue1482-timestamp-with-no-cert");
        let message = include_bytes!("../testdata/sigstore-python/tsa/issue1482-message");
        let (verified, skipped) = verify_timestamps(&[resp], message, &staging()).unwrap();
        assert_eq!(verified.len(), 1, "{skipped:?}");
        assert!(verified[0].time > 1_700_000_000);
        // Over another message, the imprint does not match.
        let (verified, skipped) = verify_timestamps(&[resp], b"other", &staging()).unwrap();
        assert!(verified.is_empty());
        assert!(skipped[0].contains("message imprint"), "{skipped:?}");
    }

    #[test]
    fn generalized_time_with_and_without_fraction() {
        assert_eq!(generalized_time(b"20250612120220Z").unwrap(), 1_749_729_740);
        assert_eq!(
            generalized_time(b"20250612120220.123Z").unwrap(),
            1_749_729_740
        );
        for bad in [
            &b"20250612120220"[..],
            b"20250612120220.Z",
            b"20250612120220.10Z",
            b"2025061212022xZ",
            b"2025",
        ] {
            assert!(
                generalized_time(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    /// Every one-bit change of a real response is handled without a panic, and none of the
    /// changes inside the signed TSTInfo or the signature verifies.
    #[test]
    fn bit_flips_never_panic() {
        let resp =
            include_bytes!("../testdata/sigstore-python/tsa/issue1482-timestamp-with-no-cert");
        let message = include_bytes!("../testdata/sigstore-python/tsa/issue1482-message");
        let root = staging();
        let mut accepted = 0;
        for i in 0..resp.len() {
            let mut bad = resp.to_vec();
            bad[i] ^= 0x01;
            let (verified, _) = verify_timestamps(&[&bad], message, &root).unwrap();
            accepted += verified.len();
        }
        // Only bytes outside what is signed (e.g. the unsigned status wrapper) may change.
        assert!(
            accepted < resp.len() / 10,
            "{accepted} of {} flips accepted",
            resp.len()
        );
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for bytes in [&b""[..], b"\x30\x03\x02\x01\x00", b"\x30\x80", &[0xff; 64]] {
            let (verified, skipped) = verify_timestamps(&[bytes], b"sig", &staging()).unwrap();
            assert!(verified.is_empty());
            assert_eq!(skipped.len(), 1);
        }
    }
}
