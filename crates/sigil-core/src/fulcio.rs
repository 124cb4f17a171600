//! Fulcio's certificate profile: the Sigstore extensions (OIDs `1.3.6.1.4.1.57264.1.1`–`.24`),
//! the subject-alternative-name forms, identity extraction from a DER leaf, and the RFC 6962
//! signed certificate timestamps (SCTs) that Fulcio embeds in its leaves.
//!
//! Follows fulcio `docs/oid-info.md`, `docs/certificate-specification.md` and
//! `pkg/certificate/extensions.go`: extensions 1–6 carry the raw UTF-8 bytes of the value as
//! the extension's octet string (deprecated, but Fulcio still writes them and cosign's legacy
//! path reads them); extensions 8–24 carry a DER `UTF8String`. OID 7 is not an extension but
//! the type-id of Fulcio's `OtherName` SAN (`user!domain` identities).
//!
//! SCTs follow RFC 6962 §3.2–3.3: the log signs a `digitally-signed` struct over the
//! precertificate's TBSCertificate (poison extension removed) and the SHA-256 of the issuer's
//! SubjectPublicKeyInfo; a verifier rebuilds that TBS from the final leaf by removing the SCT
//! list extension, as Go's certificate-transparency-go `ctutil.VerifySCT` (used by sigstore-go
//! `pkg/verify/sct.go`) does.
//!
//! These errors are local to the module: they describe certificates and SCTs, not the other
//! values of the core, and callers (the CA, the verifier) map them to their own failures.

use std::collections::BTreeMap;

use der::asn1::{ObjectIdentifier, OctetString, Utf8StringRef};
use der::{Decode, Encode};
use sha2::{Digest as _, Sha256};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::SubjectAltName as X509SubjectAltName;
use x509_cert::Certificate;

/// The OID arc of Fulcio's extensions, `1.3.6.1.4.1.57264.1`.
pub const OID_ARC: &str = "1.3.6.1.4.1.57264.1";
/// The type-id of Fulcio's `OtherName` SAN (`1.3.6.1.4.1.57264.1.7`).
pub const OTHER_NAME_SAN_OID: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.7");
/// RFC 6962 §3.3: the embedded SCT list extension of a final certificate.
pub const SCT_LIST_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.11129.2.4.2");
/// RFC 6962 §3.1: the critical "poison" extension that makes a certificate a precertificate.
pub const PRECERT_POISON_OID: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.3.6.1.4.1.11129.2.4.3");
/// The subject-alternative-name extension (RFC 5280 §4.2.1.6).
pub const SUBJECT_ALT_NAME_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");

