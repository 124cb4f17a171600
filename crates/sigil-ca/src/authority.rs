//! The certificate authority: a root and an intermediate generated on first start and kept in
//! the data directory, and leaves issued on Fulcio's profile.
//!
//! Leaf profile (fulcio `pkg/ca/common.go`, `docs/certificate-specification.md`): empty subject,
//! exactly one critical SAN, KeyUsage digitalSignature (critical), EKU codeSigning, SKI and AKI,
//! a random 160-bit serial, NotAfter = NotBefore + 10 minutes, the Sigstore extensions the
//! token fills, and an embedded SCT: a precertificate (the same TBS plus the critical poison
//! extension) is logged first, then the final leaf carries the SCT list where the precert had
//! the poison, so that removing either extension yields identical TBS bytes (RFC 6962 §3.2).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyUsagePurpose, SanType, SerialNumber,
};
use ring::rand::SecureRandom as _;
use sigil_core::fulcio::{self, Extension, SubjectAltName};
use time::{Duration, OffsetDateTime};

use crate::ct::CtSubmitter;
use crate::keys::SubjectKey;
use crate::signer::{FileSigner, RcgenKey, Signer};
use crate::Error;

/// Validity of issued leaves (Fulcio: 10 minutes).
pub const LEAF_VALIDITY: Duration = Duration::minutes(10);
const CA_VALIDITY: Duration = Duration::days(3650);

/// What a token proves: the SAN to certify and the extension values to embed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub san: SubjectAltName,
    /// The value the proof of possession must sign (`email` or `sub`).
    pub challenge: String,
    /// Sigstore extensions, in OID order.
    pub extensions: Vec<(Extension, String)>,
}

/// A leaf certificate and its chain, DER.
#[derive(Clone, Debug)]
pub struct IssuedChain {
    pub leaf: Vec<u8>,
    /// Intermediate, then root.
    pub chain: Vec<Vec<u8>>,
}

/// The CA's keys and certificates.
#[derive(Debug)]
pub struct Authority {
    root_der: Vec<u8>,
    intermediate_der: Vec<u8>,
    intermediate_params: CertificateParams,
    intermediate_key: Arc<dyn Signer>,
    ct: CtSubmitter,
    rng: ring::rand::SystemRandom,
}

fn dn(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "sigil");
    dn.push(DnType::CommonName, cn);
    dn
}

fn root_params() -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = dn("sigil-root");
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(1));
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p
}

fn intermediate_params() -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = dn("sigil-intermediate");
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    // Fulcio's intermediate carries EKU codeSigning, which chains restrict leaves to.
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
    p.use_authority_key_identifier_extension = true;
    p
}

/// Paths of the CA's files inside the data directory.
#[derive(Debug, Clone)]
pub struct CaFiles {
    pub root_key: PathBuf,
    pub root_cert: PathBuf,
    pub intermediate_key: PathBuf,
    pub intermediate_cert: PathBuf,
}

impl CaFiles {
    pub fn new(dir: &Path) -> Self {
        let ca = dir.join("ca");
        CaFiles {
            root_key: ca.join("root.key"),
            root_cert: ca.join("root.pem"),
            intermediate_key: ca.join("intermediate.key"),
            intermediate_cert: ca.join("intermediate.pem"),
        }
    }
}

fn pem_der(text: &[u8], path: &Path) -> Result<Vec<u8>, Error> {
    pem::parse(text)
        .map(pem::Pem::into_contents)
        .map_err(|_| Error::CorruptKey(path.display().to_string()))
}

fn read_pem_cert(path: &Path) -> Result<Option<Vec<u8>>, Error> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let block =
                pem::parse(text).map_err(|_| Error::CorruptKey(path.display().to_string()))?;
            Ok(Some(block.into_contents()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("reading", path, e)),
    }
}

pub(crate) fn to_pem(der: &[u8]) -> String {
    pem::encode(&pem::Pem::new("CERTIFICATE", der.to_vec()))
}

/// Creates the root and intermediate in `dir` if missing; returns the root, DER.
pub(crate) fn ensure_chain(dir: &Path) -> Result<Vec<u8>, Error> {
    let (root, _, _) = load_or_create(dir)?;
    Ok(root)
}

type Loaded = (Vec<u8>, Vec<u8>, Arc<dyn Signer>);

fn load_or_create(dir: &Path) -> Result<Loaded, Error> {
    let files = CaFiles::new(dir);
    let root_key: Arc<dyn Signer> = Arc::new(FileSigner::load_or_generate(&files.root_key)?);
    let intermediate_key: Arc<dyn Signer> =
        Arc::new(FileSigner::load_or_generate(&files.intermediate_key)?);
    let now = OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| OffsetDateTime::now_utc());

    let root_der = match read_pem_cert(&files.root_cert)? {
        Some(der) => der,
        None => {
            let mut p = root_params();
            p.not_before = now;
            p.not_after = now + CA_VALIDITY;
            let cert = p
                .self_signed(&RcgenKey(root_key.as_ref()))
                .map_err(Error::Certificate)?;
            let stored =
                crate::store::create_public(&files.root_cert, to_pem(cert.der()).as_bytes())?;
            pem_der(&stored, &files.root_cert)?
        }
    };
    let intermediate_der = match read_pem_cert(&files.intermediate_cert)? {
        Some(der) => der,
        None => {
            let mut p = intermediate_params();
            p.not_before = now;
            p.not_after = now + CA_VALIDITY;
            let issuer = Issuer::new(root_params(), RcgenKey(root_key.as_ref()));
            let cert = p
                .signed_by(&RcgenKey(intermediate_key.as_ref()), &issuer)
                .map_err(Error::Certificate)?;
            let stored = crate::store::create_public(
                &files.intermediate_cert,
                to_pem(cert.der()).as_bytes(),
            )?;
            pem_der(&stored, &files.intermediate_cert)?
        }
    };
    Ok((root_der, intermediate_der, intermediate_key))
}

impl Authority {
    /// Loads the CA from `dir`, creating the root and intermediate on first start.
    pub fn open(dir: &Path, ct: CtSubmitter) -> Result<Self, Error> {
        let (root_der, intermediate_der, intermediate_key) = load_or_create(dir)?;
        Ok(Authority {
            root_der,
            intermediate_der,
            intermediate_params: intermediate_params(),
            intermediate_key,
            ct,
            rng: ring::rand::SystemRandom::new(),
        })
    }

    /// Root certificate, DER.
    pub fn root_der(&self) -> &[u8] {
        &self.root_der
    }

    /// Intermediate certificate, DER.
    pub fn intermediate_der(&self) -> &[u8] {
        &self.intermediate_der
    }

    /// Intermediate then root, DER (what clients and trust roots list).
    pub fn chain_der(&self) -> Vec<Vec<u8>> {
        vec![self.intermediate_der.clone(), self.root_der.clone()]
    }

    /// Issues a leaf for `key` certifying `principal`, with an embedded SCT.
    pub async fn issue(
        &self,
        principal: &Principal,
        key: &SubjectKey,
    ) -> Result<IssuedChain, Error> {
        let mut serial = [0u8; 20];
        self.rng.fill(&mut serial).map_err(|_| Error::Signing)?;
        serial[0] &= 0x7f;
        serial[0] |= 0x01; // keep all 160 bits significant
        let now = OffsetDateTime::now_utc();
        let not_before = now.replace_nanosecond(0).unwrap_or(now);
        let base = leaf_params(principal, key, &serial, not_before)?;
        let issuer = Issuer::from_params(
            &self.intermediate_params,
            RcgenKey(self.intermediate_key.as_ref()),
        );

        let mut pre = base.clone();
        let mut poison = CustomExtension::from_oid_content(
            &oid_arcs(&fulcio::PRECERT_POISON_OID),
            vec![0x05, 0x00],
        );
        poison.set_criticality(true);
        pre.custom_extensions.push(poison);
        let precert = pre.signed_by(key, &issuer).map_err(Error::Certificate)?;

        let sct = self
            .ct
            .submit(&[
                precert.der().to_vec(),
                self.intermediate_der.clone(),
                self.root_der.clone(),
            ])
            .await?;

        let mut fin = base;
        fin.custom_extensions
            .push(CustomExtension::from_oid_content(
                &oid_arcs(&fulcio::SCT_LIST_OID),
                fulcio::sct_list_extension_value(std::slice::from_ref(&sct))?,
            ));
        let leaf = fin.signed_by(key, &issuer).map_err(Error::Certificate)?;
        Ok(IssuedChain {
            leaf: leaf.der().to_vec(),
            chain: self.chain_der(),
        })
    }
}

fn oid_arcs(oid: &der::asn1::ObjectIdentifier) -> Vec<u64> {
    oid.arcs().map(u64::from).collect()
}

fn leaf_params(
    principal: &Principal,
    key: &SubjectKey,
    serial: &[u8],
    not_before: OffsetDateTime,
) -> Result<CertificateParams, Error> {
    let mut p = CertificateParams::default();
    // Empty subject: rcgen then marks the SAN critical (RFC 5280 §4.2.1.6), as Fulcio does.
    p.distinguished_name = DistinguishedName::new();
    p.serial_number = Some(SerialNumber::from_slice(serial));
    p.not_before = not_before;
    p.not_after = not_before + LEAF_VALIDITY;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
    p.use_authority_key_identifier_extension = true;
    let ia5 = |s: &str| {
        // Email and URI SANs are IA5String (RFC 5280 §4.2.1.6): internationalised names must
        // arrive already encoded (punycode, percent-encoding).
        rcgen::string::Ia5String::try_from(s.to_owned()).map_err(|_| Error::NotAscii(s.to_owned()))
    };
    p.subject_alt_names = vec![match &principal.san {
        SubjectAltName::Email(e) => SanType::Rfc822Name(ia5(e)?),
        SubjectAltName::Uri(u) => SanType::URI(ia5(u)?),
        SubjectAltName::OtherName(o) => SanType::OtherName((
            oid_arcs(&fulcio::OTHER_NAME_SAN_OID),
            rcgen::OtherNameValue::Utf8String(o.clone()),
        )),
        SubjectAltName::Dns(d) => SanType::DnsName(ia5(d)?),
        _ => return Err(Error::Config("unsupported SAN form".into())),
    }];
    // Subject key identifier: SHA-1 of the key bits (RFC 5280 §4.2.1.2 method 1, as Go's
    // x509 and so Fulcio compute it).
    let ski = ring::digest::digest(
        &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
        rcgen::PublicKeyData::der_bytes(key),
    );
    let ski_value = der::asn1::OctetString::new(ski.as_ref().to_vec())
        .and_then(|o| der::Encode::to_der(&o))
        .map_err(|e| Error::Fulcio(fulcio::FulcioError::Encode(e)))?;
    p.custom_extensions.push(CustomExtension::from_oid_content(
        &[2, 5, 29, 14],
        ski_value,
    ));
    for (ext, value) in &principal.extensions {
        p.custom_extensions.push(CustomExtension::from_oid_content(
            &oid_arcs(&ext.oid()),
            ext.encode_value(value)?,
        ));
    }
    Ok(p)
}