/// Errors in certificates, extensions and SCTs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FulcioError {
    #[error("malformed certificate")]
    Certificate(#[source] der::Error),
    #[error("malformed extension {oid}")]
    Extension {
        oid: ObjectIdentifier,
        #[source]
        source: der::Error,
    },
    #[error("extension {oid} is not valid UTF-8")]
    NotUtf8 { oid: ObjectIdentifier },
    #[error("certificate has no subject alternative name")]
    NoSubjectAltName,
    #[error("certificate has {0} subject alternative name extensions, expected one")]
    DuplicateSubjectAltName(usize),
    #[error("malformed signed certificate timestamp: {0}")]
    MalformedSct(&'static str),
    #[error("certificate has no embedded SCT")]
    NoSct,
    #[error("no embedded SCT is from the log with id {log_id}")]
    NoSctFromLog { log_id: String },
    #[error("SCT signature from log {log_id} does not verify")]
    BadSctSignature { log_id: String },
    #[error("unsupported CT log key: {0}")]
    UnsupportedLogKey(&'static str),
    #[error("encoding failed")]
    Encode(#[source] der::Error),
}

/// How an extension's value is written in the certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueEncoding {
    /// The UTF-8 bytes themselves are the octet string (OIDs 1–6).
    Raw,
    /// A DER `UTF8String` inside the octet string (OIDs 8–24).
    DerUtf8String,
}

macro_rules! extensions {
    ($($variant:ident = $n:literal, $name:literal;)*) => {
        /// One of Fulcio's certificate extensions, `1.3.6.1.4.1.57264.1.N`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[non_exhaustive]
        pub enum Extension {
            $(#[doc = $name] $variant = $n,)*
        }

        impl Extension {
            /// Every extension, in OID order.
            pub const ALL: &'static [Extension] = &[$(Extension::$variant,)*];

            /// The last component `N` of the OID.
            pub fn number(self) -> u32 {
                self as u32
            }

            /// The name Fulcio's `docs/oid-info.md` gives the extension.
            pub fn name(self) -> &'static str {
                match self { $(Extension::$variant => $name,)* }
            }

            /// The OID, `1.3.6.1.4.1.57264.1.N`.
            pub fn oid(self) -> ObjectIdentifier {
                match self {
                    $(Extension::$variant => ObjectIdentifier::new_unwrap(
                        concat!("1.3.6.1.4.1.57264.1.", stringify!($n))),)*
                }
            }
        }
    };
}

extensions! {
    Issuer = 1, "Issuer (deprecated, raw)";
    GithubWorkflowTrigger = 2, "GitHub Workflow Trigger (deprecated, raw)";
    GithubWorkflowSha = 3, "GitHub Workflow SHA (deprecated, raw)";
    GithubWorkflowName = 4, "GitHub Workflow Name (deprecated, raw)";
    GithubWorkflowRepository = 5, "GitHub Workflow Repository (deprecated, raw)";
    GithubWorkflowRef = 6, "GitHub Workflow Ref (deprecated, raw)";
    IssuerV2 = 8, "Issuer (V2)";
    BuildSignerUri = 9, "Build Signer URI";
    BuildSignerDigest = 10, "Build Signer Digest";
    RunnerEnvironment = 11, "Runner Environment";
    SourceRepositoryUri = 12, "Source Repository URI";
    SourceRepositoryDigest = 13, "Source Repository Digest";
    SourceRepositoryRef = 14, "Source Repository Ref";
    SourceRepositoryIdentifier = 15, "Source Repository Identifier";
    SourceRepositoryOwnerUri = 16, "Source Repository Owner URI";
    SourceRepositoryOwnerIdentifier = 17, "Source Repository Owner Identifier";
    BuildConfigUri = 18, "Build Config URI";
    BuildConfigDigest = 19, "Build Config Digest";
    BuildTrigger = 20, "Build Trigger";
    RunInvocationUri = 21, "Run Invocation URI";
    SourceRepositoryVisibilityAtSigning = 22, "Source Repository Visibility At Signing";
    DeploymentEnvironment = 23, "Deployment Environment";
    TokenSubject = 24, "Token Subject";
}

impl Extension {
    /// The extension with this OID, if it is one of Fulcio's.
    pub fn from_oid(oid: &ObjectIdentifier) -> Option<Self> {
        Self::ALL.iter().copied().find(|e| e.oid() == *oid)
    }

    /// Raw bytes for the deprecated OIDs 1–6, DER `UTF8String` for 8–24.
    pub fn encoding(self) -> ValueEncoding {
        if self.number() <= 6 {
            ValueEncoding::Raw
        } else {
            ValueEncoding::DerUtf8String
        }
    }

    /// The bytes that go into the extension's `extnValue` octet string.
    pub fn encode_value(self, value: &str) -> Result<Vec<u8>, FulcioError> {
        match self.encoding() {
            ValueEncoding::Raw => Ok(value.as_bytes().to_vec()),
            ValueEncoding::DerUtf8String => Utf8StringRef::new(value)
                .and_then(|s| s.to_der())
                .map_err(FulcioError::Encode),
        }
    }

    /// Decodes the contents of the extension's `extnValue` octet string.
    pub fn decode_value(self, bytes: &[u8]) -> Result<String, FulcioError> {
        match self.encoding() {
            ValueEncoding::Raw => std::str::from_utf8(bytes)
                .map(str::to_owned)
                .map_err(|_| FulcioError::NotUtf8 { oid: self.oid() }),
            ValueEncoding::DerUtf8String => Utf8StringRef::from_der(bytes)
                .map(|s| s.as_str().to_owned())
                .map_err(|source| FulcioError::Extension {
                    oid: self.oid(),
                    source,
                }),
        }
    }
}

/// The subject alternative name forms Fulcio issues (exactly one per leaf, critical).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SubjectAltName {
    /// `rfc822Name`: email identities.
    Email(String),
    /// `uniformResourceIdentifier`: CI workflows, SPIFFE IDs, URI issuers.
    Uri(String),
    /// `otherName` with type-id `1.3.6.1.4.1.57264.1.7` and a UTF8String `user!domain`.
    OtherName(String),
    /// `dNSName`: never issued by Fulcio, kept so that a verifier can report it.
    Dns(String),
}

impl SubjectAltName {
    /// The identity string a policy matches against.
    pub fn value(&self) -> &str {
        match self {
            SubjectAltName::Email(s)
            | SubjectAltName::Uri(s)
            | SubjectAltName::OtherName(s)
            | SubjectAltName::Dns(s) => s,
        }
    }
}

/// The fields of the deprecated GitHub extensions (OIDs 2–6) that
/// `cosign verify --certificate-github-workflow-*` matches.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GithubWorkflow {
    pub trigger: Option<String>,
    pub sha: Option<String>,
    pub name: Option<String>,
    pub repository: Option<String>,
    pub git_ref: Option<String>,
}

/// Who a Fulcio leaf certifies: its SANs, OIDC issuer and Sigstore extensions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateIdentity {
    /// The identity a verifier matches: the first URI SAN, else the first email, else the
    /// first OtherName (sigstore-go's order).
    pub san: SubjectAltName,
    /// Every SAN, in certificate order.
    pub sans: Vec<SubjectAltName>,
    /// Extension 8, falling back to the deprecated extension 1.
    pub issuer: Option<String>,
    /// Every Fulcio extension found, decoded.
    pub extensions: BTreeMap<Extension, String>,
    /// Extensions 2–6.
    pub github_workflow: GithubWorkflow,
}

impl CertificateIdentity {
    /// Extracts the identity from a DER certificate. Does not check any signature: callers
    /// verify the chain first.
    pub fn from_der(der: &[u8]) -> Result<Self, FulcioError> {
        let cert = Certificate::from_der(der).map_err(FulcioError::Certificate)?;
        Self::from_certificate(&cert)
    }

    /// As [`CertificateIdentity::from_der`], for an already parsed certificate.
    pub fn from_certificate(cert: &Certificate) -> Result<Self, FulcioError> {
        let exts = cert
            .tbs_certificate
            .extensions
            .as_deref()
            .unwrap_or_default();
        let san_exts: Vec<_> = exts
            .iter()
            .filter(|e| e.extn_id == SUBJECT_ALT_NAME_OID)
            .collect();
        let san_ext = match san_exts.as_slice() {
            [] => return Err(FulcioError::NoSubjectAltName),
            [one] => one,
            many => return Err(FulcioError::DuplicateSubjectAltName(many.len())),
        };
        let names =
            X509SubjectAltName::from_der(san_ext.extn_value.as_bytes()).map_err(|source| {
                FulcioError::Extension {
                    oid: SUBJECT_ALT_NAME_OID,
                    source,
                }
            })?;
        let mut sans = Vec::new();
        for name in names.0 {
            match name {
                GeneralName::Rfc822Name(s) => sans.push(SubjectAltName::Email(s.to_string())),
                GeneralName::UniformResourceIdentifier(s) => {
                    sans.push(SubjectAltName::Uri(s.to_string()))
                }
                GeneralName::DnsName(s) => sans.push(SubjectAltName::Dns(s.to_string())),
                GeneralName::OtherName(other) if other.type_id == OTHER_NAME_SAN_OID => {
                    let value = other.value.decode_as::<String>().map_err(|source| {
                        FulcioError::Extension {
                            oid: OTHER_NAME_SAN_OID,
                            source,
                        }
                    })?;
                    sans.push(SubjectAltName::OtherName(value));
                }
                // Other forms (IP addresses, directory names…) are never issued by Fulcio and
                // never matched by verifiers.
                _ => {}
            }
        }
        let pick = |f: fn(&SubjectAltName) -> bool| sans.iter().find(|s| f(s)).cloned();
        let san = pick(|s| matches!(s, SubjectAltName::Uri(_)))
            .or_else(|| pick(|s| matches!(s, SubjectAltName::Email(_))))
            .or_else(|| pick(|s| matches!(s, SubjectAltName::OtherName(_))))
            .ok_or(FulcioError::NoSubjectAltName)?;

        let mut extensions = BTreeMap::new();
        for ext in exts {
            if let Some(known) = Extension::from_oid(&ext.extn_id) {
                extensions.insert(known, known.decode_value(ext.extn_value.as_bytes())?);
            }
        }
        let issuer = extensions
            .get(&Extension::IssuerV2)
            .or_else(|| extensions.get(&Extension::Issuer))
            .cloned();
        let get = |e: Extension| extensions.get(&e).cloned();
        let github_workflow = GithubWorkflow {
            trigger: get(Extension::GithubWorkflowTrigger),
            sha: get(Extension::GithubWorkflowSha),
            name: get(Extension::GithubWorkflowName),
            repository: get(Extension::GithubWorkflowRepository),
            git_ref: get(Extension::GithubWorkflowRef),
        };
        Ok(CertificateIdentity {
            san,
            sans,
            issuer,
            extensions,
            github_workflow,
        })
    }

    /// The decoded value of one extension, if present.
    pub fn get(&self, ext: Extension) -> Option<&str> {
        self.extensions.get(&ext).map(String::as_str)
    }
}

// ---------------------------------------------------------------------------------------------
// RFC 6962 signed certificate timestamps.

/// RFC 5246 `HashAlgorithm.sha256`.
pub const HASH_SHA256: u8 = 4;
/// RFC 5246 `SignatureAlgorithm.ecdsa`.
pub const SIGNATURE_ECDSA: u8 = 3;

/// An RFC 6962 v1 `SignedCertificateTimestamp`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedCertificateTimestamp {
    /// SHA-256 of the log's SubjectPublicKeyInfo DER.
    pub log_id: [u8; 32],
    /// Milliseconds since the Unix epoch.
    pub timestamp: u64,
    /// `CtExtensions` (opaque, usually empty; non-empty for static-CT logs).
    pub extensions: Vec<u8>,
    pub hash_algorithm: u8,
    pub signature_algorithm: u8,
    /// The signature bytes (DER ECDSA for ECDSA logs).
    pub signature: Vec<u8>,
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], FulcioError> {
        if self.0.len() < n {
            return Err(FulcioError::MalformedSct("truncated"));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, FulcioError> {
        self.take(1)?
            .first()
            .copied()
            .ok_or(FulcioError::MalformedSct("truncated"))
    }
    fn u16(&mut self) -> Result<usize, FulcioError> {
        Ok(self
            .take(2)?
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b)))
    }
    fn u64(&mut self) -> Result<u64, FulcioError> {
        Ok(self
            .take(8)?
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }
    fn vec16(&mut self) -> Result<&'a [u8], FulcioError> {
        let n = self.u16()?;
        self.take(n)
    }
}

fn push_vec16(out: &mut Vec<u8>, data: &[u8]) -> Result<(), FulcioError> {
    let len = u16::try_from(data.len())
        .map_err(|_| FulcioError::MalformedSct("field over 65535 bytes"))?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(data);
    Ok(())
}

impl SignedCertificateTimestamp {
    /// The TLS encoding of RFC 6962 §3.2 (`SerializedSCT` without its length prefix).
    pub fn to_bytes(&self) -> Result<Vec<u8>, FulcioError> {
        let mut out = Vec::with_capacity(47 + self.extensions.len() + self.signature.len());
        out.push(0); // sct_version v1
        out.extend_from_slice(&self.log_id);
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        push_vec16(&mut out, &self.extensions)?;
        out.push(self.hash_algorithm);
        out.push(self.signature_algorithm);
        push_vec16(&mut out, &self.signature)?;
        Ok(out)
    }

    /// Parses one SCT; only v1 exists.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, FulcioError> {
        let mut r = Reader(bytes);
        if r.u8()? != 0 {
            return Err(FulcioError::MalformedSct("unsupported SCT version"));
        }
        let mut log_id = [0u8; 32];
        log_id.copy_from_slice(r.take(32)?);
        let timestamp = r.u64()?;
        let extensions = r.vec16()?.to_vec();
        let hash_algorithm = r.u8()?;
        let signature_algorithm = r.u8()?;
        let signature = r.vec16()?.to_vec();
        if !r.0.is_empty() {
            return Err(FulcioError::MalformedSct("trailing bytes"));
        }
        Ok(Self {
            log_id,
            timestamp,
            extensions,
            hash_algorithm,
            signature_algorithm,
            signature,
        })
    }

    /// The `DigitallySigned` encoding (hash alg, sig alg, length-prefixed signature) that
    /// `/ct/v1/add-pre-chain` returns in its `signature` field.
    pub fn digitally_signed(&self) -> Result<Vec<u8>, FulcioError> {
        let mut out = vec![self.hash_algorithm, self.signature_algorithm];
        push_vec16(&mut out, &self.signature)?;
        Ok(out)
    }

    /// Parses the `DigitallySigned` encoding into (hash alg, sig alg, signature).
    pub fn parse_digitally_signed(bytes: &[u8]) -> Result<(u8, u8, Vec<u8>), FulcioError> {
        let mut r = Reader(bytes);
        let (h, s) = (r.u8()?, r.u8()?);
        let sig = r.vec16()?.to_vec();
        if !r.0.is_empty() {
            return Err(FulcioError::MalformedSct("trailing bytes"));
        }
        Ok((h, s, sig))
    }
}

/// RFC 6962 §3.3: the `SignedCertificateTimestampList` as TLS bytes.
pub fn encode_sct_list(scts: &[SignedCertificateTimestamp]) -> Result<Vec<u8>, FulcioError> {
    let mut body = Vec::new();
    for sct in scts {
        push_vec16(&mut body, &sct.to_bytes()?)?;
    }
    let mut out = Vec::with_capacity(body.len() + 2);
    push_vec16(&mut out, &body)?;
    Ok(out)
}

/// The contents of the SCT list extension's `extnValue`: a DER OCTET STRING wrapping the TLS
/// list (RFC 6962 §3.3 encodes the list "as an OCTET STRING" inside the extension value).
pub fn sct_list_extension_value(
    scts: &[SignedCertificateTimestamp],
) -> Result<Vec<u8>, FulcioError> {
    OctetString::new(encode_sct_list(scts)?)
        .and_then(|o| o.to_der())
        .map_err(FulcioError::Encode)
}

/// Parses a TLS `SignedCertificateTimestampList`.
pub fn decode_sct_list(bytes: &[u8]) -> Result<Vec<SignedCertificateTimestamp>, FulcioError> {
    let mut outer = Reader(bytes);
    let mut list = Reader(outer.vec16()?);
    if !outer.0.is_empty() {
        return Err(FulcioError::MalformedSct("trailing bytes after SCT list"));
    }
    let mut scts = Vec::new();
    while !list.0.is_empty() {
        scts.push(SignedCertificateTimestamp::from_bytes(list.vec16()?)?);
    }
    Ok(scts)
}

/// The SCTs embedded in a leaf (empty if it has none).
pub fn embedded_scts(leaf: &Certificate) -> Result<Vec<SignedCertificateTimestamp>, FulcioError> {
    let exts = leaf
        .tbs_certificate
        .extensions
        .as_deref()
        .unwrap_or_default();
    let Some(ext) = exts.iter().find(|e| e.extn_id == SCT_LIST_OID) else {
        return Ok(Vec::new());
    };
    let inner = OctetString::from_der(ext.extn_value.as_bytes()).map_err(|source| {
        FulcioError::Extension {
            oid: SCT_LIST_OID,
            source,
        }
    })?;
    decode_sct_list(inner.as_bytes())
}

/// The DER TBSCertificate a CT log signs for this certificate: the TBS with the poison and
/// SCT list extensions removed (RFC 6962 §3.2; ct-go `x509.BuildPrecertTBS`, which removes
/// both). Works on a precertificate (CA side) and on a final leaf (verifier side).
pub fn precert_tbs(cert: &Certificate) -> Result<Vec<u8>, FulcioError> {
    let mut tbs = cert.tbs_certificate.clone();
    if let Some(exts) = tbs.extensions.as_mut() {
        exts.retain(|e| e.extn_id != SCT_LIST_OID && e.extn_id != PRECERT_POISON_OID);
        if exts.is_empty() {
            tbs.extensions = None;
        }
    }
    tbs.to_der().map_err(FulcioError::Encode)
}

/// The RFC 6962 §3.2 `digitally-signed` struct of a precert entry: what the log signs.
pub fn precert_signed_data(
    timestamp: u64,
    issuer_key_hash: &[u8; 32],
    tbs_der: &[u8],
    extensions: &[u8],
) -> Result<Vec<u8>, FulcioError> {
    let mut out = Vec::with_capacity(48 + tbs_der.len() + extensions.len());
    out.push(0); // sct_version v1
    out.push(0); // signature_type certificate_timestamp
    out.extend_from_slice(&timestamp.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes()); // entry_type precert_entry
    out.extend_from_slice(issuer_key_hash);
    let len = u32::try_from(tbs_der.len())
        .ok()
        .filter(|l| *l < (1 << 24))
        .ok_or(FulcioError::MalformedSct("TBSCertificate over 2^24 bytes"))?;
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.extend_from_slice(tbs_der);
    push_vec16(&mut out, extensions)?;
    Ok(out)
}

/// SHA-256 of a SubjectPublicKeyInfo DER: a CT log id, or an issuer key hash.
pub fn key_hash(spki_der: &[u8]) -> [u8; 32] {
    Sha256::digest(spki_der).into()
}

/// Verifies that `leaf` carries a valid embedded SCT from the log whose SubjectPublicKeyInfo
/// is `log_key_spki`, with `issuer_spki` the SubjectPublicKeyInfo of the leaf's issuer.
/// Returns the verified SCT. Only ECDSA P-256/SHA-256 logs exist in Sigstore's trust roots;
/// other key types are refused rather than skipped.
pub fn verify_embedded_sct(
    leaf: &Certificate,
    issuer_spki: &[u8],
    log_key_spki: &[u8],
) -> Result<SignedCertificateTimestamp, FulcioError> {
    let scts = embedded_scts(leaf)?;
    if scts.is_empty() {
        return Err(FulcioError::NoSct);
    }
    let log_id = key_hash(log_key_spki);
    let log_id_b64 = base64_std(&log_id);
    let spki = spki::SubjectPublicKeyInfoRef::from_der(log_key_spki)
        .map_err(|_| FulcioError::UnsupportedLogKey("malformed SubjectPublicKeyInfo"))?;
    let ec_p256 = spki.algorithm.oid == ObjectIdentifier::new_unwrap("1.2.840.10045.2.1")
        && spki.algorithm.parameters_oid().ok()
            == Some(ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7"));
    if !ec_p256 {
        return Err(FulcioError::UnsupportedLogKey(
            "only ECDSA P-256 CT log keys are supported",
        ));
    }
    let key = ring::signature::UnparsedPublicKey::new(
        &ring::signature::ECDSA_P256_SHA256_ASN1,
        spki.subject_public_key.raw_bytes(),
    );
    let tbs = precert_tbs(leaf)?;
    let issuer_key_hash = key_hash(issuer_spki);
    let mut found = false;
    for sct in scts {
        if sct.log_id != log_id {
            continue;
        }
        found = true;
        if sct.hash_algorithm != HASH_SHA256 || sct.signature_algorithm != SIGNATURE_ECDSA {
            continue;
        }
        let signed = precert_signed_data(sct.timestamp, &issuer_key_hash, &tbs, &sct.extensions)?;
        if key.verify(&signed, &sct.signature).is_ok() {
            return Ok(sct);
        }
    }
    if found {
        Err(FulcioError::BadSctSignature { log_id: log_id_b64 })
    } else {
        Err(FulcioError::NoSctFromLog { log_id: log_id_b64 })
    }
}

fn base64_std(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn oids_and_encodings() {
        assert_eq!(Extension::ALL.len(), 23);
        assert_eq!(
            Extension::IssuerV2.oid().to_string(),
            "1.3.6.1.4.1.57264.1.8"
        );
        assert_eq!(
            Extension::TokenSubject.oid().to_string(),
            "1.3.6.1.4.1.57264.1.24"
        );
        assert_eq!(
            Extension::from_oid(&Extension::BuildTrigger.oid()),
            Some(Extension::BuildTrigger)
        );
        assert_eq!(Extension::from_oid(&OTHER_NAME_SAN_OID), None);
        assert_eq!(Extension::Issuer.encode_value("abc").unwrap(), b"abc");
        assert_eq!(
            Extension::IssuerV2.encode_value("abc").unwrap(),
            [0x0c, 3, b'a', b'b', b'c']
        );
        for ext in Extension::ALL {
            let enc = ext.encode_value("https://example.com/é").unwrap();
            assert_eq!(ext.decode_value(&enc).unwrap(), "https://example.com/é");
        }
        // A raw value is not a DER UTF8String, and a non-UTF-8 raw value is refused.
        assert!(Extension::IssuerV2.decode_value(b"abc").is_err());
        assert!(Extension::Issuer.decode_value(&[0xff, 0xfe]).is_err());
    }

    #[test]
    fn sct_round_trip_and_truncation() {
        let sct = SignedCertificateTimestamp {
            log_id: [7; 32],
            timestamp: 1_700_000_000_123,
            extensions: vec![1, 2],
            hash_algorithm: HASH_SHA256,
            signature_algorithm: SIGNATURE_ECDSA,
            signature: vec![9; 70],
        };
        let list = encode_sct_list(std::slice::from_ref(&sct)).unwrap();
        assert_eq!(decode_sct_list(&list).unwrap(), vec![sct]);
        for cut in 0..list.len() {
            assert!(decode_sct_list(&list[..cut]).is_err(), "cut at {cut}");
        }
    }
}
